// Fail loud, never silent, on real parts: the functions-framework server (the
// real composition root) receives pushes from the Pub/Sub emulator, keeps its
// ledger in the Firestore emulator, acts on the strict Kubernetes fake and
// reports to the ops topic and a Slack recorder. Faults are injected where they
// happen in production: a lasting 500 from an admission webhook on DELETE, a
// ledger at a dead port, the Firestore emulator killed in the middle of a run.
// For each: the function answers within its timeout, a summary with the true
// state of every action reaches ops, no successful write is repeated, rounds stop.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../src/core/summary/document.ts';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { emulatorOrSkip, refusingPort, startFirestoreEmulator, startPubsubEmulator } from './support/emulators.ts';
import { notificationV1 } from './support/fixtures.ts';
import { startFunctionServer, type FunctionServer } from './support/function-server.ts';
import { CLUSTER, NODE, NS, POD, seed } from './support/kube-seed.ts';
import { pubsubRest } from './support/pubsub-rest.ts';
import { startWebhookRecorder, type WebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummary } from './support/summary-check.ts';

const PROJECT = 'test-project';
// The ledger that dies mid-run has an emulator of its own, so the other cases keep theirs.
const [pubsubEmu, firestoreEmu, doomedFirestore] = await Promise.all([
  emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'fault tests (Pub/Sub emulator)'),
  emulatorOrSkip(() => startFirestoreEmulator(), 'fault tests (Firestore emulator)'),
  emulatorOrSkip(() => startFirestoreEmulator(), 'fault tests (second Firestore emulator)'),
]);
const d = pubsubEmu && firestoreEmu && doomedFirestore ? describe : describe.skip;

let webhooks: WebhookRecorder;
let workDir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  webhooks = await startWebhookRecorder();
  workDir = mkdtempSync(join(tmpdir(), 'scc-faults-'));
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await webhooks?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await Promise.all([pubsubEmu?.stop(), firestoreEmu?.stop(), doomedFirestore?.stop()]);
});

interface Scenario {
  fake: FakeKubeApi;
  fn: FunctionServer;
  slackPath: string;
  opsSub: string;
  findingsTopic: string;
  /** Ops summaries pulled so far (all of them: pulling acks). */
  summaries: Summary[];
  pullSummaries(): Promise<Summary[]>;
  deliveries(): number;
}

async function scenario(options: { firestore: string; ledgerTimeoutSeconds?: number; actions: string[] }): Promise<Scenario> {
  const id = randomUUID().slice(0, 8);
  const fake = await startFakeKubeApi({ seed: seed() });
  cleanups.push(() => fake.close());
  const policyFile = join(workDir, `policy-${id}.yaml`);
  writeFileSync(
    policyFile,
    [
      'dryRun: false',
      'rules:',
      `  - {name: contain, actions: [${options.actions.join(', ')}]}`,
      'guards: {maxContainmentRounds: 3}',
      // A generous budget: these cases are about faults, not the blast radius.
      'budget: {perCluster: {podRemovals: 100, cordons: 100}, perNamespace: {podRemovals: 100}}',
      'clusters:',
      `  ${CLUSTER}: {kubeconfig: ${fake.kubeconfigPath}, context: fake, networkPolicyEnforcement: enforced}`,
      '',
    ].join('\n'),
  );
  const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
  const findingsTopic = `findings-${id}`;
  const opsTopic = `ops-${id}`;
  await rest.createTopic(findingsTopic);
  await rest.createTopic(opsTopic);
  await rest.createPullSubscription(`ops-pull-${id}`, opsTopic);
  const slackPath = `/slack/${id}`;
  const fn = await startFunctionServer({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubEmu!.hostPort,
    FIRESTORE_EMULATOR_HOST: options.firestore,
    FIRESTORE_DATABASE: '(default)',
    LEDGER_COLLECTION: `ledger-${id}`,
    LEDGER_TIMEOUT_SECONDS: String(options.ledgerTimeoutSeconds ?? 8),
    OPS_TOPIC: `projects/${PROJECT}/topics/${opsTopic}`,
    SLACK_WEBHOOK_URL: webhooks.url(slackPath),
    SCC_RESPONDER_POLICY_FILE: policyFile,
    SCC_RESPONDER_EVIDENCE: 'off',
    SCC_RESPONDER_TIMEOUT_SECONDS: '60',
    LOG_LEVEL: 'INFO',
  });
  cleanups.push(() => fn.stop());
  const summaries: Summary[] = [];
  return {
    fake,
    fn,
    slackPath,
    opsSub: `ops-pull-${id}`,
    findingsTopic,
    summaries,
    async pullSummaries() {
      for (const m of await rest.pullAll(`ops-pull-${id}`)) summaries.push(noteSummary(JSON.parse(m.data) as Summary, 'ops topic message'));
      return summaries;
    },
    deliveries: () => fn.lines.filter((l) => l.step === 'plan').length,
  };
}

async function push(s: Scenario): Promise<void> {
  const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
  await rest.createPushSubscription(`push-${s.findingsTopic}`, s.findingsTopic, s.fn.pushUrl(PROJECT, s.findingsTopic));
  await rest.publish(s.findingsTopic, notificationV1());
}

const byType = (summary: Summary) => Object.fromEntries(summary.actions.map((a) => [a.type, a.status]));
const succeeded = (fake: FakeKubeApi) => fake.writes().filter((w) => w.status < 300).map((w) => `${w.method} ${w.path}`);

const summaryLines = (fn: FunctionServer) => fn.lines.filter((l) => l.step === 'summary').length;

