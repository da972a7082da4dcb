// Label and isolate before the ledger claim (issue 18), on real parts: the
// Firestore ledger on its emulator, the strict Kubernetes fake, the pipeline as
// the function runs it. What is pinned here:
// - the first containment write happens before the ledger's client is asked for;
// - two deliveries of one finding racing: both may label and isolate (the second
//   finds it in place), exactly one deletes and exactly one summary goes out;
// - a released pod is not re-quarantined by a late redelivery, before its claim or
//   with the ledger down (the pod carries the released occurrence);
// - a redelivery that re-applies containment undone by hand reports that write;
// - a marker naming another occurrence changes nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createClusterResponder } from '../src/actions/cluster-responder.ts';
import { networkPolicyName } from '../src/actions/isolate-pod.ts';
import { FirestoreLedger } from '../src/adapters/firestore-ledger.ts';
import { createClusterAccess } from '../src/adapters/gke-cluster-access.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { StepLogger, SummarySink } from '../src/core/ports.ts';
import { type Summary } from '../src/core/summary/document.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { handleInput, type PipelineDeps } from '../src/pipeline/respond.ts';
import { releaseIncident } from '../src/pipeline/release.ts';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { emulatorOrSkip, startFirestoreEmulator } from './support/emulators.ts';
import { cloudEvent, notificationV1 } from './support/fixtures.ts';
import { CLUSTER, NS, POD, seed } from './support/kube-seed.ts';
import { noteSummary, summaryCheckingLog } from './support/summary-check.ts';

const firestoreEmu = await emulatorOrSkip(() => startFirestoreEmulator(), 'before-claim tests (Firestore emulator)');
const d = firestoreEmu ? describe : describe.skip;

const NOW = new Date('2026-11-20T14:05:00Z');
const QUARANTINE = 'scc-responder.dev/quarantine';
const INCIDENT = 'scc-responder.dev/incident';
const RELEASED = 'scc-responder.dev/released-occurrences';

let fake: FakeKubeApi;
let store: FirestoreLedger;
let policy: Policy;
let summaries: Summary[];
let lines: { step: string; message: string; fields: Record<string, unknown> }[];

const log: StepLogger = summaryCheckingLog({ log: (_severity, step, message, fields = {}) => void lines.push({ step, message, fields }) });
const sink: SummarySink = { name: 'ops', deliver: async (s) => void summaries.push(noteSummary(s, 'ops sink')) };

beforeAll(() => {
  policy = validatePolicy({
    dryRun: false,
    rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod', 'delete-pod'] }],
    budget: { perCluster: { podRemovals: 100 }, perNamespace: { podRemovals: 100 } },
    guards: { replicaFloor: 0 },
    clusters: { [CLUSTER]: { kubeconfig: '/dev/null', networkPolicyEnforcement: 'enforced' } },
  });
});
afterAll(async () => {
  await store?.close();
  await fake?.close();
  await firestoreEmu?.stop();
});

async function freshWorld(): Promise<void> {
  await fake?.close();
  await store?.close();
  fake = await startFakeKubeApi({ seed: seed() });
  policy = { ...policy, clusters: { [CLUSTER]: { kubeconfig: fake.kubeconfigPath, context: 'fake', networkPolicyEnforcement: 'enforced' } } };
  store = new FirestoreLedger({
    projectId: 'test-project',
    collection: `before-claim-${randomUUID().slice(0, 8)}`,
    leaseSeconds: 600,
    ttlDays: 30,
    emulatorHost: firestoreEmu!.hostPort,
  });
  summaries = [];
  lines = [];
}

/** One instance of the function: its own cluster responder, the shared ledger. */
function instance(onLedgerAsked?: () => void, now = NOW): PipelineDeps {
  const access = createClusterAccess({ policy });
  return {
    policy,
    now: () => now,
    log,
    ledger: async () => {
      onLedgerAsked?.();
      return store;
    },
    budget: async () => store,
    summarySinks: async () => [sink],
    clusterResponder: async () => createClusterResponder({ policy, log, access, now: () => now }),
  };
}

function finding(id: string): Record<string, any> {
  const n = notificationV1();
  n.finding.name = n.finding.name.replace(/[^/]+$/, id);
  return n;
}

const applied = (pred: (r: { method: string; path: string }) => boolean) => fake.writes().filter((r) => r.status < 300 && pred(r));
const deletes = () => applied((r) => r.method === 'DELETE' && r.path.includes('/pods/'));
const podPatches = () => applied((r) => r.method === 'PATCH' && r.path.includes('/pods/'));
const livePod = () => fake.state.pods.get(`${NS}/${POD}`) as Record<string, any> | undefined;

