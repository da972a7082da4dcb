// The ledger, budget and incident store contract, run against both stores:
// FirestoreLedger on the Firestore emulator (the function's) and LocalLedger on
// a temporary SQLite file (the CLI's on one machine). Then what only the local
// store has to prove: its file, its documents, and two OS processes on the same
// file behaving like two function instances on Firestore.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FirestoreLedger } from '../src/adapters/firestore-ledger.ts';
import { LocalLedger, localLedgerFromEnv, localLedgerPath } from '../src/adapters/local-ledger.ts';
import { PermanentError, TransientError } from '../src/core/errors.ts';
import type { Budget, BudgetLimits, IncidentStore, Ledger, ReleaseRecord, SinkDelivery } from '../src/core/ports.ts';
import type { FindingKey } from '../src/core/finding/key.ts';
import {
  MAX_REFUSALS,
  type ApprovalDecisionRecord,
  type ApprovalRequestRecord,
  type ApprovalStore,
} from '../src/core/approval/approval.ts';
import { emulatorOrSkip, startFirestoreEmulator } from './support/emulators.ts';
import { notificationV1 } from './support/fixtures.ts';
import type { ChildCommand, ChildReply } from './support/ledger-child.ts';
import { summaryFor } from './support/summaries.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = join(ROOT, 'test/support/ledger-child.ts');
const PROJECT = 'test-project';
const LEASE_SECONDS = 600;

type Store = Ledger & Budget & IncidentStore & ApprovalStore & { close(): Promise<void> };

const firestoreEmu = await emulatorOrSkip(() => startFirestoreEmulator(), 'ledger contract on FirestoreLedger (Firestore emulator)');
const scratch = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
const opened: Store[] = [];

