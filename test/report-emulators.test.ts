// Report and remember, on real components: the pipeline with the Firestore
// ledger/budget (emulator), the Pub/Sub ops sink (emulator) and Slack/Chat
// webhooks (loopback recorder). Each "instance" has its own Firestore and
// Pub/Sub clients, as separate function instances would.
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { FirestoreLedger } from '../src/adapters/firestore-ledger.ts';
import { pubsubSummarySink } from '../src/adapters/pubsub-sink.ts';
import { webhookSink } from '../src/adapters/webhook.ts';
import { formatChat } from '../src/core/summary/chat/format.ts';
import { TransientError } from '../src/core/errors.ts';
import type { ActionOutcome } from '../src/core/plan/outcome.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { ClusterResponder, ContainmentRequest, Severity } from '../src/core/ports.ts';
import { formatSlack } from '../src/core/summary/slack/format.ts';
import { type Summary } from '../src/core/summary/document.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { handleInput, type PipelineDeps, type PipelineResult } from '../src/pipeline/respond.ts';
import { parseEnv } from '../src/config.ts';
import { reportWiring } from '../src/wiring/report-sinks.ts';
import { emulatorOrSkip, startFirestoreEmulator, startPubsubEmulator } from './support/emulators.ts';
import { notificationV1, pushBody } from './support/fixtures.ts';
import { pubsubRest } from './support/pubsub-rest.ts';
import { startWebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummary, summaryCheckingLog } from './support/summary-check.ts';

const PROJECT = 'test-project';
const SECRET = 'sk_live_EXAMPLEDONOTUSE0000000000';

const [firestoreEmu, pubsubEmu] = await Promise.all([
  emulatorOrSkip(() => startFirestoreEmulator(), 'ledger/report tests (Firestore emulator)'),
  emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'ledger/report tests (Pub/Sub emulator)'),
]);
const ready = firestoreEmu !== null && pubsubEmu !== null;
const webhooks = await startWebhookRecorder();
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await webhooks.close();
  await Promise.all([firestoreEmu?.stop(), pubsubEmu?.stop()]);
});

/**
 * Records every contain() call; acts like the real responder: idempotent (what is in place is
 * `already`), honouring budget, earlier deliveries' outcomes and what the run before the claim reached.
 */
function recordingResponder() {
  const requests: ContainmentRequest[] = [];
  const executed: string[] = [];
  const applied = new Set<string>();
  const responder: ClusterResponder = {
    async contain(request) {
      requests.push(request);
      const outcomes = request.plan.actions.map<ActionOutcome>((a) => {
        const previous = request.previous?.get(a.type);
        if (previous && (previous.status === 'done' || previous.status === 'already')) return previous;
        const carried = request.carried?.get(a.type);
        if (carried) return carried;
        const denied = request.deniedByBudget.get(a.type);
        if (denied) return { type: a.type, status: 'skipped', reason: denied };
        if (request.plan.dryRun) return { type: a.type, status: 'would', reason: `would ${a.type}` };
        const what = `${a.type}:${a.namespace}/${a.pod}`;
        if (applied.has(what)) return { type: a.type, status: 'already', reason: `${a.type} already in place` };
        applied.add(what);
        executed.push(what);
        return { type: a.type, status: 'done', reason: `${a.type} done` };
      });
      return { outcomes, snapshots: {}, warnings: [] };
    },
  };
  /** The calls after the ledger claim: the ones that may act destructively and end in a summary. */
  const acting = () => requests.filter((r) => r.stage !== 'before-claim');
  return { responder, requests, acting, executed, applied };
}

interface World {
  collection: string;
  opsTopic: string;
  opsSub: string;
  slackPath: string;
  chatPath: string;
  policy: Policy;
  responder: ReturnType<typeof recordingResponder>;
  logs: { severity: Severity; step: string; message: string; fields: Record<string, unknown> }[];
}

