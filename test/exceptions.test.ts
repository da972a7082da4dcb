// Exceptions around the plan: what validate-policy warns about (with `now`
// injected), the excepted outcome, and which sinks report an excepted finding.
import { describe, expect, it } from '@jest/globals';
import { EXPIRY_WARNING_DAYS, exceptionWarnings } from '../src/core/policy/exceptions.ts';
import { overallOutcome } from '../src/core/plan/outcome.ts';
import { parsePolicy } from '../src/core/policy/policy.ts';
import type { StepLogger, SummarySink } from '../src/core/ports.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { handleInput } from '../src/pipeline/respond.ts';
import { noLedgerSession } from '../src/pipeline/ledger-session.ts';
import { deliverSummary, reportingSinks } from '../src/pipeline/summary-delivery.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryFor } from './support/summaries.ts';
import { summaryCheckingLog } from './support/summary-check.ts';

const policyWith = (exceptions: string, extra = '') => parsePolicy(`exceptions:\n${exceptions}\n${extra}`);
const one = (fields: string) => `  - {name: nightly, reason: the nightly job, expires: 2026-12-01, match: {namespaces: [payments]${fields}}}`;

describe('validate-policy warnings about exceptions', () => {
  const at = (iso: string, policy = policyWith(one(''))) => exceptionWarnings(policy, new Date(iso));

  it('none for an exception well before its expiry', () => {
    expect(at('2026-11-01T00:00:00Z')).toEqual([]);
  });

  it(`warns ${EXPIRY_WARNING_DAYS} days ahead, and counts the days`, () => {
    expect(at('2026-11-16T23:59:59Z')).toEqual([]);
    expect(at('2026-11-17T00:00:00Z')).toEqual(["exceptions[0] nightly: expires at 2026-12-01T00:00:00Z (in 14 days); after that its findings get the rules' actions"]);
    expect(at('2026-11-29T23:00:00Z')[0]).toMatch(/\(in 1 day\)/);
    expect(at('2026-11-30T12:00:00Z')).toEqual(["exceptions[0] nightly: expires at 2026-12-01T00:00:00Z (in less than a day); after that its findings get the rules' actions"]);
  });

  it('warns about an expired exception from the moment it expires', () => {
    expect(at('2026-12-01T00:00:00Z')).toEqual([
      'exceptions[0] nightly: expired at 2026-12-01T00:00:00Z (less than a day ago) and no longer applies: renew it with a new date and reason, or remove it',
    ]);
    expect(at('2026-12-11T00:00:00Z')[0]).toMatch(/expired at 2026-12-01T00:00:00Z \(10 days ago\)/);
  });

  it('warns about args conditions anything could be added to', () => {
    const policy = policyWith(one(', child: {args: ["/opt/run.sh*", "/opt/exact.sh", "* /opt/x.sh", "/opt/literal\\\\*"], argsContain: [run]}'));
    const warnings = at('2026-11-01T00:00:00Z', policy);
    expect(warnings).toEqual([
      expect.stringMatching(/^exceptions\[0\] nightly: match\.child\.args\[0\] "\/opt\/run\.sh\*" starts or ends with "\*"/),
      expect.stringMatching(/^exceptions\[0\] nightly: match\.child\.args\[2\] "\* \/opt\/x\.sh" starts or ends with "\*"/),
      expect.stringMatching(/^exceptions\[0\] nightly: match\.child\.argsContain matches any command line that merely contains/),
    ]);
  });

  it('does not warn about the same conditions in a rule (they add actions, not remove them)', () => {
    const policy = parsePolicy('rules: [{name: r, match: {child: {args: ["*curl*"], argsContain: [wget]}}, actions: [label-pod]}]');
    expect(exceptionWarnings(policy, new Date('2026-11-01T00:00:00Z'))).toEqual([]);
  });
});

describe('the excepted outcome', () => {
  it('is excepted only when an exception matched and nothing was planned', () => {
    expect(overallOutcome([], false, true)).toBe('excepted');
    expect(overallOutcome([], true, true)).toBe('excepted');
    expect(overallOutcome([], false)).toBe('report-only');
    expect(overallOutcome([{ type: 'label-pod', status: 'done', reason: 'ok' }], false)).toBe('contained');
  });
});

