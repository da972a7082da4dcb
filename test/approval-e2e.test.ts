// One click to contain, end to end on real parts: a dry run of an approval
// rule keeps its request in the Firestore emulator; a click signed in the test
// goes to the real interactivity endpoint (functions-framework server), which
// publishes it to the Pub/Sub emulator; a push subscription delivers it to the
// real approval consumer (functions-framework server), which runs the approved
// plan against the strict Kubernetes fake and replaces the Slack message
// through a loopback response_url. Then what must not happen: a replayed
// request or a double click running twice, an unknown user, an expired
// approval, a pod replaced since the dry run, a budget spent since.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirestoreLedger } from '../src/adapters/firestore-ledger.ts';
import { compose } from '../src/wiring/compose.ts';
import { approvedRunKey } from '../src/core/approval/approval.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { jsonLineLogger } from '../src/log.ts';
import { handleInput, type PipelineDeps } from '../src/pipeline/respond.ts';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { emulatorOrSkip, startFirestoreEmulator, startPubsubEmulator } from './support/emulators.ts';
import { notificationV1 } from './support/fixtures.ts';
import { APPROVAL_CONSUMER, SLACK_ENDPOINT, startFrameworkServer } from './support/framework-server.ts';
import type { FunctionServer } from './support/function-server.ts';
import { CLUSTER, checkoutPod, NS, POD, seed } from './support/kube-seed.ts';
import { pubsubRest } from './support/pubsub-rest.ts';
import { blockActionsPayload, formBody, post, signedHeaders, TEST_SIGNING_SECRET } from './support/slack-click.ts';
import { startWebhookRecorder, type WebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummary } from './support/summary-check.ts';

const PROJECT = 'test-project';
const COLLECTION = 'approval-e2e';
const APPROVER = 'U0APPROVER1';

const [firestoreEmu, pubsubEmu] = await Promise.all([
  emulatorOrSkip(() => startFirestoreEmulator(), 'approval end-to-end test (Firestore emulator)'),
  emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'approval end-to-end test (Pub/Sub emulator)'),
]);
const d = firestoreEmu && pubsubEmu ? describe : describe.skip;

let fake: FakeKubeApi;
let recorder: WebhookRecorder;
let endpoint: FunctionServer;
let consumer: FunctionServer;
let store: FirestoreLedger;
let workDir: string;
let env: Record<string, string>;
let dryRunNow = new Date();
let deps: PipelineDeps;

beforeAll(async () => {
  if (!firestoreEmu || !pubsubEmu) return;
  workDir = mkdtempSync(join(tmpdir(), 'approval-e2e-'));
  fake = await startFakeKubeApi({ seed: seed() });
  recorder = await startWebhookRecorder();
  const policyFile = join(workDir, 'policy.yaml');
  writeFileSync(
    policyFile,
    [
      'dryRun: true',
      'rules:',
      '  - name: payments-approval',
      '    match: {namespaces: [payments]}',
      '    approval: required',
      '    actions: [label-pod, isolate-pod, delete-pod]',
      `    approvers: {users: [${APPROVER}]}`,
      'approval: {expiresMinutes: 60}',
      'budget: {perCluster: {podRemovals: 10}, perNamespace: {podRemovals: 10}}',
      'clusters:',
      `  ${CLUSTER}: {kubeconfig: ${JSON.stringify(fake.kubeconfigPath)}, context: fake, networkPolicyEnforcement: enforced}`,
      '',
    ].join('\n'),
  );
  env = {
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubEmu.hostPort,
    FIRESTORE_EMULATOR_HOST: firestoreEmu.hostPort,
    FIRESTORE_DATABASE: '(default)',
    LEDGER_COLLECTION: COLLECTION,
    SCC_RESPONDER_POLICY_FILE: policyFile,
    SCC_RESPONDER_EVIDENCE: 'off',
    SLACK_WEBHOOK_URL: recorder.url('/slack/ops'),
    SCC_RESPONDER_TEST_LOOPBACK: 'true',
    LOG_LEVEL: 'INFO',
  };
  store = new FirestoreLedger({ projectId: PROJECT, collection: COLLECTION, leaseSeconds: 600, ttlDays: 30, emulatorHost: firestoreEmu.hostPort });
  // The dry runs: the responder's own composition, in this process, on the same emulators and fake.
  deps = compose({ env, now: () => dryRunNow, log: jsonLineLogger(() => undefined) }).deps;
  deps.approvals ??= async () => store;

  [endpoint, consumer] = await Promise.all([
    startFrameworkServer(SLACK_ENDPOINT, {
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      APPROVAL_TOPIC: `projects/${PROJECT}/topics/approvals`,
      GOOGLE_CLOUD_PROJECT: PROJECT,
      PUBSUB_EMULATOR_HOST: pubsubEmu.hostPort,
      SCC_RESPONDER_TEST_LOOPBACK: 'true',
    }),
    startFrameworkServer(APPROVAL_CONSUMER, env),
  ]);
  const rest = pubsubRest(pubsubEmu.hostPort, PROJECT);
  await rest.createTopic('approvals');
  // The path names the topic, so the framework turns the raw push into the CloudEvent.
  await rest.createPushSubscription('approvals-push', 'approvals', consumer.pushUrl(PROJECT, 'approvals'));
}, 120_000);