async function world(policyInput: Record<string, unknown>): Promise<World> {
  const id = randomUUID().slice(0, 8);
  const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
  const opsTopic = `ops-${id}`;
  await rest.createTopic(opsTopic);
  await rest.createPullSubscription(`ops-pull-${id}`, opsTopic);
  return {
    collection: `ledger-${id}`,
    opsTopic,
    opsSub: `ops-pull-${id}`,
    slackPath: `/slack/${id}`,
    chatPath: `/chat/${id}`,
    policy: validatePolicy(policyInput),
    responder: recordingResponder(),
    logs: [],
  };
}

/** One function instance: its own Firestore and Pub/Sub clients, sharing the world's cluster. */
function instance(w: World, options: { now?: () => Date } = {}): PipelineDeps & { ledgerStore: FirestoreLedger } {
  const ledgerStore = new FirestoreLedger({
    projectId: PROJECT,
    collection: w.collection,
    leaseSeconds: 600,
    ttlDays: 30,
    emulatorHost: firestoreEmu!.hostPort,
  });
  const ops = pubsubSummarySink({ topic: `projects/${PROJECT}/topics/${w.opsTopic}`, projectId: PROJECT, emulatorHost: pubsubEmu!.hostPort });
  closers.push(() => ledgerStore.close(), () => ops.close());
  return {
    ledgerStore,
    policy: w.policy,
    now: options.now ?? (() => new Date()),
    log: summaryCheckingLog({ log: (severity, step, message, fields = {}) => void w.logs.push({ severity, step, message, fields }) }),
    clusterResponder: async () => w.responder.responder,
    ledger: async () => ledgerStore,
    budget: async () => ledgerStore,
    summarySinks: async () => [
      ops,
      webhookSink('slack', webhooks.url(w.slackPath), formatSlack),
      webhookSink('chat', webhooks.url(w.chatPath), formatChat),
    ],
    sleep: async () => {},
  };
}

/**
 * The summaries on the world's ops topic: waits until `expected` have come, then
 * drains up to a marker published behind them, so that one too many shows too.
 * The sink's publish has returned, but the emulator serves a message to pull a
 * little after it acknowledged it: waiting pulls, not pulling for a while and hoping.
 */
async function opsSummaries(w: World, expected: number): Promise<{ summary: Summary; attributes: Record<string, string>; raw: string }[]> {
  const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
  const out: { summary: Summary; attributes: Record<string, string>; raw: string }[] = [];
  const marker = randomUUID();
  let markerSeen = false;
  const pull = async () => {
    // Bounded only so that a missing summary fails as a wrong count rather than a test timeout.
    const got = await rest.pullAll(w.opsSub, { waitMs: 20_000 });
    for (const m of got) {
      if (m.attributes.testMarker === marker) markerSeen = true;
      else out.push({ summary: noteSummary(JSON.parse(m.data) as Summary, 'ops topic message'), attributes: m.attributes, raw: m.data });
    }
    return got.length > 0;
  };
  while (out.length < expected) if (!(await pull())) return out;
  // The emulator serves a subscription in publish order: whatever else is there comes before the marker.
  await rest.publish(w.opsTopic, { marker }, { testMarker: marker });
  while (!markerSeen) if (!(await pull())) throw new Error('the marker published behind the summaries never came back');
  return out;
}

function findingIn(namespace: string, n: number): Record<string, any> {
  const f = structuredClone(notificationV1());
  f.finding.name = `organizations/123456789012/sources/11223344556677889900/findings/budget${namespace.replace(/-/g, '')}${n}`;
  f.finding.kubernetes.pods[0].ns = namespace;
  f.finding.kubernetes.pods[0].name = `web-${n}-abc12`;
  return f;
}

async function settle(run: () => Promise<PipelineResult>): Promise<PipelineResult | 'transient'> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof TransientError) return 'transient';
    throw error;
  }
}

const d = ready ? describe : describe.skip;
const LIVE = { dryRun: false, rules: [{ name: 'contain', actions: ['label-pod', 'delete-pod'] }] };

