// Issue 14 end to end, as a new user would try it: a policy that routes the
// payments namespace to the team's channel and mentions the team, `respond`
// through the real composition root (SCC write-back on), against the strict
// Kubernetes fake, the SCC gRPC fake, the Essential Contacts fake and two
// webhook recorders. Then the loop: the notification SCC sends for our own mark
// update is fed back in and must be acked without acting or reporting again.
// And failures of SCC or Contacts never cost containment or the summary.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose } from '../src/wiring/compose.ts';
import { SCC_MARK } from '../src/core/scc/marks.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { jsonLineLogger } from '../src/log.ts';
import { handleInput } from '../src/pipeline/respond.ts';
import { startFakeEssentialContacts, type FakeEssentialContacts } from './fakes/essential-contacts-server.ts';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { startFakeScc, type FakeScc } from './fakes/scc-grpc-server.ts';
import { cloudEvent, notificationV1 } from './support/fixtures.ts';
import { CLUSTER, NS, seed } from './support/kube-seed.ts';
import { startWebhookRecorder, type WebhookRecorder } from './support/webhook-recorder.ts';
import { noteSummaryLine } from './support/summary-check.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const TEAM_GROUP = 'S0PAYMENTS1';
const V2_NAME = 'organizations/123456789012/sources/11223344556677889900/locations/global/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';

let kube: FakeKubeApi;
let scc: FakeScc;
let contacts: FakeEssentialContacts;
let hooks: WebhookRecorder;
let dir: string;
let lines: Record<string, any>[];

function policyYaml(extra = ''): string {
  return [
    'dryRun: false',
    'rules:',
    '  - {name: contain, actions: [label-pod, isolate-pod]}',
    'clusters:',
    `  ${CLUSTER}: {kubeconfig: ${kube.kubeconfigPath}, context: fake, networkPolicyEnforcement: enforced}`,
    'routes:',
    '  - name: payments-team',
    '    match: {namespaces: [payments]}',
    '    slackWebhookEnv: PAYMENTS_SLACK_WEBHOOK_URL',
    '  - name: billing-team',
    '    match: {namespaces: [billing]}',
    '    slackWebhookEnv: BILLING_SLACK_WEBHOOK_URL',
    'mentions:',
    `  slack: {team-payments: ${TEAM_GROUP}}`,
    extra,
    '',
  ].join('\n');
}

