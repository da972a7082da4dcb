// Routing end to end on real components: the sinks the composition root's
// wiring builds from the environment and the policy (report-wiring), the
// Pub/Sub emulator for the ops and route topics, two loopback webhook
// recorders (the ops Slack, and the teams' channels), and the Firestore
// ledger (emulator) recording each delivery, through deliverSummary.
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { FirestoreLedger } from '../src/adapters/firestore-ledger.ts';
import { parseEnv } from '../src/config.ts';
import { TransientError } from '../src/core/errors.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import { matchRoutes } from '../src/core/summary/routes.ts';
import { type Summary } from '../src/core/summary/document.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { openLedgerSession, type ReportDeps } from '../src/pipeline/ledger-session.ts';
import { deliverSummary } from '../src/pipeline/summary-delivery.ts';
import { reportWiring } from '../src/wiring/report-sinks.ts';
import { emulatorOrSkip, startFirestoreEmulator, startPubsubEmulator } from './support/emulators.ts';
import { notificationV1 } from './support/fixtures.ts';
import { pubsubRest } from './support/pubsub-rest.ts';
import { summaryFor } from './support/summaries.ts';
import { startWebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummary, summaryCheckingLog } from './support/summary-check.ts';

const PROJECT = 'test-project';

const [firestoreEmu, pubsubEmu] = await Promise.all([
  emulatorOrSkip(() => startFirestoreEmulator(), 'routing tests (Firestore emulator)'),
  emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'routing tests (Pub/Sub emulator)'),
]);
const ready = firestoreEmu !== null && pubsubEmu !== null;
const ops = await startWebhookRecorder();
const teams = await startWebhookRecorder();
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await Promise.all([ops.close(), teams.close()]);
  await Promise.all([firestoreEmu?.stop(), pubsubEmu?.stop()]);
});

interface World {
  id: string;
  policy: Policy;
  env: Record<string, string>;
  topics: { ops: string; payments: string };
  ledger: FirestoreLedger;
  logs: { step: string; message: string }[];
}

async function world(): Promise<World> {
  const id = randomUUID().slice(0, 8);
  const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
  const topics = { ops: `ops-${id}`, payments: `payments-${id}` };
  for (const topic of Object.values(topics)) {
    await rest.createTopic(topic);
    await rest.createPullSubscription(`${topic}-pull`, topic);
  }
  const policy = validatePolicy({
    dryRun: false,
    rules: [{ name: 'contain', actions: ['label-pod', 'delete-pod'] }],
    routes: [
      { name: 'payments', match: { namespaces: ['payments'], owners: ['payments'] }, slackWebhookEnv: 'PAYMENTS_SLACK_WEBHOOK_URL', pubsubTopic: `projects/${PROJECT}/topics/${topics.payments}` },
      { name: 'billing', match: { namespaces: ['billing'] }, slackWebhookEnv: 'BILLING_SLACK_WEBHOOK_URL' },
    ],
    mentions: { slack: { payments: 'S0PAYMENTS' } },
  });
  const env = {
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubEmu!.hostPort,
    OPS_TOPIC: `projects/${PROJECT}/topics/${topics.ops}`,
    SLACK_WEBHOOK_URL: ops.url(`/ops/${id}`),
    PAYMENTS_SLACK_WEBHOOK_URL: teams.url(`/payments/${id}`),
    BILLING_SLACK_WEBHOOK_URL: teams.url(`/billing/${id}`),
  };
  const ledger = new FirestoreLedger({ projectId: PROJECT, collection: `routes-${id}`, leaseSeconds: 600, ttlDays: 30, emulatorHost: firestoreEmu!.hostPort });
  closers.push(() => ledger.close());
  return { id, policy, env, topics, ledger, logs: [] };
}

/** One function instance: the sinks as the composition root wires them. */
function deps(w: World): ReportDeps {
  const wiring = reportWiring(parseEnv(w.env), w.env, w.policy);
  return {
    now: () => new Date(),
    log: summaryCheckingLog({ log: (_severity, step, message) => void w.logs.push({ step, message }) }),
    ledger: async () => w.ledger,
    summarySinks: wiring.summarySinks,
    sleep: async () => {},
  };
}

/** The summary as the pipeline builds it: owners resolved, then the routes matched. */
function paymentsSummary(policy: Policy): Summary {
  const s: Summary = {
    ...summaryFor(notificationV1(), { policy }),
    owners: [{ who: 'payments', source: 'namespace-label', key: 'team' }],
  };
  return { ...s, routes: matchRoutes(policy.routes, s).map((r) => r.name) };
}