afterAll(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await firestoreEmu?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function localStore(path = join(scratch, randomUUID(), 'ledger.sqlite')): LocalLedger {
  const store = new LocalLedger({ path, leaseSeconds: LEASE_SECONDS, ttlDays: 30 });
  opened.push(store);
  return store;
}

function firestoreStore(): FirestoreLedger {
  const store = new FirestoreLedger({
    projectId: PROJECT,
    collection: `contract-${randomUUID().slice(0, 8)}`,
    leaseSeconds: LEASE_SECONDS,
    ttlDays: 30,
    emulatorHost: firestoreEmu!.hostPort,
  });
  opened.push(store);
  return store;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const key = (label: string): FindingKey => ({
  id: sha256(label),
  findingName: `organizations/123456789012/sources/11223344556677889900/findings/${label}`,
  eventTime: '2026-11-20T14:03:00.000Z',
});

const T0 = Date.parse('2026-11-20T14:05:00.000Z');
const at = (offsetMs: number) => new Date(T0 + offsetMs);
const S = 1000;
const MIN = 60 * S;
const CLUSTER = 'projects/example-prod/locations/europe-west1/clusters/prod-1';
const LIMITS: BudgetLimits = { windowMinutes: 60, perCluster: { podRemovals: 3, cordons: 1 }, perNamespace: { podRemovals: 2 } };

async function acquire(store: Store, k: FindingKey, now: Date) {
  const claim = await store.claim(k, now);
  if (claim.kind !== 'acquired') throw new Error(`expected to acquire ${k.id}, got ${claim.kind}`);
  return claim;
}

const subjects: [string, (() => Store) | null][] = [
  ['LocalLedger (SQLite file)', () => localStore()],
  ['FirestoreLedger (Firestore emulator)', firestoreEmu ? () => firestoreStore() : null],
];

describe.each(subjects)('%s', (_name, make) => {
  const it_ = make ? it : it.skip;
  const store = () => make!();

  it_('a first claim acquires attempt 1 with nothing recorded; another claim while the lease lives is busy', async () => {
    const s = store();
    const k = key('first');
    expect(await s.claim(k, at(0))).toMatchObject({ kind: 'acquired', attempt: 1, summary: null, deliveries: {} });
    expect(await s.claim(k, at(599 * S))).toEqual({ kind: 'busy', leaseExpiresAt: at(600 * S).toISOString() });
  });

  it_('a completed finding is a duplicate, before and after its lease, and accepts no more writes', async () => {
    const s = store();
    const k = key('completed');
    const claim = await acquire(s, k, at(0));
    await s.complete(k, claim.token, at(1 * S));
    expect(await s.claim(k, at(2 * S))).toEqual({ kind: 'completed', completedAt: at(1 * S).toISOString() });
    expect(await s.claim(k, at(700 * S))).toEqual({ kind: 'completed', completedAt: at(1 * S).toISOString() });
    await expect(s.recordOutcomes(k, claim.token, [], at(3 * S))).rejects.toThrow(TransientError);
    await expect(s.complete(k, claim.token, at(3 * S))).rejects.toThrow(/lease lost/);
  });

  it_('a released claim is taken over at once, attempt + 1, with the outcomes, summary and deliveries recorded', async () => {
    const s = store();
    const k = key('released');
    const summary = summaryFor(notificationV1());
    const slack: SinkDelivery = { status: 'failed', attempts: 3, at: at(4 * S).toISOString(), error: 'HTTP 500', round: 1 };
    const first = await acquire(s, k, at(0));
    await s.recordOutcomes(k, first.token, [{ type: 'delete-pod', status: 'pending', reason: 'HTTP 500' }], at(1 * S));
    await s.recordOutcomes(k, first.token, [{ type: 'label-pod', status: 'done', reason: 'labelled' }], at(2 * S));
    await s.recordSummary(k, first.token, summary, at(3 * S));
    await s.recordDelivery(k, first.token, 'slack', slack, at(4 * S));
    await s.release(k, first.token, at(5 * S));

    const second = await acquire(s, k, at(6 * S));
    expect(second.attempt).toBe(2);
    expect(second.token).not.toBe(first.token);
    expect(Object.fromEntries(second.previous)).toEqual({
      'delete-pod': { type: 'delete-pod', status: 'pending', reason: 'HTTP 500' },
      'label-pod': { type: 'label-pod', status: 'done', reason: 'labelled' },
    });
    expect(second.summary).toEqual(summary);
    expect(second.deliveries).toEqual({ slack });
    // A later outcome of the same action replaces the earlier one; the others stay.
    await s.recordOutcomes(k, second.token, [{ type: 'delete-pod', status: 'done', reason: 'deleted' }], at(7 * S));
    await s.release(k, second.token, at(8 * S));
    const third = await acquire(s, k, at(9 * S));
    expect(third.attempt).toBe(3);
    expect(third.previous.get('delete-pod')).toMatchObject({ status: 'done' });
    expect(third.previous.get('label-pod')).toMatchObject({ status: 'done' });
  });

  it_('an expired lease is taken over; the old holder is fenced out of every write and cannot release the new claim', async () => {
    const s = store();
    const k = key('fenced');
    const a = await acquire(s, k, at(0));
    await s.recordOutcomes(k, a.token, [{ type: 'label-pod', status: 'done', reason: 'by A' }], at(1 * S));

    const b = await acquire(s, k, at(601 * S));
    expect(b.attempt).toBe(2);
    expect(b.previous.get('label-pod')).toMatchObject({ reason: 'by A' });

    const fenced = [
      s.recordOutcomes(k, a.token, [{ type: 'delete-pod', status: 'done', reason: 'by A, late' }], at(602 * S)),
      s.recordSummary(k, a.token, summaryFor(notificationV1()), at(602 * S)),
      s.recordDelivery(k, a.token, 'chat', { status: 'sent', attempts: 1, at: at(602 * S).toISOString() }, at(602 * S)),
      s.complete(k, a.token, at(602 * S)),
    ];
    for (const write of fenced) {
      await expect(write).rejects.toBeInstanceOf(TransientError);
      await expect(write).rejects.toThrow(/lease lost/);
    }
    await s.release(k, a.token, at(603 * S)); // a no-op: the claim is B's
    expect(await s.claim(k, at(604 * S))).toEqual({ kind: 'busy', leaseExpiresAt: at(1201 * S).toISOString() });

    // None of A's late writes landed: the next holder sees A's first outcome only.
    await s.release(k, b.token, at(605 * S));
    const c = await acquire(s, k, at(606 * S));
    expect(c.attempt).toBe(3);
    expect([...c.previous.keys()]).toEqual(['label-pod']);
    expect(c.summary).toBeNull();
    expect(c.deliveries).toEqual({});
    await s.complete(k, c.token, at(607 * S));
    expect(await s.claim(k, at(608 * S))).toMatchObject({ kind: 'completed' });
  });

  it_('every write extends the lease', async () => {
    const s = store();
    const k = key('extended');
    const a = await acquire(s, k, at(0));
    await s.recordOutcomes(k, a.token, [], at(500 * S));
    expect(await s.claim(k, at(601 * S))).toEqual({ kind: 'busy', leaseExpiresAt: at(1100 * S).toISOString() });
  });

  it_('refuses a key id that is not a sha256 digest (the id is never the attacker-chosen name)', async () => {
    const s = store();
    await expect(s.claim({ id: '../../etc/passwd', findingName: 'x', eventTime: null }, at(0))).rejects.toBeInstanceOf(PermanentError);
  });

  it_('the budget counts per cluster and per namespace in a sliding window; a retry of the same key keeps its reservation', async () => {
    const s = store();
    const reserve = (k: string, namespace: string, actions: ('delete-pod' | 'cordon-node')[], offsetMs: number, cluster = CLUSTER) =>
      s.reserve({ key: k, cluster, namespace, actions, limits: LIMITS, now: at(offsetMs) });

    expect(await reserve('k1', 'alpha', ['delete-pod', 'cordon-node'], 0)).toEqual({ granted: ['delete-pod', 'cordon-node'], denied: new Map() });
    const second = await reserve('k2', 'alpha', ['delete-pod', 'cordon-node'], 1 * MIN);
    expect(second.granted).toEqual(['delete-pod']);
    expect(second.denied.get('cordon-node')).toMatch(/^budget: cluster .*prod-1 already had 1 cordon\(s\) in the last 60 min \(limit 1\)$/);
    expect((await reserve('k3', 'alpha', ['delete-pod'], 2 * MIN)).denied.get('delete-pod')).toMatch(/^budget: namespace alpha .* 2 pod removal/);
    expect((await reserve('k1', 'alpha', ['delete-pod', 'cordon-node'], 3 * MIN)).granted).toEqual(['delete-pod', 'cordon-node']);
    expect((await reserve('k4', 'beta', ['delete-pod'], 3 * MIN)).granted).toEqual(['delete-pod']);
    expect((await reserve('k5', 'gamma', ['delete-pod'], 4 * MIN)).denied.get('delete-pod')).toMatch(/^budget: cluster .* 3 pod removal/);
    // Another cluster has its own budget.
    expect((await reserve('k5', 'gamma', ['delete-pod'], 4 * MIN, `${CLUSTER}-other`)).granted).toEqual(['delete-pod']);
    // 61 minutes on, k1's and k2's reservations have left the window; k4's has not.
    expect((await reserve('k6', 'alpha', ['delete-pod', 'cordon-node'], 61 * MIN)).granted).toEqual(['delete-pod', 'cordon-node']);
    expect((await reserve('k7', 'delta', ['delete-pod'], 61 * MIN)).granted).toEqual(['delete-pod']);
    expect((await reserve('k8', 'epsilon', ['delete-pod'], 61 * MIN)).denied.has('delete-pod')).toBe(true);
  });

  it_("a refund gives back only that key's named reservations", async () => {
    const s = store();
    const reserve = (k: string, actions: ('delete-pod' | 'cordon-node')[], offsetMs: number) =>
      s.reserve({ key: k, cluster: CLUSTER, namespace: 'alpha', actions, limits: LIMITS, now: at(offsetMs) });
    await reserve('k1', ['delete-pod', 'cordon-node'], 0);
    expect((await reserve('k2', ['cordon-node'], 1 * MIN)).denied.has('cordon-node')).toBe(true);
    await s.refund({ key: 'k2', cluster: CLUSTER, namespace: 'alpha', actions: ['cordon-node'], now: at(2 * MIN) });
    expect((await reserve('k3', ['cordon-node'], 3 * MIN)).denied.has('cordon-node')).toBe(true);
    await s.refund({ key: 'k1', cluster: CLUSTER, namespace: 'alpha', actions: ['cordon-node'], now: at(4 * MIN) });
    expect((await reserve('k3', ['cordon-node', 'delete-pod'], 5 * MIN)).granted).toEqual(['cordon-node', 'delete-pod']);
    // k1's delete-pod was not refunded: alpha now has two.
    expect((await reserve('k4', ['delete-pod'], 6 * MIN)).denied.get('delete-pod')).toMatch(/^budget: namespace alpha/);
    // Refunding on a cluster with no budget yet is a no-op.
    await s.refund({ key: 'k1', cluster: `${CLUSTER}-none`, namespace: 'alpha', actions: ['delete-pod'], now: at(7 * MIN) });
  });

  it_('lists the incidents changed since a moment, newest first, with outcomes in action order and the summary', async () => {
    const s = store();
    const summary = summaryFor(notificationV1());
    const old = key('old');
    const oldClaim = await acquire(s, old, at(-2 * 86_400_000));
    await s.complete(old, oldClaim.token, at(-2 * 86_400_000 + S));

    const mid = key('mid');
    const midClaim = await acquire(s, mid, at(0));
    await s.recordOutcomes(mid, midClaim.token, [{ type: 'delete-pod', status: 'done', reason: 'deleted', details: { pod: 'checkout' } }], at(1 * S));
    await s.recordOutcomes(mid, midClaim.token, [{ type: 'label-pod', status: 'done', reason: 'labelled' }], at(2 * S));
    await s.recordSummary(mid, midClaim.token, summary, at(3 * S));
    await s.complete(mid, midClaim.token, at(10 * S));

    const fresh = key('fresh');
    await acquire(s, fresh, at(60 * MIN));
    // A budget document changed later still: it is not an incident.
    await s.reserve({ key: mid.id, cluster: CLUSTER, namespace: 'payments', actions: ['delete-pod'], limits: LIMITS, now: at(120 * MIN) });

    const listed = await s.listIncidents(at(-60 * MIN));
    expect(listed.map((i) => i.id)).toEqual([fresh.id, mid.id]);
    expect(listed[1]).toEqual({
      id: mid.id,
      findingName: mid.findingName,
      eventTime: mid.eventTime,
      state: 'completed',
      attempt: 1,
      outcomes: [
        { type: 'label-pod', status: 'done', reason: 'labelled' },
        { type: 'delete-pod', status: 'done', reason: 'deleted', details: { pod: 'checkout' } },
      ],
      summary: { headline: summary.headline, outcome: summary.outcome, target: summary.target },
      release: null,
      createdAt: at(0).toISOString(),
      updatedAt: at(10 * S).toISOString(),
      completedAt: at(10 * S).toISOString(),
    });
    expect(listed[0]).toMatchObject({ state: 'in-progress', attempt: 1, outcomes: [], summary: null, release: null, completedAt: null });
    expect(await s.listIncidents(at(10 * S))).toHaveLength(2); // "since" includes its own moment
    expect(await s.listIncidents(at(10 * S + 1))).toHaveLength(1);
    expect(await s.listIncidents(at(120 * MIN))).toEqual([]);
  });

  it_('records a release without the claim and without touching state or owner; a dry run never hides a real release', async () => {
    const s = store();
    const k = key('release');
    const holder = await acquire(s, k, at(0));
    const real: ReleaseRecord = {
      at: at(1 * MIN).toISOString(),
      by: 'alice@example.com',
      dryRun: false,
      outcomes: [{ type: 'cordon-node', status: 'done', reason: 'uncordoned gke-prod-1-pool-a' }],
    };
    await s.recordRelease(k, real, at(1 * MIN));
    // The delivery that holds the finding still holds it and can still write.
    await s.recordOutcomes(k, holder.token, [{ type: 'label-pod', status: 'done', reason: 'labelled' }], at(2 * MIN));
    expect(await s.claim(k, at(3 * MIN))).toMatchObject({ kind: 'busy' });
    let [record] = await s.listIncidents(at(0));
    expect(record).toMatchObject({ state: 'in-progress', release: real, updatedAt: at(2 * MIN).toISOString() });

    await s.recordRelease(k, { ...real, at: at(4 * MIN).toISOString(), by: 'bob', dryRun: true }, at(4 * MIN));
    [record] = await s.listIncidents(at(0));
    expect(record?.release).toEqual(real);

    await s.complete(k, holder.token, at(5 * MIN));
    const again: ReleaseRecord = { ...real, at: at(6 * MIN).toISOString(), by: 'carol', outcomes: [] };
    await s.recordRelease(k, again, at(6 * MIN));
    [record] = await s.listIncidents(at(0));
    expect(record).toMatchObject({ state: 'completed', release: again, updatedAt: at(6 * MIN).toISOString(), completedAt: at(5 * MIN).toISOString() });
    expect(await s.claim(k, at(7 * MIN))).toEqual({ kind: 'completed', completedAt: at(5 * MIN).toISOString() });

    // A first release that is a dry run is recorded, and a real one replaces it.
    const other = key('release-dry-first');
    await acquire(s, other, at(0));
    const dry: ReleaseRecord = { at: at(1 * MIN).toISOString(), by: null, dryRun: true, outcomes: [{ type: 'cordon-node', status: 'would', reason: 'would uncordon' }] };
    await s.recordRelease(other, dry, at(1 * MIN));
    expect((await s.listIncidents(at(0))).find((i) => i.id === other.id)?.release).toEqual(dry);
    await s.recordRelease(other, { ...dry, dryRun: false }, at(2 * MIN));
    expect((await s.listIncidents(at(0))).find((i) => i.id === other.id)?.release).toMatchObject({ dryRun: false });

    await expect(s.recordRelease(key('never-seen'), real, at(8 * MIN))).rejects.toBeInstanceOf(PermanentError);
  });

  const request = (expiresAt: Date): ApprovalRequestRecord => ({
    rule: 'payments-approval',
    requestedAt: at(1 * S).toISOString(),
    expiresAt: expiresAt.toISOString(),
    notificationJson: JSON.stringify(notificationV1()),
    actions: ['label-pod', 'isolate-pod', 'delete-pod'],
    target: { cluster: 'projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1', namespace: 'payments', pod: 'checkout-7c9f8d6b5-q2w8x' },
  });
  const decision = (user: string, actionTs: string, kind: ApprovalDecisionRecord['decision'] = 'contain'): ApprovalDecisionRecord => ({
    decision: kind,
    by: { user, name: user.toLowerCase(), team: 'T0123ABCD' },
    at: at(5 * MIN).toISOString(),
    actionTs,
    reason: null,
  });

  it_('keeps the first approval request beside the claim, without touching state or owner; a redelivery cannot move its expiry', async () => {
    const s = store();
    const k = key('approval-request');
    await expect(s.recordRequest(k, request(at(60 * MIN)), at(1 * S))).rejects.toBeInstanceOf(PermanentError);
    const holder = await acquire(s, k, at(0));
    expect(await s.getRequest(k.id, at(1 * S))).toBeNull();
    expect(await s.recordRequest(k, request(at(60 * MIN)), at(1 * S))).toEqual(request(at(60 * MIN)));
    // The dry run still holds its claim and writes its summary.
    const summary = summaryFor(notificationV1());
    await s.recordSummary(k, holder.token, summary, at(2 * S));
    expect(await s.claim(k, at(3 * S))).toMatchObject({ kind: 'busy' });
    await s.complete(k, holder.token, at(4 * S));
    // A second request (the dry run's redelivery, later) keeps the first one.
    expect(await s.recordRequest(k, request(at(90 * MIN)), at(5 * S))).toEqual(request(at(60 * MIN)));
    expect(await s.getRequest(k.id, at(6 * S))).toEqual({
      state: { request: request(at(60 * MIN)), decision: null, result: null, refusals: [] },
      summary,
    });
    expect(await s.claim(k, at(7 * S))).toEqual({ kind: 'completed', completedAt: at(4 * S).toISOString() });
    await expect(s.getRequest('not-a-digest', at(7 * S))).rejects.toBeInstanceOf(PermanentError);
  });

  it_('lets exactly one decision through: a second click or a second approver sees the first decision', async () => {
    const s = store();
    const k = key('approval-claim');
    expect(await s.claimDecision(k.id, decision('U0AAAA1', '1.1'), at(0))).toEqual({ kind: 'missing' });
    const holder = await acquire(s, k, at(0));
    expect(await s.claimDecision(k.id, decision('U0AAAA1', '1.1'), at(1 * S))).toEqual({ kind: 'missing' }); // no request on it
    await s.recordRequest(k, request(at(60 * MIN)), at(1 * S));
    await s.complete(k, holder.token, at(2 * S));

    expect(await s.claimDecision(k.id, decision('U0AAAA1', '1.1'), at(5 * MIN))).toEqual({ kind: 'claimed' });
    expect(await s.claimDecision(k.id, decision('U0AAAA1', '1.1'), at(5 * MIN))).toEqual({ kind: 'decided', decision: decision('U0AAAA1', '1.1') });
    expect(await s.claimDecision(k.id, decision('U0BBBB2', '2.2', 'dismiss'), at(6 * MIN))).toEqual({ kind: 'decided', decision: decision('U0AAAA1', '1.1') });
    await s.recordDecision(k.id, { status: 'approved', at: at(7 * MIN).toISOString(), outcome: 'contained', summaryId: sha256('run'), note: null }, at(7 * MIN));
    expect((await s.getRequest(k.id, at(8 * MIN)))?.state).toMatchObject({
      decision: decision('U0AAAA1', '1.1'),
      result: { status: 'approved', outcome: 'contained', summaryId: sha256('run') },
    });
    await expect(s.recordDecision(key('no-approval').id, { status: 'dismissed', at: at(0).toISOString(), outcome: null, summaryId: null, note: null }, at(0))).rejects.toBeInstanceOf(PermanentError);
  });

  it_('keeps what the approver was shown (action types, target) with the request, nulls included', async () => {
    const s = store();
    const k = key('approval-scope');
    const holder = await acquire(s, k, at(0));
    const nodeOnly: ApprovalRequestRecord = { ...request(at(60 * MIN)), actions: ['cordon-node'], target: { cluster: CLUSTER, namespace: null, pod: null } };
    await s.recordRequest(k, nodeOnly, at(1 * S));
    await s.complete(k, holder.token, at(2 * S));
    expect((await s.getRequest(k.id, at(3 * S)))?.state.request).toEqual(nodeOnly);
    const other = key('approval-scope-full');
    const second = await acquire(s, other, at(0));
    await s.recordRequest(other, request(at(60 * MIN)), at(1 * S));
    await s.complete(other, second.token, at(2 * S));
    const kept = (await s.getRequest(other.id, at(3 * S)))!.state.request;
    expect(kept.actions).toEqual(['label-pod', 'isolate-pod', 'delete-pod']);
    expect(kept.target).toEqual(request(at(60 * MIN)).target);
  });

  it_('keeps the first result of a decision; "completed earlier" gives way to the run\'s own result', async () => {
    const s = store();
    const k = key('approval-result');
    const holder = await acquire(s, k, at(0));
    await s.recordRequest(k, request(at(60 * MIN)), at(1 * S));
    await s.complete(k, holder.token, at(2 * S));
    await s.claimDecision(k.id, decision('U0AAAA1', '1.1'), at(5 * MIN));
    const placeholder = { status: 'approved' as const, at: at(6 * MIN).toISOString(), outcome: null, summaryId: null, note: 'the approved run had already completed' };
    const real = { status: 'approved' as const, at: at(7 * MIN).toISOString(), outcome: 'contained' as const, summaryId: sha256('run'), note: null };
    expect(await s.recordDecision(k.id, placeholder, at(6 * MIN))).toEqual(placeholder);
    expect(await s.recordDecision(k.id, real, at(7 * MIN))).toEqual(real);
    // A later delivery that found the run done cannot overwrite what the run recorded, nor can another result.
    expect(await s.recordDecision(k.id, { ...placeholder, at: at(8 * MIN).toISOString() }, at(8 * MIN))).toEqual(real);
    expect(await s.recordDecision(k.id, { status: 'refused', at: at(9 * MIN).toISOString(), outcome: null, summaryId: null, note: 'x' }, at(9 * MIN))).toEqual(real);
    expect((await s.getRequest(k.id, at(10 * MIN)))?.state.result).toEqual(real);
  });

  it_('two approvers racing: one claim wins, the other sees its decision', async () => {
    const s = store();
    const k = key('approval-race');
    const holder = await acquire(s, k, at(0));
    await s.recordRequest(k, request(at(60 * MIN)), at(1 * S));
    await s.complete(k, holder.token, at(2 * S));
    const claims = await Promise.all([
      s.claimDecision(k.id, decision('U0AAAA1', '1.1'), at(5 * MIN)),
      s.claimDecision(k.id, decision('U0BBBB2', '2.2'), at(5 * MIN)),
    ]);
    expect(claims.map((c) => c.kind).sort()).toEqual(['claimed', 'decided']);
    const winner = (await s.getRequest(k.id, at(6 * MIN)))!.state.decision!;
    expect(claims.find((c) => c.kind === 'decided')).toEqual({ kind: 'decided', decision: winner });
  });

  it_(`keeps the last ${MAX_REFUSALS} refused attempts, newest last; a refusal for an unknown incident is only logged`, async () => {
    const s = store();
    const k = key('approval-refusals');
    const holder = await acquire(s, k, at(0));
    await s.recordRequest(k, request(at(60 * MIN)), at(1 * S));
    await s.complete(k, holder.token, at(2 * S));
    for (let i = 0; i < MAX_REFUSALS + 2; i++) {
      await s.recordRefusal(k.id, { user: `U0MALLORY${i}`, at: at(i * S).toISOString(), reason: 'not an approver for this rule' }, at(3 * S));
    }
    const refusals = (await s.getRequest(k.id, at(4 * S)))!.state.refusals;
    expect(refusals).toHaveLength(MAX_REFUSALS);
    expect(refusals[0]!.user).toBe('U0MALLORY2');
    expect(refusals.at(-1)!.user).toBe(`U0MALLORY${MAX_REFUSALS + 1}`);
    await expect(s.recordRefusal(key('never-requested').id, { user: 'U0X1', at: at(0).toISOString(), reason: 'x' }, at(0))).resolves.toBeUndefined();
  });
});

describe('LocalLedger on its own', () => {
  it('finds its file under $SCC_RESPONDER_LOCAL_LEDGER, else $XDG_STATE_HOME, else ~/.local/state', () => {
    expect(localLedgerPath({ SCC_RESPONDER_LOCAL_LEDGER: '/srv/ir/ledger.db', XDG_STATE_HOME: '/state' })).toBe('/srv/ir/ledger.db');
    expect(localLedgerPath({ SCC_RESPONDER_LOCAL_LEDGER: ':memory:' })).toBe(join(process.cwd(), ':memory:'));
    expect(localLedgerPath({ XDG_STATE_HOME: '/state', HOME: '/home/u' })).toBe('/state/scc-responder/ledger.sqlite');
    expect(localLedgerPath({ XDG_STATE_HOME: 'relative/state', HOME: '/home/u' })).toBe('/home/u/.local/state/scc-responder/ledger.sqlite');
    expect(localLedgerPath({ HOME: '/home/u' })).toBe('/home/u/.local/state/scc-responder/ledger.sqlite');
  });

  it('creates its directory 0700 and its file 0600, and tightens a file that is readable by others', async () => {
    const base = join(scratch, randomUUID());
    const stateHome = join(base, 'state');
    const store = localLedgerFromEnv({ XDG_STATE_HOME: stateHome });
    opened.push(store);
    await store.claim(key('modes'), at(0));
    expect(store.path).toBe(join(stateHome, 'scc-responder', 'ledger.sqlite'));
    expect(statSync(join(stateHome, 'scc-responder')).mode & 0o777).toBe(0o700);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);

    const loose = join(base, 'loose.sqlite');
    writeFileSync(loose, '');
    chmodSync(loose, 0o644);
    opened.push(localLedgerFromEnv({ SCC_RESPONDER_LOCAL_LEDGER: loose }));
    expect(statSync(loose).mode & 0o777).toBe(0o600);
  });

  it("keeps Firestore's documents, as JSON, under Firestore's ids", async () => {
    const path = join(scratch, randomUUID(), 'ledger.sqlite');
    const s = localStore(path);
    const k = key('shape');
    const claim = await acquire(s, k, at(0));
    await s.recordOutcomes(k, claim.token, [{ type: 'label-pod', status: 'done', reason: 'labelled' }], at(1 * S));
    await s.reserve({ key: k.id, cluster: CLUSTER, namespace: 'payments', actions: ['delete-pod'], limits: LIMITS, now: at(2 * S) });
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = raw.prepare('SELECT id, body FROM documents ORDER BY id').all() as { id: string; body: string }[];
      expect(rows.map((r) => r.id)).toEqual([`b-${sha256(CLUSTER)}`, `f-${k.id}`]);
      expect(JSON.parse(rows[1]!.body)).toEqual({
        kind: 'finding',
        schema: 1,
        findingName: k.findingName,
        eventTime: k.eventTime,
        state: 'in-progress',
        owner: claim.token,
        leaseExpiresAt: at(601 * S).toISOString(),
        attempt: 1,
        outcomes: { 'label-pod': { type: 'label-pod', status: 'done', reason: 'labelled' } },
        summaryJson: null,
        deliveries: {},
        createdAt: at(0).toISOString(),
        updatedAt: at(1 * S).toISOString(),
        completedAt: null,
        expireAt: at(1 * S + 30 * 86_400_000).toISOString(),
      });
      expect(JSON.parse(rows[0]!.body)).toEqual({
        kind: 'budget',
        cluster: CLUSTER,
        entries: [{ key: k.id, action: 'delete-pod', namespace: 'payments', at: T0 + 2 * S }],
        updatedAt: at(2 * S).toISOString(),
        expireAt: at(2 * S + 30 * 86_400_000 + 60 * MIN).toISOString(),
      });
    } finally {
      raw.close();
    }
  });

  it('drops documents past their expireAt at the next claim, as the Firestore TTL policy would', async () => {
    const s = localStore();
    const k = key('ttl');
    const claim = await acquire(s, k, at(0));
    await s.complete(k, claim.token, at(1 * S));
    expect(await s.claim(k, at(29 * 86_400_000))).toMatchObject({ kind: 'completed' });
    expect(await s.claim(k, at(31 * 86_400_000))).toMatchObject({ kind: 'acquired', attempt: 1 });
  });

  it('refuses a file written by a newer schema rather than misreading it', () => {
    const path = join(scratch, randomUUID(), 'ledger.sqlite');
    localStore(path);
    const raw = new DatabaseSync(path);
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    expect(() => localStore(path)).toThrow(PermanentError);
    expect(() => localStore(path)).toThrow(/newer scc-responder \(schema 99\)/);
  });
});