afterAll(async () => {
  endpoint?.stop();
  consumer?.stop();
  await store?.close();
  await recorder?.close();
  await fake?.close();
  await Promise.all([firestoreEmu?.stop(), pubsubEmu?.stop()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** The finding's pod as the seed has it (labels, uid), whatever an earlier case did to it. */
function restorePod(pod = checkoutPod()): void {
  fake.state.pods.set(`${NS}/${POD}`, { ...pod, metadata: { ...pod.metadata, resourceVersion: String(Date.now()) } });
}

/** A finding of its own through the responder in dry run; returns its incident id (the buttons' value). */
async function dryRun(now = new Date()) {
  const n = structuredClone(notificationV1());
  n.finding.name = `organizations/123456789012/sources/11223344556677889900/findings/${randomUUID().replaceAll('-', '')}`;
  dryRunNow = now;
  const writesBefore = fake.writes().length;
  const result = await handleInput(n, deps);
  if (result.summary) noteSummary(result.summary, 'dry run (handleInput result)');
  expect(fake.writes().length).toBe(writesBefore); // a dry run writes nothing
  const key = findingKey(decodeInput(n).notification.finding);
  return { result, id: key.id, approvedId: approvedRunKey(key).id };
}

let clicks = 0;
/** Presses a button the way Slack does: a signed form post to the endpoint. Returns the body and headers to replay. */
async function press(o: { incident: string; user?: string; actionTs?: string; action?: string }) {
  const path = `/actions/${++clicks}`;
  const body = formBody(blockActionsPayload({ ...o, ...(o.action ? { actionId: o.action } : {}), actionTs: o.actionTs ?? `1764630000.${String(clicks).padStart(6, '0')}`, responseUrl: recorder.url(path) }));
  const headers = signedHeaders(body, Math.floor(Date.now() / 1000));
  const res = await post(`http://127.0.0.1:${endpoint.port}/`, body, headers);
  expect(res).toEqual({ status: 200, text: '' });
  return { path, body, headers };
}

const answer = (path: string) => consumer.until(`a response_url post to ${path}`, () => (recorder.posts(path).length > 0 ? (recorder.posts(path)[0]!.json as Record<string, any>) : undefined));
const podWrites = () => fake.writes().filter((w) => w.path.includes(`/namespaces/${NS}/pods/${POD}`) || w.path.includes(`/namespaces/${NS}/networkpolicies`));
const logged = (message: string, incident: string) => consumer.until(`"${message}" for ${incident}`, () => (consumer.lines.some((l) => l.message === message && l.incident === incident) ? true : undefined));

d('approval from Slack, end to end', () => {
  it('Contain by an approver runs the plan for real, once; the message is replaced with the result naming the approver', async () => {
    restorePod();
    const { result, id, approvedId } = await dryRun();
    expect(result.summary).toMatchObject({ outcome: 'dry-run', approval: { status: 'awaiting', by: null } });
    const before = podWrites().length;

    const click = await press({ incident: id });
    const update = await answer(click.path);
    expect(update).toMatchObject({ replace_original: true });
    const text = JSON.stringify(update);
    expect(text).toContain('*Approved* by <@U0APPROVER1>');
    expect(text).not.toContain('scc-responder-contain');
    const writes = podWrites().slice(before);
    expect(writes.filter((w) => w.method === 'DELETE')).toHaveLength(1);
    expect(writes.some((w) => w.method === 'PATCH')).toBe(true);

    const stored = await store.getRequest(id, new Date());
    expect(stored?.state).toMatchObject({ decision: { decision: 'contain', by: { user: APPROVER } }, result: { status: 'approved', outcome: 'contained', summaryId: approvedId } });
    // What the approver was shown, kept by the dry run: the approved run may do no more.
    expect(stored?.state.request).toMatchObject({ actions: ['label-pod', 'isolate-pod', 'delete-pod'], target: { cluster: CLUSTER, namespace: NS, pod: POD } });
    // The approved run is an occurrence of its own, and ops hear of it like any response.
    const ops = recorder.posts('/slack/ops').map((p) => JSON.stringify(p.json));
    expect(ops.some((m) => m.includes(approvedId) && m.includes('contained'))).toBe(true);

    // The same signed request again (replayed within the window): the endpoint publishes it, the claim makes it nothing.
    expect((await post(`http://127.0.0.1:${endpoint.port}/`, click.body, click.headers)).status).toBe(200);
    await logged('this decision was already carried out: acked as duplicate', id);
    // A second click of the same person (a new action_ts): told it is done.
    const again = await press({ incident: id });
    expect(await answer(again.path)).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/^Already approved \(Contain\) by <@U0APPROVER1>/) });
    expect(podWrites().slice(before).filter((w) => w.method === 'DELETE')).toHaveLength(1);
    expect(recorder.posts(click.path)).toHaveLength(1);
  }, 90_000);

  it('an unknown user gets an ephemeral "not allowed"; nothing runs and the attempt is recorded', async () => {
    restorePod();
    const { id } = await dryRun();
    const before = podWrites().length;
    const click = await press({ incident: id, user: 'U0MALLORY1' });
    expect(await answer(click.path)).toMatchObject({ response_type: 'ephemeral', replace_original: false, text: expect.stringMatching(/not allowed/) });
    expect(podWrites().length).toBe(before);
    expect((await store.getRequest(id, new Date()))?.state).toMatchObject({ decision: null, refusals: [{ user: 'U0MALLORY1', reason: expect.stringMatching(/not an approver/) }] });
  }, 60_000);

  it('an approval past its expiry is refused and the message says so', async () => {
    restorePod();
    const { id } = await dryRun(new Date(Date.now() - 61 * 60_000));
    const before = podWrites().length;
    const click = await press({ incident: id });
    const update = await answer(click.path);
    expect(update).toMatchObject({ replace_original: true });
    expect(JSON.stringify(update)).toContain('*Approval expired*');
    expect(podWrites().length).toBe(before);
    expect((await store.getRequest(id, new Date()))?.state.decision).toBeNull();
  }, 60_000);

  it('a pod replaced since the dry run (same name, new uid) is refused by the preflight of the approved run', async () => {
    restorePod();
    const { id } = await dryRun();
    const replacement = checkoutPod(POD, randomUUID());
    replacement.metadata.creationTimestamp = new Date().toISOString();
    restorePod(replacement);
    const before = podWrites().length;
    const click = await press({ incident: id });
    const update = await answer(click.path);
    expect(podWrites().length).toBe(before);
    const text = JSON.stringify(update);
    expect(text).toContain('*Approved* by <@U0APPROVER1>');
    expect(text).toMatch(/a replacement with the same name/);
    expect((await store.getRequest(id, new Date()))?.state.result).toMatchObject({ status: 'approved', outcome: 'skipped' });
  }, 60_000);

  it('a budget spent since the dry run refuses the removal (BUDGET EXCEEDED); the rest still runs', async () => {
    restorePod();
    const { id } = await dryRun();
    const limits = { windowMinutes: 60, perCluster: { podRemovals: 10, cordons: 1 }, perNamespace: { podRemovals: 10 } };
    for (let i = 0; i < 10; i++) {
      await store.reserve({ key: `other-incident-${i}`, cluster: CLUSTER, namespace: NS, actions: ['delete-pod'], limits, now: new Date() });
    }
    const before = podWrites().length;
    const click = await press({ incident: id });
    const update = await answer(click.path);
    const writes = podWrites().slice(before);
    expect(writes.filter((w) => w.method === 'DELETE')).toHaveLength(0);
    expect(writes.some((w) => w.method === 'PATCH')).toBe(true);
    const text = JSON.stringify(update);
    expect(text).toContain('BUDGET EXCEEDED');
    expect(text).toContain('*Approved* by <@U0APPROVER1>');
  }, 60_000);
});
