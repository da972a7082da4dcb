// Every summary the tests see is checked against the schema consumers get: the
// shipped file (schemas/summary-v1.schema.json, read from disk, not regenerated,
// so a stale file fails here too) through ajv, and the strict zod schema, which
// also refuses fields the document does not list. Capture points call
// noteSummary (or wrap their StepLogger in summaryCheckingLog); the setup file
// (summary-check-setup.ts) fails the test that produced a summary with problems.
// Jest gives each test file one module registry, shared by its setup files, so
// the problems recorded here are the ones the setup file takes.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { StepLogger } from '../../src/core/ports.ts';
import { summarySchema } from '../../src/core/summary/schema.ts';

export const SHIPPED_SUMMARY_SCHEMA = new URL('../../schemas/summary-v1.schema.json', import.meta.url);

// ajv-formats is CommonJS: under ESM its default import is module.exports, which carries the plugin as .default too.
const addFormats = addFormatsModule.default;

/** A strict ajv (as a careful consumer would run it) with the formats the schema uses. */
export function summaryAjv(): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
}

// Compiled on the first summary: the setup file loads this module into every test file, most of which note none.
let compiled: ValidateFunction | undefined;
const shippedValidator = () => (compiled ??= summaryAjv().compile(JSON.parse(readFileSync(SHIPPED_SUMMARY_SCHEMA, 'utf8'))));

/** What is wrong with the value as a summary: the shipped JSON Schema's errors, then the strict zod schema's. */
export function checkSummary(value: unknown): string[] {
  const problems: string[] = [];
  const validateShipped = shippedValidator();
  if (!validateShipped(value)) {
    for (const e of validateShipped.errors ?? []) problems.push(`schema: ${e.instancePath || '/'} ${e.message ?? e.keyword}`);
  }
  const parsed = summarySchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`zod: /${issue.path.join('/')} ${issue.message}`);
  }
  return problems;
}

let recorded: string[] = [];

/** Checks the value and records its problems, each prefixed by where the summary came from; returns the value, for capture points. */
export function noteSummary<T>(value: T, where = 'a summary'): T {
  for (const problem of checkSummary(value)) recorded.push(`${where}: ${problem}`);
  return value;
}

/** Notes the summary a parsed JSON log line carries (step `summary`); returns the line, for capture points. */
export function noteSummaryLine<T>(line: T, where = 'summary log line'): T {
  const fields = line as { step?: unknown; summary?: unknown } | null;
  if (fields?.step === 'summary' && fields.summary !== undefined) noteSummary(fields.summary, where);
  return line;
}

/** Passes every line on, and notes the summary each `summary` step line carries. */
export function summaryCheckingLog(inner: StepLogger, where = 'summary log line'): StepLogger {
  return {
    log(severity, step, message, fields) {
      if (step === 'summary' && fields?.summary !== undefined) noteSummary(fields.summary, where);
      inner.log(severity, step, message, fields);
    },
  };
}

/** The problems recorded since the last call, and forgets them. */
export function takeSummaryProblems(): string[] {
  const out = recorded;
  recorded = [];
  return out;
}