function responder(extraPolicy = '', env: Record<string, string> = {}) {
  const policyFile = join(dir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(policyFile, policyYaml(extraPolicy));
  return compose({
    env: {
      SCC_RESPONDER_POLICY_FILE: policyFile,
      SCC_RESPONDER_EVIDENCE: 'off',
      SCC_WRITEBACK: 'true',
      SCC_API_ENDPOINT: scc.endpoint,
      ESSENTIAL_CONTACTS_API_ENDPOINT: contacts.url,
      SLACK_WEBHOOK_URL: hooks.url('/ops'),
      PAYMENTS_SLACK_WEBHOOK_URL: hooks.url('/payments'),
      BILLING_SLACK_WEBHOOK_URL: hooks.url('/billing'),
      ...env,
    },
    now: () => NOW,
    log: jsonLineLogger((line) => void lines.push(noteSummaryLine(JSON.parse(line))), 'DEBUG'),
  }).deps;
}

const slackText = (path: string) => hooks.posts(path).map((p) => p.body).join('\n');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'close-loop-'));
  [scc, contacts, hooks] = await Promise.all([
    startFakeScc(),
    startFakeEssentialContacts({ 'example-shop-prod': [{ email: 'secops@example.com', parent: 'organizations/123456789012' }] }),
    startWebhookRecorder(),
  ]);
});
beforeEach(async () => {
  await kube?.close();
  const world = seed();
  world.namespaceObjects = [{ metadata: { name: NS, labels: { team: 'team-payments' }, annotations: { contact: 'payments-oncall@example.com' } } }];
  kube = await startFakeKubeApi({ seed: world });
  lines = [];
  scc.requests.length = 0;
  scc.marks.clear();
  scc.states.clear();
  scc.setFault('UpdateSecurityMarks', undefined);
  contacts.faults.length = 0;
});
afterAll(async () => {
  await Promise.all([kube?.close(), scc?.close(), contacts?.close(), hooks?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('close the loop: SCC marks, owners, routes', () => {
  it('routes the payments namespace to the team with the owner mention, and SCC holds the marks', async () => {
    const before = hooks.posts().length;
    const result = await handleInput(cloudEvent(notificationV1()), responder());
    expect(result.status).toBe('responded');
    const summary = result.summary as Summary;
    expect(summary.outcome).toBe('contained');

    // Owners from every source, each saying where it came from.
    expect(summary.owners).toEqual(
      expect.arrayContaining([
        { who: 'team-payments', source: 'namespace-label', key: 'team' },
        { who: 'payments-oncall@example.com', source: 'namespace-annotation', key: 'contact' },
        { who: 'secops@example.com', source: 'essential-contacts', key: null },
      ]),
    );
    expect(summary.routes).toEqual(['payments-team']);

    // The team's channel got it, with a real user-group mention; the billing channel did not; ops got it too.
    const posts = hooks.posts().slice(before);
    expect(posts.filter((p) => p.path === '/payments')).toHaveLength(1);
    expect(posts.filter((p) => p.path === '/billing')).toHaveLength(0);
    expect(posts.filter((p) => p.path === '/ops')).toHaveLength(1);
    expect(slackText('/payments')).toContain(`<!subteam^${TEAM_GROUP}>`);

    // SCC holds our marks on the v2 name, written with a mask that names only them.
    const marks = scc.marks.get(V2_NAME)!;
    expect(marks).toMatchObject({ [SCC_MARK.outcome]: 'contained', [SCC_MARK.incident]: summary.id, [SCC_MARK.summary]: summary.id });
    const update = scc.requests.find((r) => r.method === 'UpdateSecurityMarks')!;
    expect([...update.updateMask!].sort()).toEqual(Object.values(SCC_MARK).map((k) => `marks.${k}`).sort());
    expect(summary.scc).toMatchObject({ marks: { status: 'written' }, state: { status: 'unchanged' } });
    expect(scc.states.size).toBe(0); // setInactive is off by default

    // The loop: SCC notifies about our own mark update (same eventTime, our marks on it). No ledger
    // here, so only the echo check stands between it and a second response.
    const echo = structuredClone(notificationV1());
    (echo.finding as Record<string, unknown>).securityMarks = { name: `${echo.finding.name}/securityMarks`, marks };
    const writes = kube.writes().length;
    const posted = hooks.posts().length;
    const again = await handleInput(cloudEvent(echo), responder());
    expect(again.status).toBe('ignored');
    expect(again.plan?.reason).toMatch(/our own write-back/);
    expect(kube.writes().length).toBe(writes);
    expect(hooks.posts().length).toBe(posted);
    expect(scc.requests.filter((r) => r.method === 'UpdateSecurityMarks')).toHaveLength(1);
  });

  it('a dry run writes only the dry-run outcome, never a remediated-looking mark', async () => {
    const result = await handleInput(cloudEvent(notificationV1()), responder('', { SCC_RESPONDER_FORCE_DRY_RUN: 'true' }));
    expect(result.summary!.outcome).toBe('dry-run');
    expect(scc.marks.get(V2_NAME)![SCC_MARK.outcome]).toBe('dry-run');
    expect(kube.writes()).toEqual([]);
  });

  it('SCC and Essential Contacts failing cost neither containment nor the summary', async () => {
    scc.setFault('UpdateSecurityMarks', { code: 7, details: 'permission denied on findings' });
    contacts.faults.push({ status: 500, times: Infinity });
    const posted = hooks.posts('/ops').length;
    const result = await handleInput(cloudEvent(notificationV1()), responder());
    expect(result.summary!.actions.map((a) => [a.type, a.status])).toEqual([
      ['label-pod', 'done'],
      ['isolate-pod', 'done'],
    ]);
    expect(result.summary!.scc).toMatchObject({ marks: { status: 'failed', reason: expect.stringMatching(/permission denied/i) } });
    expect(result.summary!.ownerNotes!.join(' ')).toMatch(/essential contacts/i);
    // The namespace owners are still found and the team still told.
    expect(result.summary!.owners).toEqual(expect.arrayContaining([{ who: 'team-payments', source: 'namespace-label', key: 'team' }]));
    expect(hooks.posts('/ops').length).toBe(posted + 1);
    expect(lines.some((l) => l.step === 'scc:marks' && l.severity === 'ERROR')).toBe(true);
  });
});
