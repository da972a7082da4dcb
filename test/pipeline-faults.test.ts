// The pipeline's fault paths in-process, with dependencies that fail the way
// real ones do: a ledger that never answers (at the claim, or mid-run), a
// responder that fails transiently before or after its first write or crashes
// after reporting an action, an evidence gatherer that hangs. Whatever fails,
// a delivery that wrote anything sends a summary saying what, and returns in
// bounded time. (test/fault-tolerance.test.ts does the same on the emulators.)
import { describe, expect, it } from '@jest/globals';
import { TransientError } from '../src/core/errors.ts';
import type { ActionOutcome } from '../src/core/plan/outcome.ts';
import { validatePolicy, type ActionType } from '../src/core/policy/policy.ts';
import type {
  ClusterResponder,
  ContainmentRequest,
  EvidenceGatherer,
  Ledger,
  LedgerClaim,
  Severity,
  SummarySink,
} from '../src/core/ports.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { handleInput, type PipelineDeps } from '../src/pipeline/respond.ts';
import { notificationV1 } from './support/fixtures.ts';
import { noteSummary, summaryCheckingLog } from './support/summary-check.ts';

const ACTIONS: ActionType[] = ['label-pod', 'isolate-pod', 'delete-pod'];
const never = <T>() => new Promise<T>(() => {});

interface World {
  deps: PipelineDeps;
  summaries: Summary[];
  lines: { severity: Severity; step: string; message: string }[];
  requests: ContainmentRequest[];
}

function world(options: {
  contain: (request: ContainmentRequest) => Promise<{ outcomes: ActionOutcome[] }>;
  ledger?: Ledger;
  evidence?: EvidenceGatherer;
  timeoutMs?: number;
}): World {
  const summaries: Summary[] = [];
  const lines: World['lines'] = [];
  const requests: ContainmentRequest[] = [];
  const sink: SummarySink = { name: 'ops', deliver: async (s) => void summaries.push(noteSummary(s, 'ops sink')) };
  const responder: ClusterResponder = {
    contain: async (request) => {
      requests.push(request);
      return { snapshots: {}, warnings: [], ...(await options.contain(request)) };
    },
  };
  const deps: PipelineDeps = {
    policy: validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ACTIONS }] }),
    now: () => new Date(),
    log: summaryCheckingLog({ log: (severity, step, message) => void lines.push({ severity, step, message }) }),
    clusterResponder: async () => responder,
    summarySinks: async () => [sink],
    sleep: async () => {},
    ledgerTimeoutMs: 50,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.ledger ? { ledger: async () => options.ledger!, budget: async () => ({ reserve: async () => ({ granted: ['delete-pod'], denied: new Map() }), refund: async () => {} }) } : {}),
    ...(options.evidence ? { evidenceGatherer: async () => options.evidence! } : {}),
  };
  return { deps, summaries, lines, requests };
}

const done = (type: ActionType): ActionOutcome => ({ type, status: 'done', reason: `${type} done` });

/** A ledger whose claim works and whose every later call never answers. */
function ledgerThatDiesAfterClaim(): Ledger {
  const claim: LedgerClaim = { kind: 'acquired', token: 't', attempt: 1, previous: new Map(), summary: null, deliveries: {} };
  return {
    claim: async () => claim,
    recordOutcomes: never,
    recordSummary: never,
    recordDelivery: never,
    complete: never,
    release: never,
  };
}

const byType = (s: Summary) => Object.fromEntries(s.actions.map((a) => [a.type, a.status]));

describe('no ledger', () => {
  it('a transient failure after a write: reported at once, final (no rounds to count), never a silent retry', async () => {
    const w = world({ contain: async () => ({ outcomes: [done('label-pod'), done('isolate-pod'), { type: 'delete-pod', status: 'pending', reason: 'delete pod: HTTP 500 (retried on redelivery)' }] }) });
    const result = await handleInput(notificationV1(), w.deps);
    expect(result.status).toBe('responded');
    expect(w.summaries).toHaveLength(1);
    expect(byType(w.summaries[0]!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'delete-pod': 'failed' });
    expect(w.summaries[0]!.actions[2]!.reason).toMatch(/^not retried: without a ledger, retries cannot be counted; last error: delete pod: HTTP 500/);
  });

  it('a pending action that wrote part of itself counts as a write: reported now, not a silent retry', async () => {
    const w = world({
      contain: async () => ({
        outcomes: [{ type: 'isolate-pod', status: 'pending', reason: 'created NetworkPolicy p; then label pod: HTTP 503 (retried on redelivery)', details: { wrote: true } }],
      }),
    });
    await handleInput(notificationV1(), w.deps);
    expect(w.summaries).toHaveLength(1);
    expect(w.summaries[0]!.actions[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^not retried: .*last error: created NetworkPolicy p; then label pod/) });
  });

  it('a transient failure before any write: redelivered, nothing reported yet', async () => {
    const w = world({ contain: async () => Promise.reject(new TransientError('preflight: HTTP 503')) });
    await expect(handleInput(notificationV1(), w.deps)).rejects.toBeInstanceOf(TransientError);
    expect(w.summaries).toEqual([]);
  });
});

