// `scc-responder test-policy POLICY DIR`: policy unit tests a team keeps in its
// own repository. Each finding (`NAME.json`) runs through the plan and is
// compared with what `NAME.expect.yaml` beside it says: the decision, the rule
// or exception, the actions. Pure: the CLI reads the files.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import * as z from 'zod';
import { decodeInput } from '../finding/envelope.ts';
import { plan as makePlan } from '../plan/plan.ts';
import { ACTION_ORDER, type ActionType, type Policy } from './policy.ts';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export const expectationSchema = z.strictObject({
  decision: z.enum(['respond', 'ignore']),
  /** The matching rule's name; null: none. Left out: not checked. */
  rule: z.string().min(1).nullable().optional(),
  /** The matching exception's name; null: none. Left out: not checked. */
  exception: z.string().min(1).nullable().optional(),
  /** The planned actions, in any order ([] for none). Left out: not checked. */
  actions: z.array(z.enum(ACTION_ORDER)).optional(),
  dryRun: z.boolean().optional(),
  /** The time to plan at (RFC 3339), so an expiring exception's test stays true; default: the runner's. */
  now: z
    .string()
    .refine((v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)), 'an RFC 3339 time such as 2026-11-20T14:05:00Z')
    .optional(),
  /** For the reader; not checked. */
  description: z.string().optional(),
});

export type Expectation = z.output<typeof expectationSchema>;

export class ExpectationError extends Error {
  override readonly name = 'ExpectationError';
}

/** Parses an `*.expect.yaml` text; throws ExpectationError naming the field. */
export function parseExpectation(text: string, source: string): Expectation {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, maxAliasCount: 16 });
  } catch (e) {
    const message = e instanceof YAMLParseError ? (e.message.split('\n')[0] ?? e.message) : String(e);
    throw new ExpectationError(`${source}: YAML: ${message}`);
  }
  const parsed = expectationSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : `${i.path.join('.') || '(top level)'}: ${i.message}`,
    );
    throw new ExpectationError(`${source}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export interface PolicyTestCase {
  name: string;
  /** The finding JSON as read, in any shape the CLI accepts; undefined when it could not be read. */
  finding: unknown;
  expect: Expectation | null;
  /** Why the case cannot run (unreadable finding, no or bad expect file). */
  error?: string;
}

export interface PolicyTestResult {
  name: string;
  passed: boolean;
  got: { decision: string; rule: string | null; exception: string | null; actions: ActionType[]; dryRun: boolean } | null;
  differences: string[];
}

const inOrder = (actions: readonly ActionType[]) => ACTION_ORDER.filter((a) => actions.includes(a));

export function runPolicyTest(c: PolicyTestCase, policy: Policy, now: Date, options: { forceDryRun?: boolean } = {}): PolicyTestResult {
  if (c.error !== undefined || c.expect === null) return { name: c.name, passed: false, got: null, differences: [c.error ?? 'no expectation'] };
  let p;
  try {
    p = makePlan(decodeInput(c.finding), policy, c.expect.now ? new Date(c.expect.now) : now, options);
  } catch (error) {
    return { name: c.name, passed: false, got: null, differences: [`the finding does not decode: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const got = { decision: p.decision, rule: p.rule, exception: p.exception?.name ?? null, actions: p.actions.map((a) => a.type), dryRun: p.dryRun };
  const want = c.expect;
  const differences: string[] = [];
  const differ = (field: string, expected: unknown, actual: unknown) => {
    if (JSON.stringify(expected) !== JSON.stringify(actual)) differences.push(`${field}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  };
  differ('decision', want.decision, got.decision);
  if (want.rule !== undefined) differ('rule', want.rule, got.rule);
  if (want.exception !== undefined) differ('exception', want.exception, got.exception);
  if (want.actions !== undefined) differ('actions', inOrder(want.actions), inOrder(got.actions));
  if (want.dryRun !== undefined) differ('dryRun', want.dryRun, got.dryRun);
  return { name: c.name, passed: differences.length === 0, got, differences };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The results as a table, one row per case, differences below each failing row, and a count. */
export function renderPolicyTestTable(results: readonly PolicyTestResult[]): string {
  const rows = results.map((r) => [
    r.name,
    r.got?.decision ?? '-',
    r.got === null ? '-' : r.got.exception !== null ? `exception ${r.got.exception}` : r.got.rule !== null ? `rule ${r.got.rule}` : '(none)',
    r.got === null ? '-' : r.got.actions.length ? r.got.actions.join(',') : '(none)',
    r.passed ? 'ok' : 'FAIL',
  ]);
  const header = ['case', 'decision', 'rule / exception', 'actions', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!))).join('  ');
  const out = [line(header)];
  results.forEach((r, i) => {
    out.push(line(rows[i]!));
    for (const d of r.differences) out.push(`    ${d}`);
  });
  const failed = results.filter((r) => !r.passed).length;
  out.push('', `${results.length} case${results.length === 1 ? '' : 's'}: ${results.length - failed} passed, ${failed} failed`);
  return out.join('\n') + '\n';
}