d('ledger and summary on the emulators', () => {
  it('a redelivery ×10 acts once and reports once, on every sink', async () => {
    const w = await world(LIVE);
    const a = instance(w);
    const b = instance(w);
    const message = pushBody(notificationV1());
    const results: PipelineResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await handleInput(message, i % 2 === 0 ? a : b));

    expect(results.map((r) => r.status)).toEqual(['responded', ...Array(9).fill('duplicate')]);
    expect(w.responder.acting()).toHaveLength(1);
    expect(w.responder.executed).toEqual(['label-pod:payments/checkout-7c9f8d6b5-q2w8x', 'delete-pod:payments/checkout-7c9f8d6b5-q2w8x']);
    const ops = await opsSummaries(w, 1);
    expect(ops).toHaveLength(1);
    expect(ops[0]?.attributes).toMatchObject({ category: 'Unexpected Child Shell', severity: 'CRITICAL', cluster: 'shop-prod-1', outcome: 'contained' });
    expect(ops[0]?.summary.actions.map((x) => x.status)).toEqual(['done', 'done']);
    expect(webhooks.posts(w.slackPath)).toHaveLength(1);
    expect(webhooks.posts(w.chatPath)).toHaveLength(1);
    expect(w.logs.filter((l) => l.step === 'summary')).toHaveLength(1);

    // Secrets: the fixture's STRIPE_API_KEY value reaches no sink and no log line.
    for (const payload of [ops[0]!.raw, ...webhooks.posts(w.slackPath).map((p) => p.body), ...webhooks.posts(w.chatPath).map((p) => p.body), JSON.stringify(w.logs)]) {
      expect(payload).not.toContain(SECRET);
      expect(payload).toContain('STRIPE_API_KEY');
    }
  });

  it('two instances racing on one finding: one set of actions, one summary', async () => {
    const w = await world(LIVE);
    const a = instance(w);
    const b = instance(w);
    const message = pushBody(notificationV1());
    const first = await Promise.all([settle(() => handleInput(message, a)), settle(() => handleInput(message, b))]);
    // The loser either saw the claim (TransientError: retry later) or the finished record (duplicate).
    expect(first.filter((r) => r !== 'transient' && r.status === 'responded')).toHaveLength(1);
    // Pub/Sub redelivers the loser's message: now it is a duplicate.
    const retried = await handleInput(message, b);
    expect(retried.status).toBe('duplicate');
    expect(w.responder.acting()).toHaveLength(1);
    expect(w.responder.executed).toHaveLength(2);
    expect(await opsSummaries(w, 1)).toHaveLength(1);
    expect(webhooks.posts(w.slackPath)).toHaveLength(1);
  });

  it('the blast-radius budget holds across instances, and the summary says so', async () => {
    const w = await world({ dryRun: false, rules: [{ name: 'remove', actions: ['delete-pod'] }] });
    const instances = [instance(w), instance(w)];
    // Four findings in four namespaces, two instances at once: the cluster allows 3 pod removals per hour.
    const outcomes = await Promise.all(
      ['alpha', 'beta', 'gamma', 'delta'].map(async (ns, i) => {
        for (;;) {
          const r = await settle(() => handleInput(pushBody(findingIn(ns, i)), instances[i % 2]!));
          if (r !== 'transient') return r;
        }
      }),
    );
    expect(outcomes.every((r) => r.status === 'responded')).toBe(true);
    expect(w.responder.executed.filter((e) => e.startsWith('delete-pod'))).toHaveLength(3);
    const denied = outcomes.filter((r) => r.summary?.budget.exceeded);
    expect(denied).toHaveLength(1);
    expect(denied[0]?.summary?.actions[0]).toMatchObject({ type: 'delete-pod', status: 'skipped', reason: expect.stringMatching(/^budget: cluster .* 3 pod removal/) });

    // Per namespace: two removals in "alpha" already? One so far; two more findings there → the second is refused.
    const more = [await handleInput(pushBody(findingIn('alpha', 7)), instances[0]!), await handleInput(pushBody(findingIn('alpha', 8)), instances[1]!)];
    expect(more.every((r) => r.summary?.budget.exceeded)).toBe(true); // the cluster is already full

    const ops = await opsSummaries(w, 6);
    expect(ops).toHaveLength(6);
    expect(ops.filter((o) => o.attributes.budgetExceeded === 'true')).toHaveLength(3);
    const slack = webhooks.posts(w.slackPath).map((p) => p.body);
    expect(slack.filter((b) => b.includes('Blast-radius budget exceeded'))).toHaveLength(3);
  });

  it('a namespace limit refuses the third removal in one namespace', async () => {
    const w = await world({ dryRun: false, rules: [{ name: 'remove', actions: ['evict-pod'] }] });
    const a = instance(w);
    const results = [];
    for (const n of [1, 2, 3]) results.push(await handleInput(pushBody(findingIn('shop', n)), a));
    expect(results.map((r) => r.summary?.actions[0]?.status)).toEqual(['done', 'done', 'skipped']);
    expect(results[2]?.summary?.actions[0]?.reason).toMatch(/^budget: namespace shop .* 2 pod removal/);
  });

  it('dry-run consumes no budget', async () => {
    const w = await world({ dryRun: true, rules: [{ name: 'remove', actions: ['delete-pod', 'cordon-node'] }] });
    const a = instance(w);
    for (const n of [1, 2, 3, 4, 5]) {
      const r = await handleInput(pushBody(findingIn('dry', n)), a);
      expect(r.summary?.actions.map((x) => x.status)).toEqual(['would', 'would']);
      expect(r.summary?.budget.exceeded).toBe(false);
    }
    const budgetDocs = await a.ledgerStore.db.collection(w.collection).where('kind', '==', 'budget').get();
    expect(budgetDocs.size).toBe(0);
  });

  it('a failing sink is retried within bounds; the redelivery resends only to it and never acts again', async () => {
    const w = await world(LIVE);
    const a = instance(w);
    const message = pushBody(notificationV1());
    webhooks.script(w.slackPath, [500, 503, 500]); // all 3 tries of the first delivery fail
    await expect(handleInput(message, a)).rejects.toBeInstanceOf(TransientError);
    expect(w.responder.acting()).toHaveLength(1);
    expect(await opsSummaries(w, 1)).toHaveLength(1);
    expect(webhooks.posts(w.chatPath)).toHaveLength(1);
    expect(webhooks.posts(w.slackPath)).toHaveLength(0);

    const retried = await handleInput(message, instance(w)); // another instance picks up the redelivery
    expect(retried.status).toBe('responded');
    expect(w.responder.acting()).toHaveLength(1);
    expect(await opsSummaries(w, 0)).toHaveLength(0);
    expect(webhooks.posts(w.chatPath)).toHaveLength(1);
    expect(webhooks.posts(w.slackPath)).toHaveLength(1);
    expect((await handleInput(message, a)).status).toBe('duplicate');
    const doc = (await a.ledgerStore.db.collection(w.collection).doc(`f-${findingKey(notificationV1().finding).id}`).get()).data();
    expect(doc?.state).toBe('completed');
    expect(doc?.deliveries.slack).toMatchObject({ status: 'sent', attempts: 4 });
    expect(doc?.deliveries.pubsub).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('a permanently failing sink is reported and given up; the finding completes', async () => {
    const w = await world(LIVE);
    const a = instance(w);
    webhooks.script(w.chatPath, [400]);
    const r = await handleInput(pushBody(notificationV1()), a);
    expect(r.status).toBe('responded');
    expect(w.logs.find((l) => l.step === 'sink:chat')).toMatchObject({ severity: 'ERROR', message: 'summary delivery failed; giving up' });
    expect(JSON.stringify(w.logs)).not.toContain(w.chatPath); // the webhook URL is a secret
    expect(webhooks.posts(w.slackPath)).toHaveLength(1);
    expect((await handleInput(pushBody(notificationV1()), a)).status).toBe('duplicate');
  });

  it('an expired lease is taken over and resumes with the recorded outcomes', async () => {
    const w = await world(LIVE);
    const a = instance(w);
    const key = findingKey(notificationV1().finding);
    // Instance A claimed, labelled the pod, recorded it, then died.
    const claim = await a.ledgerStore.claim(key, new Date());
    expect(claim.kind).toBe('acquired');
    if (claim.kind !== 'acquired') return;
    await a.ledgerStore.recordOutcomes(key, claim.token, [{ type: 'label-pod', status: 'done', reason: 'labelled by A' }], new Date());

    // While A's lease is live, B must not act: TransientError → Pub/Sub retries later.
    w.responder.applied.add('label-pod:payments/checkout-7c9f8d6b5-q2w8x'); // A's label is on the pod
    const b = instance(w);
    await expect(handleInput(pushBody(notificationV1()), b)).rejects.toBeInstanceOf(TransientError);
    // B ran label before the claim (found A's in place), and nothing after it.
    expect(w.responder.acting()).toHaveLength(0);
    expect(w.responder.executed).toEqual([]);

    // After the lease: B takes over, passes A's outcome on, and does only the rest.
    const later = instance(w, { now: () => new Date(Date.now() + 11 * 60_000) });
    const r = await handleInput(pushBody(notificationV1()), later);
    expect(r.status).toBe('responded');
    expect(w.responder.acting()[0]?.previous?.get('label-pod')).toMatchObject({ status: 'done', reason: 'labelled by A' });
    expect(w.responder.executed).toEqual(['delete-pod:payments/checkout-7c9f8d6b5-q2w8x']);
    expect(r.summary?.actions.map((x) => `${x.type}:${x.status}`)).toEqual(['label-pod:done', 'delete-pod:done']);

    // A wakes up: its lease is gone, its writes are refused.
    await expect(a.ledgerStore.recordOutcomes(key, claim.token, [], new Date())).rejects.toBeInstanceOf(TransientError);
  });

  it('documents carry an expireAt for the TTL policy', async () => {
    const w = await world(LIVE);
    const a = instance(w);
    const now = new Date();
    await handleInput(pushBody(notificationV1()), a);
    const docs = await a.ledgerStore.db.collection(w.collection).get();
    expect(docs.size).toBe(2); // the finding and the cluster budget
    for (const doc of docs.docs) {
      const expireAt = doc.get('expireAt').toDate().getTime();
      expect(expireAt).toBeGreaterThan(now.getTime() + 29 * 86_400_000);
      expect(expireAt).toBeLessThan(now.getTime() + 32 * 86_400_000);
      expect(doc.id).toMatch(/^[fb]-[a-f0-9]{64}$/);
    }
  });

  it('the ledger the composition root builds holds a claim for LEDGER_LEASE_SECONDS (terraform: timeout + 60)', async () => {
    const env = {
      FIRESTORE_DATABASE: '(default)',
      LEDGER_COLLECTION: `ledger-lease-${randomUUID().slice(0, 8)}`,
      LEDGER_LEASE_SECONDS: '180',
      FIRESTORE_EMULATOR_HOST: firestoreEmu!.hostPort,
      GOOGLE_CLOUD_PROJECT: PROJECT,
    };
    const ledger = (await reportWiring(parseEnv(env), env).ledger!()) as FirestoreLedger;
    closers.push(() => ledger.close());
    const key = findingKey(notificationV1().finding);
    const claimedAt = Date.parse('2026-11-20T14:05:00.000Z');
    expect((await ledger.claim(key, new Date(claimedAt))).kind).toBe('acquired');
    // An instance that died mid-run holds the finding for 3 minutes, not 10.
    expect(await ledger.claim(key, new Date(claimedAt + 179_000))).toMatchObject({ kind: 'busy', leaseExpiresAt: '2026-11-20T14:08:00.000Z' });
    expect(await ledger.claim(key, new Date(claimedAt + 181_000))).toMatchObject({ kind: 'acquired', attempt: 2 });
  });
});