describe('a ledger that does not answer', () => {
  it('at the claim: contained without dedupe (destructive refused), and the summary says why — in bounded time', async () => {
    const hung: Ledger = { ...ledgerThatDiesAfterClaim(), claim: never };
    const w = world({
      ledger: hung,
      contain: async (request) => ({
        outcomes: request.plan.actions.map((a) => (request.deniedByBudget.has(a.type) ? { type: a.type, status: 'skipped' as const, reason: request.deniedByBudget.get(a.type)! } : done(a.type))),
      }),
    });
    await handleInput(notificationV1(), w.deps);
    const [summary] = w.summaries;
    expect(byType(summary!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'delete-pod': 'skipped' });
    expect(summary!.actions[2]!.reason).toMatch(/^no budget: ledger unavailable \(ledger claim: no answer within 50 ms\)/);
    expect(summary!.warnings.join('\n')).toMatch(/no dedupe: ledger unavailable/);
    expect(summary!.budget.exceeded).toBe(false);
  });

  it('mid-run: every outcome still reported; writes after the first timeout are skipped, not each waited for', async () => {
    const w = world({ ledger: ledgerThatDiesAfterClaim(), contain: async (request) => ({ outcomes: request.plan.actions.map((a) => done(a.type)) }) });
    const result = await handleInput(notificationV1(), w.deps);
    expect(result.status).toBe('responded');
    expect(byType(w.summaries[0]!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'delete-pod': 'done' });
    expect(w.summaries[0]!.warnings.join('\n')).toMatch(/ledger lost mid-run: ledger record outcomes failed \(ledger record outcomes: no answer within 50 ms\); a duplicate summary is possible/);
    expect(w.lines.filter((l) => l.step === 'ledger' && /ledger lost mid-run/.test(l.message))).toHaveLength(1);
  });
});

describe('the responder', () => {
  it('crashing after it reported an action: that action is reported done, the rest failed, and the summary goes out', async () => {
    const w = world({
      contain: async (request) => {
        await request.onOutcome?.(done('label-pod'));
        throw new Error('unexpected: cannot read properties of undefined');
      },
    });
    await handleInput(notificationV1(), w.deps);
    expect(byType(w.summaries[0]!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'failed', 'delete-pod': 'failed' });
    expect(w.summaries[0]!.actions[1]!.reason).toMatch(/containment error: unexpected/);
  });

  it('a transient error thrown after an action was reported is not a silent retry: what was done is reported', async () => {
    const w = world({
      contain: async (request) => {
        await request.onOutcome?.(done('label-pod'));
        throw new TransientError('watch closed');
      },
    });
    await handleInput(notificationV1(), w.deps);
    expect(byType(w.summaries[0]!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'failed', 'delete-pod': 'failed' });
  });

  it('is given a start-by time within the delivery budget (40 % of the function timeout)', async () => {
    const before = Date.now();
    const w = world({ timeoutMs: 100_000, contain: async (request) => ({ outcomes: request.plan.actions.map((a) => done(a.type)) }) });
    await handleInput(notificationV1(), w.deps);
    const startBy = w.requests[0]!.startBy!;
    expect(startBy).toBeGreaterThanOrEqual(before + 40_000);
    expect(startBy).toBeLessThanOrEqual(Date.now() + 40_000);
  });
});

describe('evidence', () => {
  it('a gatherer that hangs does not hold the summary past its share of the timeout', async () => {
    const w = world({
      timeoutMs: 1_000,
      evidence: { gather: never },
      contain: async (request) => ({ outcomes: request.plan.actions.map((a) => done(a.type)) }),
    });
    await handleInput(notificationV1(), w.deps);
    expect(w.summaries[0]!.evidence?.notes).toEqual(['evidence incomplete: out of time for this delivery (the summary goes out without it)']);
  });
});