d('fault injection on real parts', () => {
  it('a lasting 500 on DELETE: what was done is reported at once, the delete retried, then given up after the round cap', async () => {
    const s = await scenario({ firestore: firestoreEmu!.hostPort, actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] });
    s.fake.state.faults.push({
      method: 'DELETE',
      path: /\/pods\//,
      status: 500,
      reason: 'InternalError',
      message: 'Internal error occurred: failed calling webhook "pods.validate.example.com": context deadline exceeded',
      times: Infinity,
    });
    await push(s);
    const [interim, final] = await s.fn.until('an interim and a final summary', async () => {
      const got = await s.pullSummaries();
      return got.length >= 2 ? got : undefined;
    }, 45_000);
    // Round 1: three actions done, the delete pending, and ops told so before any retry.
    expect(interim).toMatchObject({ round: 1, update: false, retrying: true, outcome: 'partial' });
    expect(byType(interim!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'cordon-node': 'done', 'delete-pod': 'pending' });
    expect(interim!.headline).toMatch(/some actions pending, retrying/);
    // The last round: the delete failed with its last error, and nothing else repeated.
    expect(final).toMatchObject({ round: 3, update: true, retrying: false, outcome: 'partial' });
    expect(final!.headline).toMatch(/^UPDATE — /);
    expect(byType(final!)).toEqual({ 'label-pod': 'already', 'isolate-pod': 'already', 'cordon-node': 'already', 'delete-pod': 'failed' });
    const del = final!.actions.find((a) => a.type === 'delete-pod')!;
    expect(del.reason).toMatch(/gave up after 3 of 3 deliveries \(guards.maxContainmentRounds\); last error: .*HTTP 500.*failed calling webhook/);
    // Each successful write happened once; the delete was tried once per round.
    expect(succeeded(s.fake)).toEqual([
      `PATCH /api/v1/namespaces/${NS}/pods/${POD}`,
      `POST /apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      `PATCH /api/v1/namespaces/${NS}/pods/${POD}`,
      `PATCH /api/v1/nodes/${NODE}`,
    ]);
    expect(s.fake.writes().filter((w) => w.method === 'DELETE')).toHaveLength(3);
    // Slack got the same two messages, and the rounds stopped: the last delivery was acked.
    await s.fn.until('two Slack posts', () => (webhooks.posts(s.slackPath).length === 2 ? true : undefined));
    // Three deliveries, and the last one ended the finding (completed in the ledger, the push acked):
    // after the final summary nothing asks for a redelivery, so a later copy would be a duplicate.
    expect(s.deliveries()).toBe(3);
    const lastSummary = s.fn.lines.findLastIndex((l) => l.step === 'summary');
    expect(s.fn.lines.slice(lastSummary).some((l) => /will redeliver|retrying the message/.test(String(l.message)))).toBe(false);
    expect(s.fn.lines.filter((l) => l.step === 'contain' && /Pub\/Sub will redeliver/.test(l.message))).toHaveLength(2);
  }, 90_000);

  it('a ledger at a dead port: contained without dedupe within the timeout, destructive actions refused, and the summary says why', async () => {
    const refusing = await refusingPort();
    cleanups.push(() => refusing.close());
    const s = await scenario({ firestore: `127.0.0.1:${refusing.port}`, ledgerTimeoutSeconds: 3, actions: ['label-pod', 'isolate-pod', 'delete-pod'] });
    const started = Date.now();
    await push(s);
    const [summary] = await s.fn.until('the summary', async () => {
      const got = await s.pullSummaries();
      return got.length >= 1 ? got : undefined;
    }, 45_000);
    // Well inside the 60 s timeout the function was given (the Firestore client alone would retry for minutes).
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(byType(summary!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'delete-pod': 'skipped' });
    expect(summary!.actions.find((a) => a.type === 'delete-pod')!.reason).toMatch(/^no budget: ledger unavailable .*destructive actions are refused/);
    // Nothing was exceeded: there was no budget to ask.
    expect(summary!.budget.exceeded).toBe(false);
    expect(summary!.headline).not.toMatch(/BUDGET EXCEEDED/);
    expect(summary!.warnings.join('\n')).toMatch(/no dedupe: ledger unavailable .*a duplicate summary is possible/);
    expect(s.fake.writes().some((w) => w.method === 'DELETE')).toBe(false);
    await s.fn.until('the Slack post', () => (webhooks.posts(s.slackPath).length === 1 ? true : undefined));
    expect(summaryLines(s.fn)).toBe(1);
  }, 90_000);

  it('Firestore dies in the middle of the run: every action still applied, the summary still arrives, saying so', async () => {
    const s = await scenario({ firestore: doomedFirestore!.hostPort, actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] });
    let killed: Promise<void> | undefined;
    s.fake.state.beforeRequest = (req) => {
      if (req.method === 'PATCH' && req.path.startsWith('/api/v1/nodes/') && killed === undefined) killed = doomedFirestore!.stop();
    };
    // Hold the cordon's answer until the emulator is gone, so the ledger dies between two actions.
    s.fake.state.faults.push({ method: 'PATCH', path: /^\/api\/v1\/nodes\//, waitFor: () => killed! });
    await push(s);
    const [summary] = await s.fn.until('the summary', async () => {
      const got = await s.pullSummaries();
      return got.length >= 1 ? got : undefined;
    }, 60_000);
    expect(killed).toBeDefined();
    await killed;
    expect(byType(summary!)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'cordon-node': 'done', 'delete-pod': 'done' });
    expect(summary!.warnings.join('\n')).toMatch(/ledger lost mid-run: .*a duplicate summary is possible/);
    await s.fn.until('the Slack post', () => (webhooks.posts(s.slackPath).length === 1 ? true : undefined));
    expect(s.fn.lines.some((l) => l.step === 'ledger' && /ledger lost mid-run/.test(l.message))).toBe(true);
  }, 90_000);
});