const recordingSink = (name: string, got: string[]): SummarySink => ({
  name,
  async deliver(summary) {
    got.push(`${name}:${summary.outcome}`);
  },
});


describe('sinks for an excepted finding', () => {
  const excepting = (settings: string) =>
    parsePolicy(`
dryRun: false
exceptions: [{name: curl-health, reason: probe, expires: 2027-01-01, match: {namespaces: [payments]}}]
rules: [{name: contain, actions: [label-pod]}]
${settings}`);

  async function delivered(summary: Summary): Promise<{ sinks: string[]; logged: string[] }> {
    const sinks: string[] = [];
    const logged: string[] = [];
    const log: StepLogger = { log: (_severity, step, message) => logged.push(`${step}:${message}`) };
    const all = ['pubsub', 'slack', 'chat'].map((n) => recordingSink(n, sinks));
    await deliverSummary(summary, noLedgerSession('', { unsafe: null }), { now: () => new Date('2026-11-20T14:03:40Z'), log, summarySinks: async () => all }, {});
    return { sinks: sinks.sort(), logged: logged.filter((l) => l.startsWith('summary:')) };
  }

  it('goes only to the sinks the policy allows, and always to the log line', async () => {
    const s = summaryFor(notificationV1(), { policy: excepting('exceptionSettings: {sinks: [pubsub]}') });
    expect(s.outcome).toBe('excepted');
    const { sinks, logged } = await delivered(s);
    expect(sinks).toEqual(['pubsub:excepted']);
    expect(logged).toEqual([`summary:${s.headline}`]);
  });

  it('goes everywhere by default', async () => {
    const { sinks } = await delivered(summaryFor(notificationV1(), { policy: excepting('') }));
    expect(sinks).toEqual(['chat:excepted', 'pubsub:excepted', 'slack:excepted']);
  });

  it('an exception of its own may choose other sinks', () => {
    const policy = parsePolicy(`
exceptionSettings: {sinks: [pubsub]}
exceptions: [{name: e, reason: r, expires: 2027-01-01, sinks: [chat], match: {namespaces: [payments]}}]`);
    const s = summaryFor(notificationV1(), { policy });
    expect(reportingSinks(s, ['pubsub', 'slack', 'chat'].map((n) => recordingSink(n, []))).map((x) => x.name)).toEqual(['chat']);
  });

  it('a finding no exception covers goes to every sink (and a summary from before exceptions too)', async () => {
    const s = summaryFor(notificationV1(), { policy: parsePolicy('dryRun: false\nexceptionSettings: {sinks: []}\nrules: [{name: r, actions: [label-pod]}]') });
    expect(s.outcome).not.toBe('excepted');
    expect((await delivered(s)).sinks).toEqual(['chat:contained', 'pubsub:contained', 'slack:contained']);
    const old = { ...s } as Partial<Summary>;
    delete old.exception;
    expect(reportingSinks(old as Summary, [recordingSink('slack', [])]).map((x) => x.name)).toEqual(['slack']);
  });
});

describe('the pipeline with an excepted finding', () => {
  it('loads no cluster client, acts on nothing, and reports excepted to the allowed sinks only', async () => {
    const policy = parsePolicy(`
dryRun: false
exceptions: [{name: curl-health, reason: probe, expires: 2027-01-01, match: {namespaces: [payments]}}]
exceptionSettings: {sinks: [pubsub]}
rules: [{name: contain, actions: [label-pod, isolate-pod, delete-pod]}]`);
    const got: string[] = [];
    let responderLoads = 0;
    const result = await handleInput(notificationV1(), {
      policy,
      now: () => new Date('2026-11-20T14:03:40Z'),
      log: summaryCheckingLog({ log: () => {} }),
      clusterResponder: async () => {
        responderLoads++;
        throw new Error('no cluster access in this test');
      },
      summarySinks: async () => ['pubsub', 'slack', 'chat'].map((n) => recordingSink(n, got)),
    });
    expect(result.status).toBe('responded');
    expect(result.plan).toMatchObject({ exception: { name: 'curl-health' }, actions: [] });
    expect(responderLoads).toBe(0);
    expect(result.summary).toMatchObject({ outcome: 'excepted', actions: [], exception: { name: 'curl-health', reason: 'probe', expires: '2027-01-01T00:00:00Z' } });
    expect(got).toEqual(['pubsub:excepted']);
  });
});