/** A separate Node process on the ledger file (test/support/ledger-child.ts), driven one command at a time. */
class LedgerProcess {
  readonly #proc: ReturnType<typeof spawn>;
  readonly #replies: ChildReply[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #exited: Promise<void>;
  #ready = false;
  #stdout = '';
  #stderr = '';
  #exit: string | null = null;

  constructor(path: string) {
    this.#proc = spawn(process.execPath, [CHILD, path], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stdout!.on('data', (chunk: Buffer) => {
      this.#stdout += chunk.toString('utf8');
      const lines = this.#stdout.split('\n');
      this.#stdout = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') this.#ready = true;
        else if (line.startsWith('{')) this.#replies.push(JSON.parse(line) as ChildReply);
        else this.#stderr += `(stdout) ${line}\n`; // anything else fails the empty-stderr check
      }
      this.#wake();
    });
    this.#proc.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString('utf8')));
    this.#exited = new Promise((resolve) =>
      this.#proc.once('exit', (code, signal) => {
        this.#exit = `exited (code ${code}, signal ${signal})`;
        this.#wake();
        resolve();
      }),
    );
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves with the probe's value once it is defined; rejects if the process ends first. */
  async #until<T>(what: string, probe: () => T | undefined): Promise<T> {
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (this.#exit !== null) throw new Error(`ledger child ${this.#exit} before ${what}: ${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  ready(): Promise<true> {
    return this.#until('ready', () => (this.#ready ? true : undefined));
  }

  started(n: number): Promise<ChildReply> {
    return this.#until(`command ${n} started`, () => this.#replies.find((r) => r.n === n && 'phase' in r));
  }

  async outcome(n: number): Promise<string | boolean> {
    const reply = await this.#until(`command ${n} answered`, () => this.#replies.find((r) => r.n === n && !('phase' in r)));
    if ('error' in reply) throw new Error(`ledger child, command ${n}: ${reply.error}`);
    if (!('result' in reply)) throw new Error(`ledger child, command ${n}: no result`);
    return reply.result;
  }

  send(command: ChildCommand): void {
    this.#proc.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Ends stdin and waits for the exit; returns what the process wrote to stderr. */
  async end(): Promise<string> {
    this.#proc.stdin!.end();
    await this.#exited;
    return this.#stderr;
  }
}

