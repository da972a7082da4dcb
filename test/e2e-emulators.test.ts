// End to end on real parts: the functions-framework server (its own bin, on
// src/index.ts) receives pushes from a Pub/Sub emulator subscription, claims
// the finding in the Firestore emulator and publishes the summary to the ops
// topic, which the test pulls. Redeliveries of the same finding report nothing new.
// The policy is report-only: no cluster is needed to prove ledger, summary and sinks.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../src/core/summary/document.ts';
import { emulatorOrSkip, startFirestoreEmulator, startPubsubEmulator } from './support/emulators.ts';
import { startFunctionServer, type FunctionServer } from './support/function-server.ts';
import { notificationV1 } from './support/fixtures.ts';
import { pubsubRest, type PulledMessage } from './support/pubsub-rest.ts';
import { startWebhookRecorder, type WebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummary } from './support/summary-check.ts';

const PROJECT = 'test-project';
const SECRET = 'sk_live_EXAMPLEDONOTUSE0000000000';

const [firestoreEmu, pubsubEmu] = await Promise.all([
  emulatorOrSkip(() => startFirestoreEmulator(), 'end-to-end test (Firestore emulator)'),
  emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'end-to-end test (Pub/Sub emulator)'),
]);
const d = firestoreEmu && pubsubEmu ? describe : describe.skip;

let fn: FunctionServer | undefined;
let webhooks: WebhookRecorder;
let workDir: string;
const lines = () => fn!.lines;
const until: FunctionServer['until'] = (what, probe, timeoutMs) => fn!.until(what, probe, timeoutMs);

/**
 * What the ops topic holds now: a marker is published behind it and pulled
 * back; the emulator serves a subscription in publish order, so everything
 * published before the marker comes first.
 */
async function opsPublishedSoFar(rest: ReturnType<typeof pubsubRest>): Promise<PulledMessage[]> {
  const marker = randomUUID();
  await rest.publish('scc-ops', { marker }, { testMarker: marker });
  const out: PulledMessage[] = [];
  for (let seen = false; !seen; ) {
    const got = await rest.pullAll('ops-pull', { waitMs: 20_000 });
    if (got.length === 0) throw new Error('the marker published on the ops topic never came back');
    for (const m of got) {
      if (m.attributes.testMarker === marker) seen = true;
      else out.push(m);
    }
  }
  return out;
}

beforeAll(async () => {
  if (!firestoreEmu || !pubsubEmu) return;
  webhooks = await startWebhookRecorder();
  workDir = mkdtempSync(join(tmpdir(), 'scc-e2e-'));
  const policyFile = join(workDir, 'policy.yaml');
  writeFileSync(policyFile, 'dryRun: false\nrules: []   # report only\n');

  fn = await startFunctionServer({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubEmu.hostPort,
    FIRESTORE_EMULATOR_HOST: firestoreEmu.hostPort,
    OPS_TOPIC: `projects/${PROJECT}/topics/scc-ops`,
    FIRESTORE_DATABASE: '(default)',
    LEDGER_COLLECTION: 'e2e-ledger',
    SLACK_WEBHOOK_URL: webhooks.url('/slack/e2e'),
    SCC_RESPONDER_POLICY_FILE: policyFile,
    SCC_RESPONDER_EVIDENCE: 'off',
    LOG_LEVEL: 'INFO',
  });

  const rest = pubsubRest(pubsubEmu.hostPort, PROJECT);
  await rest.createTopic('scc-findings');
  await rest.createTopic('scc-ops');
  await rest.createPullSubscription('ops-pull', 'scc-ops');
  // The path carries projects/P/topics/T, so the framework converts the raw push into a CloudEvent.
  await rest.createPushSubscription('findings-push', 'scc-findings', fn.pushUrl(PROJECT, 'scc-findings'));
}, 90_000);

afterAll(async () => {
  fn?.stop();
  await webhooks?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await Promise.all([firestoreEmu?.stop(), pubsubEmu?.stop()]);
});

d('end to end: Pub/Sub push → function → Firestore ledger → ops topic', () => {
  const pulled: PulledMessage[] = [];

  it('publishes one summary to the ops topic, one Slack message and one summary log line', async () => {
    const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
    await rest.publish('scc-findings', notificationV1());
    const messages = await until('the ops summary', async () => {
      pulled.push(...(await rest.pullAll('ops-pull')));
      return pulled.length > 0 ? pulled : undefined;
    });
    expect(messages).toHaveLength(1);
    const summary = noteSummary(JSON.parse(messages[0]!.data) as Summary, 'ops topic message');
    expect(messages[0]!.attributes).toMatchObject({
      schema: 'scc-responder.summary/v1',
      category: 'Unexpected Child Shell',
      severity: 'CRITICAL',
      cluster: 'shop-prod-1',
      outcome: 'report-only',
    });
    expect(summary).toMatchObject({
      outcome: 'report-only',
      decision: { decision: 'respond', rule: null, dryRun: false },
      target: { cluster: 'shop-prod-1', namespace: 'payments', pod: 'checkout-7c9f8d6b5-q2w8x' },
      actions: [],
    });
    expect(summary.processes.child?.env.map((e) => e.name)).toContain('STRIPE_API_KEY');
    expect(summary.timings.eventToSummaryMs).toEqual(expect.any(Number));

    await until('the Slack post', () => (webhooks.posts('/slack/e2e').length === 1 ? true : undefined));
    const summaryLines = lines().filter((l) => l.step === 'summary');
    expect(summaryLines).toHaveLength(1);
    for (const payload of [messages[0]!.data, webhooks.posts('/slack/e2e')[0]!.body, JSON.stringify(lines())]) {
      expect(payload).not.toContain(SECRET);
    }
  }, 60_000);

  it('redeliveries of the same finding are acked as duplicates and report nothing new', async () => {
    const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
    for (let i = 0; i < 3; i++) await rest.publish('scc-findings', notificationV1());
    await until('three duplicate acks', () =>
      lines().filter((l) => l.step === 'ledger' && /already handled/.test(l.message)).length >= 3 ? true : undefined,
    );
    // A summary wrongly sent for a duplicate was published before its delivery was logged as one.
    expect(await opsPublishedSoFar(rest)).toHaveLength(0);
    expect(webhooks.posts('/slack/e2e')).toHaveLength(1);
    expect(lines().filter((l) => l.step === 'summary')).toHaveLength(1);
  }, 60_000);
});
