// The log-based metrics, alerts and dashboard of terraform/monitoring.tf against
// the log lines the code really writes. Neither side is written down here: the
// filters, extractors and alert conditions come from the HCL (@cdktf/hcl2json,
// references resolved the way Terraform would), the lines from running the real
// pipeline (handleInput, the real jsonLineLogger at the stack's default
// LOG_LEVEL) through scenarios with in-memory dependencies. A small evaluator
// for the subset of the Logging query language the stack uses then says which
// lines each metric counts, and the test compares that with what each scenario
// did (its result, not its log lines).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { PermanentError, TransientError } from '../src/core/errors.ts';
import type { ActionOutcome } from '../src/core/plan/outcome.ts';
import { validatePolicy, type ActionType } from '../src/core/policy/policy.ts';
import type { Budget, ClusterResponder, Ledger, LedgerClaim, Severity, SummarySink } from '../src/core/ports.ts';
import { jsonLineLogger } from '../src/log.ts';
import { handleInput, type PipelineDeps, type PipelineResult } from '../src/pipeline/respond.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryCheckingLog } from './support/summary-check.ts';

const ROOT = join(import.meta.dirname, '..');
const TF_DIR = join(ROOT, 'terraform');

type Block = Record<string, any>;
interface Stack {
  resource: Record<string, Record<string, Block[]>>;
  variable: Record<string, Block[]>;
  locals: Record<string, unknown>;
}

async function loadStack(): Promise<Stack> {
  const stack: Stack = { resource: {}, variable: {}, locals: {} };
  for (const file of readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort()) {
    const doc = await parse(file, readFileSync(join(TF_DIR, file), 'utf8'));
    for (const [type, byName] of Object.entries<Record<string, Block[]>>(doc.resource ?? {})) stack.resource[type] = { ...stack.resource[type], ...byName };
    Object.assign(stack.variable, doc.variable ?? {});
    for (const locals of doc.locals ?? []) Object.assign(stack.locals, locals);
  }
  return stack;
}