/**
 * Runs rounds in which every child issues its command at the same moment. The
 * moment is made, not hoped for: the test holds the file's write lock while it
 * sends the round's commands, waits until every child has started its store
 * call, and only then lets go, so that all of them contend for the same commit.
 */
async function lockstep(path: string, rounds: ChildCommand[][]): Promise<(string | boolean)[][]> {
  const children = rounds[0]!.map(() => new LedgerProcess(path));
  try {
    await Promise.all(children.map((c) => c.ready()));
    const gate = new DatabaseSync(path);
    gate.exec('PRAGMA busy_timeout = 20000');
    const results: (string | boolean)[][] = [];
    try {
      for (const commands of rounds) {
        gate.exec('BEGIN IMMEDIATE');
        commands.forEach((command, i) => children[i]!.send(command));
        await Promise.all(commands.map((command, i) => children[i]!.started(command.n)));
        gate.exec('COMMIT');
        results.push(await Promise.all(commands.map((command, i) => children[i]!.outcome(command.n))));
      }
    } finally {
      if (gate.isTransaction) gate.exec('ROLLBACK');
      gate.close();
    }
    const stderr = await Promise.all(children.map((c) => c.end()));
    // node:sqlite's ExperimentalWarning is swallowed by the adapter: a CLI needs no Node flag for it.
    expect(stderr).toEqual(children.map(() => ''));
    return results;
  } finally {
    for (const c of children) await c.end().catch(() => undefined);
  }
}