d('containment before the ledger claim', () => {
  it('writes to the cluster before the ledger client is asked for, then claims before deleting', async () => {
    await freshWorld();
    let writesWhenLedgerAsked: number | null = null;
    const result = await handleInput(cloudEvent(finding('1a000000000000000000000000000001')), instance(() => (writesWhenLedgerAsked ??= fake.writes().length)));
    expect(result.status).toBe('responded');
    expect(result.summary!.actions.map((a) => [a.type, a.status])).toEqual([
      ['label-pod', 'done'],
      ['isolate-pod', 'done'],
      ['delete-pod', 'done'],
    ]);
    // The label patch went out before the ledger (Firestore) was even loaded; the delete waited for the claim.
    expect(writesWhenLedgerAsked).toBeGreaterThanOrEqual(1);
    expect(deletes()).toHaveLength(1);
    expect(fake.writes().findIndex((r) => r.method === 'DELETE')).toBeGreaterThanOrEqual(writesWhenLedgerAsked!);
    // The ledger holds what the run before the claim did, as this delivery's outcomes.
    const records = await store.listIncidents(new Date(0));
    expect(records).toHaveLength(1);
    // One audit Event per write, none twice (the carried outcomes get none after the claim). Their
    // writes are confirmed within a bound, not awaited without one: on a loaded machine one may land late.
    for (const until = Date.now() + 10_000; fake.eventWrites().length < 3 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.eventWrites().length).toBe(3);
  });

  it('two deliveries racing: both may label and isolate, exactly one deletes and reports', async () => {
    await freshWorld();
    const event = cloudEvent(finding('1b000000000000000000000000000002'));
    const results = await Promise.allSettled([handleInput(event, instance()), handleInput(event, instance())]);
    const responded = results.filter((r) => r.status === 'fulfilled' && r.value.status === 'responded');
    expect(responded).toHaveLength(1);
    // The other found the claim held (retried by Pub/Sub) or, if it came late, completed.
    for (const r of results.filter((x) => !responded.includes(x))) {
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/claimed by another instance/);
      else expect(r.value.status).toBe('duplicate');
    }
    expect(deletes()).toHaveLength(1);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.outcome).toBe('contained');
    expect(livePod()?.metadata.deletionTimestamp).toBeDefined(); // graceful deletion under way
    // At most one NetworkPolicy was created: the loser's create met a 409 and found it ours.
    expect(applied((r) => r.method === 'POST' && r.path.endsWith('/networkpolicies'))).toHaveLength(1);
    // Pub/Sub's redelivery of the loser: a duplicate, nothing written, nothing sent.
    const writesBefore = fake.writes().length;
    await expect(handleInput(event, instance())).resolves.toMatchObject({ status: 'duplicate' });
    expect(summaries).toHaveLength(1);
    expect(fake.writes().length).toBe(writesBefore);
  });

  it('a released pod is not re-quarantined by a late redelivery of its finding', async () => {
    await freshWorld();
    policy = { ...policy, rules: [{ ...policy.rules[0]!, actions: ['label-pod', 'isolate-pod'] }] };
    try {
      const id = '1c000000000000000000000000000003';
      const event = cloudEvent(finding(id));
      await expect(handleInput(event, instance())).resolves.toMatchObject({ status: 'responded' });
      const released = await releaseIncident({ incidentId: id }, { dryRun: false, by: 'oncall' }, {
        policy,
        now: () => NOW,
        log,
        connector: async () => createClusterAccess({ policy }),
        incidents: async () => store,
      });
      expect(released.summary.outcome).toBe('contained');
      expect(livePod()!.metadata.labels[QUARANTINE]).toBeUndefined();
      expect(livePod()!.metadata.annotations[RELEASED]).toBe(findingKey(finding(id).finding).id);
      const patches = podPatches().length;
      summaries = [];

      await expect(handleInput(event, instance())).resolves.toMatchObject({ status: 'duplicate' });
      expect(podPatches()).toHaveLength(patches);
      expect(fake.state.networkPolicies.has(`${NS}/${networkPolicyName(id)}`)).toBe(false);
      expect(livePod()!.metadata.labels[QUARANTINE]).toBeUndefined();
      expect(summaries).toEqual([]);
    } finally {
      policy = { ...policy, rules: [{ ...policy.rules[0]!, actions: ['label-pod', 'isolate-pod', 'delete-pod'] }] };
    }
  });

  it('a redelivery that finds the containment undone by hand re-applies it and reports that write', async () => {
    await freshWorld();
    policy = { ...policy, rules: [{ ...policy.rules[0]!, actions: ['label-pod', 'isolate-pod'] }] };
    try {
      const event = cloudEvent(finding('1d000000000000000000000000000004'));
      await expect(handleInput(event, instance())).resolves.toMatchObject({ status: 'responded' });
      expect(summaries).toHaveLength(1);
      // Someone removes the quarantine label with kubectl (not a release: no marker).
      delete livePod()!.metadata.labels[QUARANTINE];

      const later = new Date(NOW.getTime() + 60_000);
      await expect(handleInput(event, instance(undefined, later))).resolves.toMatchObject({ status: 'duplicate' });
      expect(livePod()!.metadata.labels[QUARANTINE]).toBe('true');
      expect(summaries).toHaveLength(2);
      const late = summaries[1]!;
      expect(late.update).toBe(true);
      expect(late.actions.map((a) => [a.type, a.status])).toEqual([['label-pod', 'done']]);
      expect(late.warnings.join(' ')).toMatch(/already handled, found this containment undone/);
    } finally {
      policy = { ...policy, rules: [{ ...policy.rules[0]!, actions: ['label-pod', 'isolate-pod', 'delete-pod'] }] };
    }
  });

  it('a released occurrence stays released even when the ledger cannot say it was handled', async () => {
    await freshWorld();
    policy = { ...policy, rules: [{ ...policy.rules[0]!, actions: ['label-pod', 'isolate-pod'] }] };
    try {
      const id = '1e000000000000000000000000000005';
      const event = cloudEvent(finding(id));
      await expect(handleInput(event, instance())).resolves.toMatchObject({ status: 'responded' });
      await releaseIncident({ incidentId: id }, { dryRun: false, by: 'oncall' }, {
        policy,
        now: () => NOW,
        log,
        connector: async () => createClusterAccess({ policy }),
        incidents: async () => store,
      });
      const patches = podPatches().length;
      // The redelivery meets a ledger that fails: no dedupe, so only the pod's marker can keep the release.
      const down = { ...instance(), ledger: async () => Promise.reject(new Error('firestore unavailable')) };
      const result = await handleInput(event, down);
      expect(result.summary!.actions.map((a) => [a.type, a.status])).toEqual([
        ['label-pod', 'skipped'],
        ['isolate-pod', 'skipped'],
      ]);
      expect(result.summary!.actions[0]!.reason).toMatch(/this finding occurrence was released on this pod/);
      expect(podPatches()).toHaveLength(patches);
      expect(livePod()!.metadata.labels[QUARANTINE]).toBeUndefined();
    } finally {
      policy = { ...policy, rules: [{ ...policy.rules[0]!, actions: ['label-pod', 'isolate-pod', 'delete-pod'] }] };
    }
  });

  it('a marker for another occurrence (a forged or stale one) changes nothing: a new finding is contained', async () => {
    await freshWorld();
    const id = '1e000000000000000000000000000006';
    // An earlier occurrence of the same finding was released (another eventTime), and an id made up by hand.
    const earlier = finding(id);
    earlier.finding.eventTime = '2026-11-19T10:00:00.000Z';
    livePod()!.metadata.annotations = { ...(livePod()!.metadata.annotations ?? {}), [RELEASED]: `${findingKey(earlier.finding).id},${'f'.repeat(64)},${id}` };
    let writesWhenLedgerAsked: number | null = null;
    const result = await handleInput(cloudEvent(finding(id)), instance(() => (writesWhenLedgerAsked ??= fake.writes().length)));
    expect(writesWhenLedgerAsked).toBeGreaterThanOrEqual(1); // labelled before the claim, as for any new finding
    expect(result.summary!.actions.map((a) => [a.type, a.status])).toEqual([
      ['label-pod', 'done'],
      ['isolate-pod', 'done'],
      ['delete-pod', 'done'],
    ]);
  });

  it('a dry-run plan runs once, after the claim (nothing to gain before it)', async () => {
    await freshWorld();
    policy = { ...policy, dryRun: true };
    try {
      const result = await handleInput(cloudEvent(finding('1f000000000000000000000000000006')), instance());
      expect(result.summary!.outcome).toBe('dry-run');
      expect(lines.filter((l) => l.fields.stage === 'before-claim')).toEqual([]);
      expect(fake.writes()).toEqual([]);
      expect(livePod()!.metadata.labels[INCIDENT]).toBeUndefined();
    } finally {
      policy = { ...policy, dryRun: false };
    }
  });
});