function tfConsole(module: string, vars: Record<string, string>, input: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'scc-tf-metrics-'));
  try {
    writeFileSync(join(dir, 'main.tf'), module);
    writeFileSync(join(dir, 'terraformrc'), '');
    const env = { ...process.env, TF_DATA_DIR: join(dir, 'data'), TF_CLI_CONFIG_FILE: join(dir, 'terraformrc'), TF_IN_AUTOMATION: '1', NO_COLOR: '1' };
    const args = [`-chdir=${dir}`, 'console', ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`])];
    const result = spawnSync('terraform', args, { env, input: `${input}\n`, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`terraform console failed: ${result.stdout}${result.stderr}`);
    return result.stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The expression inside a "${...}" string hcl2json produced. */
function expression(value: unknown): string {
  const text = String(value);
  if (!text.startsWith('${') || !text.endsWith('}')) throw new Error(`not a single expression: ${text}`);
  return text.slice(2, -1);
}

// ---------------------------------------------------------------- references, as Terraform resolves them

interface Resolver {
  /** A template string with every interpolation replaced by its value. */
  string(template: unknown): string;
  /** A local (string, or object of strings), resolved. */
  local(name: string): unknown;
  vars: Record<string, string>;
}

function resolver(stack: Stack, computed: Record<string, string>): Resolver {
  const vars = Object.fromEntries(
    Object.entries(stack.variable)
      .filter(([, [v]]) => typeof v!.default === 'string')
      .map(([name, [v]]) => [name, v!.default as string]),
  );
  const lookup = (ref: string): string => {
    if (ref in computed) return computed[ref]!;
    const v = /^var\.([a-z0-9_]+)$/.exec(ref);
    if (v) {
      if (!(v[1]! in vars)) throw new Error(`${ref} has no string default`);
      return vars[v[1]!]!;
    }
    const metric = /^google_logging_metric\.([a-z0-9_]+)\.name$/.exec(ref);
    if (metric) return resolve(only(stack, 'google_logging_metric', metric[1]!).name);
    const local = /^local\.([a-z0-9_]+)((?:\.[a-z0-9_]+)*)$/.exec(ref);
    if (local) {
      let value: unknown = stack.locals[local[1]!];
      for (const key of local[2]!.split('.').slice(1)) value = (value as Record<string, unknown> | undefined)?.[key];
      if (typeof value !== 'string') throw new Error(`${ref} is not a string local`);
      return resolve(value);
    }
    throw new Error(`cannot resolve \${${ref}} offline`);
  };
  const resolve = (template: unknown): string => {
    if (typeof template !== 'string') throw new Error(`not a string: ${JSON.stringify(template)}`);
    return template.replace(/\$\{([^{}]+)\}/g, (_, ref: string) => lookup(ref.trim()));
  };
  const resolveValue = (value: unknown): unknown =>
    typeof value === 'string' ? resolve(value) : Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, resolveValue(v)]));
  return { string: resolve, local: (name) => resolveValue(stack.locals[name]), vars };
}

function only(stack: Stack, type: string, name: string): Block {
  const blocks = stack.resource[type]?.[name];
  if (!blocks || blocks.length !== 1) throw new Error(`expected one ${type}.${name}`);
  return blocks[0]!;
}

// ---------------------------------------------------------------- the Logging query language, the part the stack uses

// Comparisons `path = value` (strings compare case-insensitively, as the Logging
// docs say; `true`/`false` and numbers compare with booleans and numbers) and
// `path =~ "RE2"`; NOT, AND, OR and parentheses. OR binds tighter than AND (the
// Logging grammar: `a OR NOT b AND c` is `(a OR (NOT b)) AND c`). A comparison on
// a field the entry lacks is false, so NOT of it is true. Anything else (implicit
// AND, `:`, `!=`, functions, global text search) is refused rather than guessed.
type Node =
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'not'; item: Node }
  | { kind: 'cmp'; path: string[]; op: '=' | '=~'; value: string | number | boolean; quoted: boolean };

type Token = { t: 'word'; v: string } | { t: 'str'; v: string } | { t: 'op'; v: string } | { t: '(' | ')' };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ t: c });
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        v += text[i++];
      }
      if (text[i] !== '"') throw new Error(`unterminated string in ${text}`);
      i++;
      out.push({ t: 'str', v });
    } else if (text.startsWith('=~', i) || text.startsWith('!~', i) || text.startsWith('!=', i) || text.startsWith('>=', i) || text.startsWith('<=', i)) {
      out.push({ t: 'op', v: text.slice(i, i + 2) });
      i += 2;
    } else if ('=:<>'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
    } else {
      const m = /^[A-Za-z0-9_.@-]+/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected ${JSON.stringify(c)} in ${text}`);
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

function parseQuery(text: string): Node {
  const tokens = tokenize(text);
  let pos = 0;
  const peekWord = (w: string) => tokens[pos]?.t === 'word' && (tokens[pos] as { v: string }).v === w;
  const conj = (): Node => {
    const items = [disj()];
    while (peekWord('AND')) {
      pos++;
      items.push(disj());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  const disj = (): Node => {
    const items = [unary()];
    while (peekWord('OR')) {
      pos++;
      items.push(unary());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  };
  const unary = (): Node => {
    if (peekWord('NOT')) {
      pos++;
      return { kind: 'not', item: unary() };
    }
    const token = tokens[pos++];
    if (token?.t === '(') {
      const inner = conj();
      if (tokens[pos++]?.t !== ')') throw new Error(`missing ) in ${text}`);
      return inner;
    }
    if (token?.t !== 'word' || ['AND', 'OR', 'NOT'].includes(token.v)) throw new Error(`expected a field at token ${pos} of ${text}`);
    const op = tokens[pos++];
    if (op?.t !== 'op' || (op.v !== '=' && op.v !== '=~')) throw new Error(`unsupported operator ${JSON.stringify(op)} in ${text}`);
    const value = tokens[pos++];
    if (value?.t === 'str') return { kind: 'cmp', path: token.v.split('.'), op: op.v, value: value.v, quoted: true };
    if (value?.t === 'word' && op.v === '=' && /^(true|false|-?\d+(\.\d+)?)$/.test(value.v)) {
      const literal = value.v === 'true' ? true : value.v === 'false' ? false : Number(value.v);
      return { kind: 'cmp', path: token.v.split('.'), op: '=', value: literal, quoted: false };
    }
    throw new Error(`unsupported value ${JSON.stringify(value)} in ${text}`);
  };
  const tree = conj();
  if (pos !== tokens.length) throw new Error(`unparsed rest (implicit AND is not supported here) in ${text}: ${JSON.stringify(tokens.slice(pos))}`);
  return tree;
}

function fieldAt(entry: unknown, path: readonly string[]): unknown {
  let value: unknown = entry;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function matches(node: Node, entry: unknown): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((n) => matches(n, entry));
    case 'or':
      return node.items.some((n) => matches(n, entry));
    case 'not':
      return !matches(node.item, entry);
    case 'cmp': {
      const field = fieldAt(entry, node.path);
      if (field === undefined || field === null || typeof field === 'object') return false;
      if (node.op === '=~') return new RegExp(String(node.value)).test(String(field));
      if (node.quoted) return typeof field === 'string' && field.toLowerCase() === String(node.value).toLowerCase();
      return field === node.value;
    }
  }
}

/** EXTRACT(field) or REGEXP_EXTRACT(field, "re with one group"): the value a label or a distribution gets. */
function extract(extractor: string, entry: unknown): unknown {
  const plain = /^EXTRACT\(\s*([A-Za-z0-9_.]+)\s*\)$/.exec(extractor);
  if (plain) return fieldAt(entry, plain[1]!.split('.'));
  const re = /^REGEXP_EXTRACT\(\s*([A-Za-z0-9_.]+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)$/.exec(extractor);
  if (!re) throw new Error(`unsupported extractor: ${extractor}`);
  const pattern = new RegExp(re[2]!.replace(/\\(["\\])/g, '$1'));
  // The API refuses a regex without exactly one capture group.
  if (new RegExp(`${pattern.source}|`).exec('')!.length !== 2) throw new Error(`${extractor}: needs exactly one capture group`);
  const field = fieldAt(entry, re[1]!.split('.'));
  return field === undefined ? undefined : pattern.exec(String(field))?.[1];
}

// ---------------------------------------------------------------- log lines as Cloud Logging stores them

interface LogEntry {
  severity: string;
  resource: { type: string; labels: Record<string, string> };
  jsonPayload: Record<string, unknown>;
}

/**
 * A JSON line on a Cloud Run function's stdout, as Cloud Logging stores it: the
 * object becomes jsonPayload, `severity` moves to the entry (and leaves the
 * payload), and the entry's resource is the function's Cloud Run revision.
 */
function asLogEntry(line: string, resource: LogEntry['resource']): LogEntry {
  const { severity, ...jsonPayload } = JSON.parse(line) as Record<string, unknown>;
  return { severity: String(severity), resource, jsonPayload };
}

// ---------------------------------------------------------------- scenarios: the real pipeline, in-memory dependencies

const CONTAINMENT_MS = 1_234;

interface Scenario {
  name: string;
  input: () => unknown;
  actions?: ActionType[];
  dryRun?: boolean;
  /** What the fake cluster answers per action (default: done). */
  outcome?: Partial<Record<ActionType, Omit<ActionOutcome, 'type'>>>;
  /** Actions the blast-radius budget refuses. */
  budgetDenies?: ActionType[];
  /** A sink that refuses the summary for good. */
  failingSink?: string;
  /** The cluster is unreachable before any write (Pub/Sub redelivers). */
  transient?: boolean;
}

const outOfScope = () => {
  const n = structuredClone(notificationV1());
  n.finding.category = 'Added Binary Executed';
  return n;
};

const SCENARIOS: Scenario[] = [
  { name: 'out of scope', input: outOfScope },
  { name: 'malformed', input: () => ({ message: { data: Buffer.from('{not json').toString('base64') } }) },
  { name: 'contained', input: notificationV1, actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] },
  {
    name: 'an action failed',
    input: notificationV1,
    actions: ['label-pod', 'isolate-pod', 'delete-pod'],
    outcome: { 'delete-pod': { status: 'failed', reason: 'delete pod: HTTP 403 forbidden' } },
  },
  { name: 'budget exceeded', input: notificationV1, actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'], budgetDenies: ['cordon-node', 'delete-pod'] },
  { name: 'a sink failed', input: notificationV1, actions: ['label-pod'], failingSink: 'chat' },
  { name: 'dry-run', input: notificationV1, actions: ['label-pod', 'delete-pod'], dryRun: true },
  { name: 'report only', input: notificationV1, actions: [] },
  { name: 'transient before any write', input: notificationV1, actions: ['label-pod'], transient: true },
];

interface Run {
  scenario: Scenario;
  result: PipelineResult | null;
  lines: string[];
}

async function run(scenario: Scenario, logLevel: Severity): Promise<Run> {
  const lines: string[] = [];
  let clock = Date.parse('2026-11-20T14:03:32.000Z');
  const now = () => new Date(clock);
  const claim: LedgerClaim = { kind: 'acquired', token: 't', attempt: 1, previous: new Map(), summary: null, deliveries: {} };
  const ledger: Ledger = {
    claim: async () => claim,
    recordOutcomes: async () => {},
    recordSummary: async () => {},
    recordDelivery: async () => {},
    complete: async () => {},
    release: async () => {},
  };
  const budget: Budget = {
    reserve: async (request) => {
      const denied = new Map(request.actions.filter((a) => scenario.budgetDenies?.includes(a)).map((a) => [a, `budget: at most 0 ${a} per namespace in ${request.limits.windowMinutes} minutes`] as const));
      return { granted: request.actions.filter((a) => !denied.has(a)), denied };
    },
    refund: async () => {},
  };
  const responder: ClusterResponder = {
    contain: async (request) => {
      clock += CONTAINMENT_MS;
      if (scenario.transient) throw new TransientError('preflight: HTTP 503');
      // What run-plan does: a budget refusal stands, dry-run only says what it would do.
      const outcomes = request.plan.actions.map<ActionOutcome>((a) => {
        const denied = request.deniedByBudget.get(a.type);
        if (denied !== undefined) return { type: a.type, status: 'skipped', reason: denied };
        if (request.plan.dryRun) return { type: a.type, status: 'would', reason: `would ${a.type}` };
        return { type: a.type, status: 'done', reason: `${a.type} done`, ...scenario.outcome?.[a.type] };
      });
      for (const o of outcomes) await request.onOutcome?.(o);
      return { outcomes, snapshots: {}, warnings: [] };
    },
  };
  const sinks: SummarySink[] = [{ name: 'pubsub', deliver: async () => {} }];
  if (scenario.failingSink) {
    sinks.push({
      name: scenario.failingSink,
      deliver: async () => {
        throw new PermanentError('HTTP 404 no such webhook');
      },
    });
  }
  const deps: PipelineDeps = {
    policy: validatePolicy({ dryRun: scenario.dryRun === true, rules: [{ name: 'contain', actions: scenario.actions ?? [] }] }),
    now,
    log: summaryCheckingLog(jsonLineLogger((line) => void lines.push(line), logLevel)),
    clusterResponder: async () => responder,
    ledger: async () => ledger,
    budget: async () => budget,
    summarySinks: async () => sinks,
    sleep: async () => {},
  };
  let result: PipelineResult | null = null;
  try {
    result = await handleInput(scenario.input(), deps);
  } catch (error) {
    if (!(scenario.transient && error instanceof TransientError)) throw error;
  }
  return { scenario, result, lines };
}

// ---------------------------------------------------------------- the stack's metrics, evaluated

interface Metric {
  name: string;
  type: string;
  filter: Node;
  filterText: string;
  labels: string[];
  labelExtractors: Record<string, string>;
  valueType: string;
  valueExtractor: string | null;
}

/** One point a metric would record for one entry. */
interface Point {
  labels: Record<string, unknown>;
  value: unknown;
  entry: LogEntry;
}

function points(metric: Metric, entries: LogEntry[]): Point[] {
  return entries
    .filter((e) => matches(metric.filter, e))
    .map((entry) => ({
      labels: Object.fromEntries(Object.entries(metric.labelExtractors).map(([k, x]) => [k, extract(x, entry)])),
      value: metric.valueExtractor ? extract(metric.valueExtractor, entry) : 1,
      entry,
    }));
}

/** The time series a point lands in, as a Monitoring filter sees it. */
function series(metric: Metric, point: Point) {
  return { metric: { type: metric.type, label: point.labels }, resource: { type: point.entry.resource.type, label: point.entry.resource.labels } };
}

let stack: Stack;
let refs: Resolver;
let metrics: Map<string, Metric>;
let serviceName: string;
let runs: Run[];
let resource: LogEntry['resource'];
const entriesOf = (r: Run) => r.lines.map((line) => asLogEntry(line, resource));

beforeAll(async () => {
  stack = await loadStack();
  // The function's short service name, from the stack's own expression (the last part of
  // service_config[0].service, which for a gen2 function is its name).
  const functionName = resolver(stack, {}).string(stack.locals.function_name);
  const nameExpr = expression(stack.locals.function_service_name).replace('google_cloudfunctions2_function.responder.service_config[0].service', 'var.service');
  const out = tfConsole('variable "service" {}\n', { service: `projects/my-secops-project/locations/europe-west1/services/${functionName}` }, nameExpr);
  serviceName = JSON.parse(out) as string;
  refs = resolver(stack, { 'local.function_service_name': serviceName });
  metrics = new Map(
    Object.entries(stack.resource.google_logging_metric ?? {}).map(([key, [m]]) => {
      const descriptor = m!.metric_descriptor?.[0] ?? {};
      const filterText = refs.string(m!.filter);
      const name = refs.string(m!.name);
      return [
        key,
        {
          name,
          type: `logging.googleapis.com/user/${name}`,
          filter: parseQuery(filterText),
          filterText,
          labels: (descriptor.labels ?? []).map((l: Block) => l.key as string),
          labelExtractors: (m!.label_extractors ?? {}) as Record<string, string>,
          valueType: descriptor.value_type ?? 'INT64',
          valueExtractor: m!.value_extractor ?? null,
        },
      ];
    }),
  );
  resource = {
    type: 'cloud_run_revision',
    labels: { service_name: serviceName, revision_name: `${serviceName}-00001-abc`, location: 'europe-west1', project_id: 'my-secops-project', configuration_name: serviceName },
  };
  // The level the function logs at unless the deployer changes it.
  const logLevel = stack.variable.log_level![0]!.default as Severity;
  runs = [];
  for (const scenario of SCENARIOS) runs.push(await run(scenario, logLevel));
}, 60_000);

const metric = (key: string): Metric => {
  const m = metrics.get(key);
  if (!m) throw new Error(`no google_logging_metric.${key} in terraform/`);
  return m;
};

// ---------------------------------------------------------------- what each metric must count, from each run's result

const decoded = (r: Run) => r.scenario.name !== 'malformed';
const summaryOf = (r: Run) => r.result?.summary;

/** Per metric: the label sets (or values) each run must produce, derived from what the run did. */
const EXPECTED: Record<string, (r: Run) => unknown[]> = {
  findings_received: (r) => (decoded(r) ? [{}] : []),
  // A delivery that throws for Pub/Sub to redeliver (no result) was in scope all the same.
  findings_in_scope: (r) => (decoded(r) && r.result?.status !== 'ignored' ? [{}] : []),
  findings_ignored: (r) => (r.result?.status === 'ignored' ? [{}] : []),
  actions: (r) => (summaryOf(r)?.actions ?? []).map((a) => ({ action: a.type, status: a.status })),
  containment_latency: (r) => {
    const s = summaryOf(r);
    return s && s.actions.length > 0 ? [{ outcome: s.outcome, value: s.timings.containmentMs }] : [];
  },
  sink_failures: (r) => (r.scenario.failingSink ? [{ sink: r.scenario.failingSink }] : []),
  budget_refusals: (r) => (r.scenario.budgetDenies?.length ? [{}] : []),
};

const observed = (m: Metric, r: Run): unknown[] =>
  points(m, entriesOf(r)).map((p) => (m.valueType === 'DISTRIBUTION' ? { ...p.labels, value: p.value } : p.labels));

const sortKey = (v: unknown) => JSON.stringify(v);
const sorted = (vs: unknown[]) => [...vs].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));

describe('the query evaluator follows the Logging grammar (else the checks below prove little)', () => {
  const entry = { jsonPayload: { step: 'action:label-pod', ok: true, ms: 12, nested: { outcome: 'dry-run' } } };
  const q = (text: string) => matches(parseQuery(text), entry);

  it('OR binds tighter than AND; NOT binds to the next comparison', () => {
    // The docs' example: a OR NOT b AND NOT c OR d is (a OR (NOT b)) AND ((NOT c) OR d).
    expect(q('jsonPayload.step="x" OR NOT jsonPayload.step="y" AND NOT jsonPayload.ms=12 OR jsonPayload.ok=true')).toBe(true);
    expect(q('jsonPayload.step="x" OR NOT jsonPayload.step="y" AND NOT jsonPayload.ms=12 OR jsonPayload.ok=false')).toBe(false);
    // Where the two readings differ: (true OR false) AND false, not true OR (false AND false).
    expect(q('jsonPayload.ms=12 OR jsonPayload.ok=false AND jsonPayload.step="x"')).toBe(false);
    expect(q('(jsonPayload.ms=12 OR jsonPayload.ok=false) AND jsonPayload.step="x"')).toBe(false);
    expect(q('jsonPayload.ms=12 OR (jsonPayload.ok=false AND jsonPayload.step="x")')).toBe(true);
    // NOT takes the comparison after it, not the rest: (NOT true) OR true.
    expect(q('NOT jsonPayload.ms=12 OR jsonPayload.ok=true')).toBe(true);
  });

  it('missing fields compare false (so NOT of them is true); strings ignore case; regexes search', () => {
    expect(q('jsonPayload.absent="x"')).toBe(false);
    expect(q('NOT jsonPayload.absent="x"')).toBe(true);
    expect(q('jsonPayload.nested.outcome="DRY-RUN"')).toBe(true);
    expect(q('jsonPayload.nested="x"')).toBe(false);
    expect(q('jsonPayload.step=~"^action:"')).toBe(true);
    expect(q('jsonPayload.step=~"^sink:"')).toBe(false);
    expect(q('jsonPayload.ok="x"')).toBe(false);
  });

  it('refuses what it does not implement instead of guessing', () => {
    for (const text of ['jsonPayload.step="a" jsonPayload.ok=true', 'jsonPayload.step:"a"', 'jsonPayload.ms>1', 'jsonPayload.step!="a"', '"free text"']) {
      expect(() => parseQuery(text)).toThrow();
    }
    expect(() => extract('REGEXP_EXTRACT(jsonPayload.step, "^(a)(b)$")', entry)).toThrow(/one capture group/);
    expect(extract('REGEXP_EXTRACT(jsonPayload.step, "^action:(.+)$")', entry)).toBe('label-pod');
  });
});

describe('the scenarios ran the real pipeline', () => {
  it('each ended the way it is meant to (else the expectations below would test nothing)', () => {
    const by = Object.fromEntries(runs.map((r) => [r.scenario.name, r]));
    expect(by['out of scope']!.result?.status).toBe('ignored');
    expect(by['malformed']!.result?.status).toBe('malformed');
    expect(summaryOf(by['contained']!)?.outcome).toBe('contained');
    expect(summaryOf(by['an action failed']!)?.actions.map((a) => a.status)).toContain('failed');
    expect(summaryOf(by['budget exceeded']!)?.budget.exceeded).toBe(true);
    expect(summaryOf(by['dry-run']!)?.outcome).toBe('dry-run');
    expect(summaryOf(by['report only']!)?.outcome).toBe('report-only');
    expect(by['transient before any write']!.result).toBeNull();
    expect(summaryOf(by['contained']!)?.timings.containmentMs).toBe(CONTAINMENT_MS);
    for (const r of runs) expect(r.lines.length).toBeGreaterThan(0);
  });
});

describe('every log-based metric counts exactly the lines it means', () => {
  it('the stack defines the metrics the deploy guide and the issue name', () => {
    expect([...metrics.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const key of Object.keys(EXPECTED)) {
    it(`${key}: matches, labels and values per scenario`, () => {
      const m = metric(key);
      const table = runs.map((r) => ({ scenario: r.scenario.name, points: sorted(observed(m, r)) }));
      expect(table).toEqual(runs.map((r) => ({ scenario: r.scenario.name, points: sorted(EXPECTED[key]!(r)) })));
      // Something matched somewhere: a filter that matches nothing would pass the empty cases only.
      expect(table.some((row) => row.points.length > 0)).toBe(true);
    });
  }

  it("counts only the function's own entries: another service or resource type matches nothing", () => {
    const elsewhere: LogEntry['resource'][] = [
      { ...resource, labels: { ...resource.labels, service_name: `${serviceName}-other` } },
      { type: 'cloud_function', labels: { function_name: serviceName } },
    ];
    for (const m of metrics.values()) {
      for (const r of runs) {
        for (const res of elsewhere) expect(r.lines.map((l) => asLogEntry(l, res)).filter((e) => matches(m.filter, e))).toEqual([]);
      }
      expect(m.filterText.startsWith(refs.string(stack.locals.function_log_filter))).toBe(true);
    }
  });

  it('labels only ever take values the code chooses, never a finding field', () => {
    // Attacker-controlled text in a label would make the number of time series unbounded.
    const all = runs.flatMap((r) => [...metrics.values()].flatMap((m) => points(m, entriesOf(r)).map((p) => p.labels)));
    for (const labels of all) for (const value of Object.values(labels)) expect(value).toMatch(/^[a-z][a-z-]*$/);
  });

  it('counts the same at the default LOG_LEVEL as at DEBUG: no counted line is DEBUG', async () => {
    for (const r of runs) {
      const verbose = await run(r.scenario, 'DEBUG');
      for (const m of metrics.values()) expect({ scenario: r.scenario.name, metric: m.name, points: observed(m, verbose) }).toEqual({ scenario: r.scenario.name, metric: m.name, points: observed(m, r) });
    }
  });

  it('a LOG_LEVEL above INFO loses the ignored findings (docs/deploy.md says so)', async () => {
    const quiet = await run(SCENARIOS[0]!, 'NOTICE');
    expect(observed(metric('findings_ignored'), quiet)).toEqual([]);
    expect(observed(metric('findings_ignored'), runs[0]!)).toHaveLength(1);
  });
});

describe('metric definitions the API accepts', () => {
  it('every declared label has an extractor and every extractor a declared label', () => {
    for (const [key, m] of metrics) expect({ key, labels: [...m.labels].sort() }).toEqual({ key, labels: Object.keys(m.labelExtractors).sort() });
  });

  it('distributions have a value extractor and buckets, counters neither; every metric is a DELTA', () => {
    for (const [key, [block]] of Object.entries(stack.resource.google_logging_metric!)) {
      const descriptor = block!.metric_descriptor[0];
      expect({ key, kind: descriptor.metric_kind }).toEqual({ key, kind: 'DELTA' });
      const distribution = descriptor.value_type === 'DISTRIBUTION';
      expect({ key, extractor: block!.value_extractor !== undefined, buckets: block!.bucket_options !== undefined }).toEqual({ key, extractor: distribution, buckets: distribution });
      if (!distribution) expect({ key, type: descriptor.value_type }).toEqual({ key, type: 'INT64' });
    }
  });

  it('names are per deployment (name_prefix/…) and fit the 100-character limit with the longest prefix', () => {
    for (const [key, [block]] of Object.entries(stack.resource.google_logging_metric!)) {
      expect(String(block!.name)).toBe(`\${var.name_prefix}/${key}`);
      // name_prefix is at most 20 characters (variables.tf).
      expect(20 + 1 + key.length).toBeLessThanOrEqual(100);
    }
    expect(String(stack.variable.name_prefix![0]!.validation[0].condition)).toContain('{2,18}');
  });

  it('the latency buckets reach past the longest function timeout', () => {
    const buckets = only(stack, 'google_logging_metric', 'containment_latency').bucket_options[0].exponential_buckets[0];
    const top = buckets.scale * buckets.growth_factor ** buckets.num_finite_buckets;
    const condition = String(stack.variable.function_timeout_seconds![0]!.validation[0].condition);
    const maxTimeoutS = Number(/var\.function_timeout_seconds <= (\d+)/.exec(condition)![1]);
    expect(top).toBeGreaterThan(maxTimeoutS * 1000);
    expect(metric('containment_latency').valueType).toBe('DISTRIBUTION');
  });
});

// ---------------------------------------------------------------- alerts

describe('alert policies', () => {
  const allSeries = (r: Run) => [...metrics.values()].flatMap((m) => points(m, entriesOf(r)).map((p) => ({ metric: m, series: series(m, p) })));

  const condition = (name: string) => {
    const policy = only(stack, 'google_monitoring_alert_policy', name);
    expect(policy.conditions).toHaveLength(1);
    const threshold = policy.conditions[0].condition_threshold[0];
    return { policy, threshold, filter: parseQuery(refs.string(threshold.filter)) };
  };

  const firingIn = (name: string) => {
    const { filter } = condition(name);
    return runs.filter((r) => allSeries(r).some((s) => matches(filter, s.series))).map((r) => r.scenario.name);
  };

  it('"action failed" fires for a run in which an action ended failed, and for no other', () => {
    expect(firingIn('action_failed')).toEqual(runs.filter((r) => summaryOf(r)?.actions.some((a) => a.status === 'failed')).map((r) => r.scenario.name));
    expect(firingIn('action_failed').length).toBeGreaterThan(0);
  });

  it('"budget exceeded" fires for a run the budget refused, and for no other', () => {
    expect(firingIn('budget_exceeded')).toEqual(runs.filter((r) => summaryOf(r)?.budget.exceeded).map((r) => r.scenario.name));
    expect(firingIn('budget_exceeded').length).toBeGreaterThan(0);
  });

  it('each selects one metric, groups by labels it has, and fires on any point in the window', () => {
    for (const name of ['action_failed', 'budget_exceeded']) {
      const { policy, threshold, filter } = condition(name);
      const selected = new Set(runs.flatMap((r) => allSeries(r).filter((s) => matches(filter, s.series)).map((s) => s.metric.name)));
      expect(selected.size).toBe(1);
      const m = [...metrics.values()].find((x) => selected.has(x.name))!;
      for (const field of threshold.aggregations[0].group_by_fields ?? []) expect(m.labels).toContain(String(field).replace(/^metric\.label\./, ''));
      expect(threshold).toMatchObject({ comparison: 'COMPARISON_GT', threshold_value: 0 });
      expect(threshold.aggregations[0].per_series_aligner).toBe('ALIGN_SUM');
      expect(policy.combiner).toBe('OR');
      expect(policy.notification_channels).toBe('${var.alert_notification_channels}');
      // A new log-based metric reaches Monitoring late: the policy waits for it.
      expect(policy.depends_on).toContain('${time_sleep.log_metrics_reach_monitoring}');
    }
  });

  it('notification channels: none by default, each one validated as a channel name', () => {
    const variable = stack.variable.alert_notification_channels![0]!;
    expect(variable.default).toEqual([]);
    const check = (channels: string[]) =>
      JSON.parse(tfConsole('', {}, expression(variable.validation[0].condition).replaceAll('var.alert_notification_channels', JSON.stringify(channels)))) as boolean;
    expect(check([])).toBe(true);
    expect(check(['projects/my-secops-project/notificationChannels/1234567890', 'projects/123456/notificationChannels/9'])).toBe(true);
    expect(check(['1234567890'])).toBe(false);
    expect(check(['projects/p/notificationChannels/1', 'https://hooks.slack.com/x'])).toBe(false);
  });
});

// ---------------------------------------------------------------- dashboard

describe('the dashboard', () => {
  let dashboard: any;
  beforeAll(() => {
    // Evaluated by Terraform itself (jsonencode, for expressions), with the locals it reads resolved.
    const expr = expression(only(stack, 'google_monitoring_dashboard', 'responder').dashboard_json);
    const locals = [...new Set([...expr.matchAll(/\blocal\.([a-z0-9_]+)/g)].map((m) => m[1]!))];
    const vars = [...new Set([...expr.matchAll(/\bvar\.([a-z0-9_]+)/g)].map((m) => m[1]!))];
    const module = `${vars.map((v) => `variable "${v}" {}\n`).join('')}locals {\n${locals.map((l) => `  ${l} = ${JSON.stringify(refs.local(l))}\n`).join('')}  dashboard = ${expr}\n}\n`;
    const out = tfConsole(module, Object.fromEntries(vars.map((v) => [v, refs.vars[v]!])), 'local.dashboard');
    dashboard = JSON.parse(JSON.parse(out) as string);
  });

  const dataSets = () => (dashboard.gridLayout.widgets as any[]).flatMap((w) => (w.xyChart?.dataSets ?? []).map((d: any) => ({ title: w.title as string, ...d })));

  it('every chart selects the points of one metric, and every metric is charted', () => {
    const charted = new Set<string>();
    const everySeries = runs.flatMap((r) => [...metrics.values()].flatMap((m) => points(m, entriesOf(r)).map((p) => ({ metric: m, series: series(m, p) }))));
    for (const d of dataSets()) {
      const f = d.timeSeriesQuery.timeSeriesFilter;
      const filter = parseQuery(f.filter);
      const selected = new Set(everySeries.filter((s) => matches(filter, s.series)).map((s) => s.metric));
      expect({ chart: d.title, metrics: selected.size }).toEqual({ chart: d.title, metrics: 1 });
      const [m] = [...selected];
      charted.add(m!.name);
      for (const field of f.aggregation.groupByFields ?? []) expect(m!.labels).toContain(String(field).replace(/^metric\.label\./, ''));
      // Percentiles exist only for distributions; counters are summed per window.
      const percentile = /^REDUCE_PERCENTILE_/.test(f.aggregation.crossSeriesReducer);
      expect({ chart: d.title, percentile }).toEqual({ chart: d.title, percentile: m!.valueType === 'DISTRIBUTION' });
      expect(f.aggregation.perSeriesAligner).toBe(m!.valueType === 'DISTRIBUTION' ? 'ALIGN_DELTA' : 'ALIGN_SUM');
    }
    expect([...charted].sort()).toEqual([...metrics.values()].map((m) => m.name).sort());
  });

  it('uses a grid layout (no tile positions that would show as a diff on every plan)', () => {
    expect(dashboard.displayName).toContain(refs.vars.name_prefix);
    expect(dashboard.mosaicLayout).toBeUndefined();
    expect(dashboard.gridLayout.widgets.length).toBeGreaterThan(0);
  });
});

describe('the deploy guide', () => {
  it('explains every metric and both alerts under docs/deploy.md > "Metrics and alerts"', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const deploy = readme.slice(readme.indexOf('<!-- section:deploy -->'), readme.indexOf('<!-- /section:deploy -->'));
    const start = deploy.indexOf('### Metrics and alerts');
    expect(start).toBeGreaterThan(0);
    const section = deploy.slice(start, deploy.indexOf('\n### ', start + 1));
    for (const key of metrics.keys()) expect(section).toContain(`\`${key}\``);
    for (const name of ['action_failed', 'budget_exceeded']) {
      const title = refs.string(only(stack, 'google_monitoring_alert_policy', name).display_name).replace(`${refs.vars.name_prefix}: `, '');
      expect(section).toContain(title);
    }
    expect(section).toContain('alert_notification_channels');
  });
});