/** Everything on a topic: waits for `expected`, then drains up to a marker published behind them. */
async function published(w: World, topic: string, expected: number): Promise<Summary[]> {
  const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
  const out: Summary[] = [];
  const marker = randomUUID();
  let markerSeen = false;
  const pull = async () => {
    const got = await rest.pullAll(`${topic}-pull`, { waitMs: 20_000 });
    for (const m of got) {
      if (m.attributes.testMarker === marker) markerSeen = true;
      else out.push(noteSummary(JSON.parse(m.data) as Summary, `${topic} topic message`));
    }
    return got.length > 0;
  };
  while (out.length < expected) if (!(await pull())) return out;
  await rest.publish(topic, { marker }, { testMarker: marker });
  while (!markerSeen) if (!(await pull())) throw new Error('the marker published behind the summaries never came back');
  return out;
}

const d = ready ? describe : describe.skip;

d('routes on the emulators', () => {
  it('the payments route gets its message with the owner mention, the billing route nothing, ops everything', async () => {
    const w = await world();
    const summary = paymentsSummary(w.policy);
    expect(summary.routes).toEqual(['payments']);
    const key = findingKey(notificationV1().finding);
    const session = await openLedgerSession(key, deps(w), {});
    await session.recordSummary(summary);
    const results = await deliverSummary(summary, session, deps(w), {});

    expect(Object.fromEntries(Object.entries(results).map(([sink, r]) => [sink, r.status]))).toEqual({
      log: 'sent',
      pubsub: 'sent',
      slack: 'sent',
      'route:payments:slack': 'sent',
      'route:payments:pubsub': 'sent',
    });
    const [team] = teams.posts(`/payments/${w.id}`);
    expect(team?.body).toContain('<!subteam^S0PAYMENTS>');
    expect((team?.json as { text: string }).text).toMatch(/<!subteam\^S0PAYMENTS>$/);
    expect(teams.posts(`/payments/${w.id}`)).toHaveLength(1);
    expect(teams.posts(`/billing/${w.id}`)).toHaveLength(0);
    expect(ops.posts(`/ops/${w.id}`)).toHaveLength(1);
    expect(ops.posts(`/ops/${w.id}`)[0]!.body).toContain('`payments` namespace label `team`');
    const [opsTopic, routeTopic] = await Promise.all([published(w, w.topics.ops, 1), published(w, w.topics.payments, 1)]);
    expect(opsTopic.map((s) => s.id)).toEqual([summary.id]);
    expect(routeTopic.map((s) => s.routes)).toEqual([['payments']]);
    await session.complete();
  });

  it('a route recorder answering 500 is retried and recorded on its own; the retry resends to it alone', async () => {
    const w = await world();
    const summary = paymentsSummary(w.policy);
    const key = findingKey(notificationV1().finding);
    teams.script(`/payments/${w.id}`, [500, 500, 500]);

    const first = await openLedgerSession(key, deps(w), {});
    await first.recordSummary(summary);
    await expect(deliverSummary(summary, first, deps(w), {})).rejects.toThrow(TransientError);
    expect(teams.posts(`/payments/${w.id}`)).toHaveLength(0);
    expect(w.logs.some((l) => l.step === 'sink:route:payments:slack' && l.message.includes('will be retried'))).toBe(true);

    // The redelivery (another instance: its own wiring) resumes from the ledger's record.
    const second = await openLedgerSession(key, deps(w), {});
    expect(second.attempt).toBe(2);
    expect(second.summary?.routes).toEqual(['payments']);
    expect(second.deliveries['route:payments:slack']).toMatchObject({ status: 'failed', attempts: 3 });
    expect(second.deliveries['route:payments:slack']?.error).toContain('answered HTTP 500');
    for (const sink of ['log', 'pubsub', 'slack', 'route:payments:pubsub']) expect(second.deliveries[sink]).toMatchObject({ status: 'sent', attempts: 1 });
    const results = await deliverSummary(second.summary!, second, deps(w), {});
    expect(results['route:payments:slack']).toMatchObject({ status: 'sent', attempts: 4 });
    await second.complete();

    expect(teams.posts(`/payments/${w.id}`)).toHaveLength(1);
    expect(teams.posts(`/payments/${w.id}`)[0]!.body).toContain('<!subteam^S0PAYMENTS>');
    // Ops got the summary once, on every ops sink; the log line too.
    expect(ops.posts(`/ops/${w.id}`)).toHaveLength(1);
    expect(w.logs.filter((l) => l.step === 'summary')).toHaveLength(1);
    const [opsTopic, routeTopic] = await Promise.all([published(w, w.topics.ops, 1), published(w, w.topics.payments, 1)]);
    expect(opsTopic).toHaveLength(1);
    expect(routeTopic).toHaveLength(1);
  });
});