describe('LocalLedger across OS processes (two CLI runs on one machine)', () => {
  it('two processes claiming the same key at the same moment: exactly one acquires, the other sees busy', async () => {
    const path = join(scratch, randomUUID(), 'ledger.sqlite');
    localStore(path); // the file and schema exist before the gate opens it
    const now = at(0).toISOString();
    const rounds = Array.from({ length: 8 }, (_, n): ChildCommand[] => {
      const id = sha256(`race-${n}`);
      return [{ n, op: 'claim', id, now }, { n, op: 'claim', id, now }];
    });
    for (const round of await lockstep(path, rounds)) expect([...round].sort()).toEqual(['acquired', 'busy']);
  });

  it('the budget is shared across processes: two reservations that together exceed the limit, one denied', async () => {
    const path = join(scratch, randomUUID(), 'ledger.sqlite');
    localStore(path);
    const limits: BudgetLimits = { windowMinutes: 60, perCluster: { podRemovals: 100, cordons: 1 }, perNamespace: { podRemovals: 1 } };
    const now = at(0).toISOString();
    // Each round a namespace of its own with room for one pod removal; both processes ask for it.
    const rounds = Array.from({ length: 8 }, (_, n): ChildCommand[] =>
      ['a', 'b'].map((who) => ({ n, op: 'reserve', key: `${who}-${n}`, cluster: CLUSTER, namespace: `ns-${n}`, limits, now })),
    );
    for (const round of await lockstep(path, rounds)) expect([...round].sort()).toEqual([false, true]);
    const s = localStore(path);
    const after = await s.reserve({ key: 'c', cluster: CLUSTER, namespace: 'ns-0', actions: ['delete-pod'], limits, now: at(1 * S) });
    expect(after.denied.get('delete-pod')).toMatch(/^budget: namespace ns-0 .* 1 pod removal/);
  });
});

/** Every source file reachable from `entry` through static and literal dynamic imports (packages left out). */
async function reachableFrom(entry: string): Promise<string[]> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    outdir: join(scratch, 'esbuild-out'),
    splitting: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

describe('the function never uses the local ledger', () => {
  it('no import path from the function entry (src/index.ts) leads to src/adapters/local-ledger.ts', async () => {
    const fromFunction = await reachableFrom('src/index.ts');
    expect(fromFunction).toContain('src/adapters/firestore-ledger.ts'); // the real graph, lazy imports included
    expect(fromFunction).not.toContain('src/adapters/local-ledger.ts');
    // The check sees the local ledger where it is imported.
    expect(await reachableFrom('test/support/ledger-child.ts')).toContain('src/adapters/local-ledger.ts');
  });
});
