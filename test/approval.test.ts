// Approval from Slack, part by part: the signature check, the payload parser,
// the plan of an approval rule, the buttons; the real interactivity endpoint
// (functions-framework server) with requests signed in the test and the
// Pub/Sub emulator behind it; and the consumer's decisions on a real ledger
// (the local SQLite store) with the real pipeline, its answers recorded by a
// loopback response_url. The approved run against a cluster and the whole
// chain through Pub/Sub: test/approval-e2e.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLedger } from '../src/adapters/local-ledger.ts';
import { slackUserGroups } from '../src/adapters/slack-api.ts';
import { handleApproval as runApprovalFlow, type ApprovalFlowDeps } from '../src/pipeline/approval-decision.ts';
import {
  APPROVAL_ACTION,
  APPROVAL_BLOCK_ID,
  approvedPlanProblem,
  checkApprover,
  fromAllowedWorkspace,
  MAX_INTERACTION_BYTES,
  parseInteraction,
  verifySlackSignature,
  type ApprovalMessage,
} from '../src/core/approval/approval.ts';
import { approvalBlocks } from '../src/core/summary/slack/approval-blocks.ts';
import { replacementMessage } from '../src/core/summary/slack/approval-message.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { TransientError } from '../src/core/errors.ts';
import { explainPlan, renderExplanation } from '../src/core/policy/explain.ts';
import { plan } from '../src/core/plan/plan.ts';
import { ACTION_ORDER, validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { StepLogger } from '../src/core/ports.ts';
import { formatSlack } from '../src/core/summary/slack/format.ts';
import { type Summary } from '../src/core/summary/document.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { handleInput, type PipelineDeps } from '../src/pipeline/respond.ts';
import { emulatorOrSkip, startPubsubEmulator } from './support/emulators.ts';
import { notificationV1 } from './support/fixtures.ts';
import { SLACK_ENDPOINT, startFrameworkServer, startupFailure } from './support/framework-server.ts';
import type { FunctionServer } from './support/function-server.ts';
import { pubsubRest } from './support/pubsub-rest.ts';
import { blockActionsPayload, formBody, post, signedHeaders, TEST_SIGNING_SECRET } from './support/slack-click.ts';
import { startWebhookRecorder, type WebhookRecorder } from './support/webhook-recorder.ts';
import { summaryFor } from './support/summaries.ts';
import { noteSummary, summaryCheckingLog } from './support/summary-check.ts';

/** The approval flow, with the summary it returns checked against the shipped schema. */
const handleApproval = async (...args: Parameters<typeof runApprovalFlow>) => {
  const result = await runApprovalFlow(...args);
  if (result.summary) noteSummary(result.summary, 'handleApproval result');
  return result;
};

const T0 = new Date('2026-11-20T14:05:00Z');
const MIN = 60_000;
const at = (ms: number) => new Date(T0.getTime() + ms);
const INCIDENT = createHash('sha256').update('an incident').digest('hex');
const APPROVER = 'U0APPROVER1';
const hmac = (body: string, ts: number, secret = TEST_SIGNING_SECRET) => signedHeaders(body, ts, secret)['x-slack-signature'];

const approvalPolicy = (extra: Record<string, unknown> = {}): Policy =>
  validatePolicy({
    rules: [
      {
        name: 'payments-approval',
        match: { namespaces: ['payments'] },
        approval: 'required',
        actions: ['label-pod', 'delete-pod'],
        approvers: { users: [APPROVER], groups: ['S0ONCALL1'] },
      },
    ],
    approval: { expiresMinutes: 60 },
    ...extra,
  });

/**
 * The largest summary message formatSlack can build, every value hostile: CJK characters (9 bytes
 * each once JSON- and form-encoded) at every length the finding allows and far beyond, in every
 * field, list and note the message shows, awaiting approval (the buttons are on it).
 */
function largestSummaryMessage() {
  const big = '漢'.repeat(5000);
  const many = Array.from({ length: 200 }, () => big);
  const base = summaryFor(notificationV1(), { policy: approvalPolicy() });
  const proc = { name: big, pid: big, parentPid: big, binary: big, sha256: big, virusTotalUrl: null, args: many, argsTruncated: true, env: many.map((value, i) => ({ name: `${big}${i}`, value })), envTruncated: true };
  const summary: Summary = {
    ...base,
    finding: { ...base.finding, severity: big, eventTime: big, consoleUrl: `https://console.cloud.google.com/security/command-center/findings?q=${'a'.repeat(3900)}` },
    target: { ...base.target, cluster: big, namespace: big, pod: big, container: big, image: big, imageId: big, node: big, problems: many },
    processes: { child: proc, parent: proc, count: 2 },
    decision: { ...base.decision, rule: big, reason: big, dryRun: true },
    exception: { name: big, reason: big, expires: big, owner: big, sinks: [], muteRule: { filter: big, fields: [], broaderBy: many, gcloud: big, note: big } },
    actions: ACTION_ORDER.map((type) => ({ type, status: 'would' as const, reason: big })),
    budget: { exceeded: true, denied: ACTION_ORDER.map((action) => ({ action, reason: big })) },
    warnings: many,
    owners: Array.from({ length: 100 }, (_, i) => ({ who: `team-${i}${big}`, source: 'namespace-label' as const, key: big })),
    ownerNotes: many,
    evidence: {
      queries: Array.from({ length: 20 }, () => ({ kind: big, count: 1, url: `https://console.cloud.google.com/logs/query;query=${'a'.repeat(3900)}`, excerpts: many, incomplete: big })),
      links: {},
      bundle: big,
      notes: many,
    },
    links: { mitre: Array.from({ length: 50 }, (_, i) => ({ id: `T${i}`, name: big, url: 'https://attack.mitre.org/techniques/T1059/004/' })), virusTotal: [] },
    approval: { status: 'awaiting', expiresAt: at(60 * MIN).toISOString(), by: null, reason: null },
  };
  const mentions = Object.fromEntries(summary.owners!.map((o, i) => [o.who, `U0OWNER${String(i).padStart(4, '0')}`]));
  return formatSlack(summary, { mentions });
}

/** The click on that message as Slack sends it: the message echoed back with Slack's additions (block ids, `verbatim`, the bot). */
function clickOnLargestMessage(o: Parameters<typeof blockActionsPayload>[0]) {
  const message = largestSummaryMessage();
  const echo = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(echo) : typeof v === 'object' && v !== null ? Object.fromEntries([...Object.entries(v).map(([k, x]) => [k, echo(x)] as const), ...((v as { type?: unknown }).type === 'mrkdwn' ? [['verbatim', false] as const] : [])]) : v;
  const blocks = message.blocks.map((b, i) => ({ block_id: `blk${i}Xy`, ...(echo(b) as object) }));
  const payload = blockActionsPayload({
    ...o,
    extra: {
      message: { type: 'message', subtype: 'bot_message', text: message.text, ts: '1763647420.000100', bot_id: 'B0SCCRESP1', app_id: 'A0SCCRESP1', blocks, bot_profile: { id: 'B0SCCRESP1', name: 'scc-responder', icons: { image_36: 'https://a.slack-edge.com/x/36.png' } } },
    },
  });
  return formBody(payload);
}

describe('the Slack signature', () => {
  const body = Buffer.from(formBody(blockActionsPayload({ incident: INCIDENT })));
  const ts = Math.floor(T0.getTime() / 1000);
  const check = (overrides: Partial<Parameters<typeof verifySlackSignature>[0]>) =>
    verifySlackSignature({ secret: TEST_SIGNING_SECRET, timestamp: String(ts), signature: hmac(body.toString(), ts), rawBody: body, now: T0, ...overrides });

  it('accepts the v0 HMAC-SHA256 of v0:timestamp:body under the signing secret, within 5 minutes either way', () => {
    expect(check({})).toEqual({ ok: true, timestamp: ts });
    expect(check({ now: new Date(T0.getTime() + 300_000) }).ok).toBe(true);
    expect(check({ now: new Date(T0.getTime() - 300_000) }).ok).toBe(true);
  });

  it('refuses another secret, one changed byte, a stale or a future timestamp, and malformed headers', () => {
    expect(check({ signature: hmac(body.toString(), ts, 'another-secret-of-32-characters!') })).toEqual({ ok: false, reason: 'signature does not match' });
    const changed = Buffer.from(body);
    changed.writeUInt8(changed.readUInt8(changed.length - 3) ^ 1, changed.length - 3);
    expect(check({ rawBody: changed })).toEqual({ ok: false, reason: 'signature does not match' });
    // The signature is over the timestamp too: a fresh timestamp on an old signature does not match.
    expect(check({ timestamp: String(ts + 10), now: at(10_000) })).toEqual({ ok: false, reason: 'signature does not match' });
    expect(check({ now: new Date(T0.getTime() + 301_000) })).toMatchObject({ ok: false, reason: expect.stringMatching(/^stale request: timestamp 301 s old/) });
    expect(check({ now: new Date(T0.getTime() - 301_000) })).toMatchObject({ ok: false, reason: expect.stringMatching(/301 s in the future/) });
    expect(check({ signature: undefined }).ok).toBe(false);
    expect(check({ signature: 'v1=' + 'a'.repeat(64) }).ok).toBe(false);
    expect(check({ signature: 'v0=' + 'a'.repeat(62) }).ok).toBe(false);
    expect(check({ timestamp: undefined }).ok).toBe(false);
    expect(check({ timestamp: `${ts}.5` }).ok).toBe(false);
  });
});

describe('the block_actions payload', () => {
  const parse = (payload: unknown, options = {}) => parseInteraction(Buffer.from(formBody(payload)), T0, options);

  it('takes the user and team Slack set, the incident id from the button, the response_url and the chosen reason', () => {
    expect(parse(blockActionsPayload({ incident: INCIDENT, actionId: APPROVAL_ACTION.dismiss, reason: 'false-positive', extra: { new_field_from_slack: { x: 1 } } }))).toEqual({
      kind: 'request',
      message: {
        schema: 'scc-responder.approval-request/v1',
        incident: INCIDENT,
        decision: 'dismiss',
        user: APPROVER,
        userName: 'alice',
        team: 'T0SHOP001',
        enterprise: null,
        actionTs: '1763647500.123456',
        responseUrl: 'https://hooks.slack.com/actions/T0SHOP001/1234567890/AbCdEfGhIjKlMnOp',
        reason: 'false-positive',
        receivedAt: T0.toISOString(),
      },
    });
    const contain = parse(blockActionsPayload({ incident: INCIDENT, reason: 'test' }));
    expect(contain).toMatchObject({ kind: 'request', message: { decision: 'contain', reason: null } });
  });

  it('refuses anything but an incident id in the value, a response_url off hooks.slack.com, and a non-Slack user id', () => {
    for (const value of [INCIDENT.toUpperCase(), `${INCIDENT}0`, '../f-x', 'organizations/1/sources/2/findings/3']) {
      expect(parse(blockActionsPayload({ incident: value }))).toMatchObject({ kind: 'invalid', reason: 'the button value is not an incident id' });
    }
    for (const url of ['http://hooks.slack.com/actions/x', 'https://hooks.slack.com.evil.example/actions/x', 'https://user:pw@hooks.slack.com/a', 'https://hooks.slack.com:8443/a', 'http://127.0.0.1:9/actions']) {
      expect(parse(blockActionsPayload({ incident: INCIDENT, responseUrl: url }))).toMatchObject({ kind: 'invalid' });
    }
    // A loopback recorder only with the explicit test option.
    expect(parse(blockActionsPayload({ incident: INCIDENT, responseUrl: 'http://127.0.0.1:9/actions' }), { allowLoopback: true })).toMatchObject({ kind: 'request' });
    expect(parse(blockActionsPayload({ incident: INCIDENT, user: 'alice' }))).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/^payload user\.id/) });
  });

  it('acknowledges the reason menu and other interaction types without a request; refuses what is not a payload', () => {
    const menu = blockActionsPayload({ incident: INCIDENT });
    (menu.actions as any[])[0] = { action_id: APPROVAL_ACTION.reason, type: 'static_select', action_ts: '1.2', selected_option: { value: 'test' } };
    expect(parse(menu)).toEqual({ kind: 'ignore', reason: 'dismiss reason selected' });
    expect(parse({ type: 'view_submission' })).toMatchObject({ kind: 'ignore' });
    expect(parseInteraction(Buffer.from('payload=%7Bnot-json'), T0)).toMatchObject({ kind: 'invalid', reason: 'payload is not JSON' });
    expect(parseInteraction(Buffer.from(`${formBody({})}&${formBody({})}`), T0)).toMatchObject({ kind: 'invalid', reason: 'expected exactly one payload= field' });
    const other = blockActionsPayload({ incident: INCIDENT, actionId: 'someone-elses-button' });
    expect(parse(other)).toMatchObject({ kind: 'invalid' });
    const control = blockActionsPayload({ incident: INCIDENT, username: 'al\u202eice\u0000' });
    expect(parse(control)).toMatchObject({ message: { userName: 'alice' } });
  });
});

describe('the size of a click', () => {
  it('a click on the largest summary message formatSlack can build (hostile CJK everywhere) is accepted, with room to spare', () => {
    const body = clickOnLargestMessage({ incident: INCIDENT });
    const bytes = Buffer.byteLength(body);
    // The message is what makes a click large: far over the few KB a click usually weighs…
    expect(bytes).toBeGreaterThan(128 * 1024);
    // …and under half the limit, the margin MAX_INTERACTION_BYTES claims for what Slack adds.
    expect(bytes).toBeLessThan(MAX_INTERACTION_BYTES / 2);
    expect(parseInteraction(Buffer.from(body), T0)).toMatchObject({ kind: 'request', message: { incident: INCIDENT, decision: 'contain' } });
    // The bound the limit's comment derives: under 50 000 UTF-16 code units of text in the message.
    const message = largestSummaryMessage();
    const text = JSON.stringify(message).replace(/"[a-z_]+":/g, '');
    expect(text.length).toBeLessThan(50_000);
  });

  it('a body over the limit is refused before it is parsed', () => {
    const body = Buffer.alloc(MAX_INTERACTION_BYTES + 1, 'a');
    expect(parseInteraction(body, T0)).toEqual({ kind: 'invalid', reason: `body over ${MAX_INTERACTION_BYTES} bytes` });
  });
});

describe('the workspace a click comes from', () => {
  const parse = (payload: unknown) => parseInteraction(Buffer.from(formBody(payload)), T0);
  const grid = (team: string | null) =>
    blockActionsPayload({ incident: INCIDENT, team: team ?? 'T0SHOP001', extra: { enterprise: { id: 'E0GRID0001', name: 'Example Org' }, is_enterprise_install: team === null, ...(team === null ? { team: null } : {}) } });

  it('reads the Enterprise Grid org from enterprise.id; SLACK_TEAM_ID=E… allows any workspace of that org, T… only that workspace', () => {
    const inGrid = parse(grid('T0SHOP001'));
    expect(inGrid).toMatchObject({ kind: 'request', message: { team: 'T0SHOP001', enterprise: 'E0GRID0001' } });
    const message = (inGrid as { message: ApprovalMessage }).message;
    expect(fromAllowedWorkspace(message, 'E0GRID0001')).toBe(true);
    expect(fromAllowedWorkspace(message, 'T0SHOP001')).toBe(true);
    expect(fromAllowedWorkspace(message, 'E0OTHER001')).toBe(false);
    expect(fromAllowedWorkspace(message, 'T0OTHER001')).toBe(false);
    // An org-wide install may leave team null: the org still matches, no workspace does.
    const orgWide = (parse(grid(null)) as { message: ApprovalMessage }).message;
    expect(orgWide).toMatchObject({ team: 'T0SHOP001', enterprise: 'E0GRID0001' });
    // Outside Grid there is no org: an E… id matches nothing, the workspace's T… id does.
    const plain = (parse(blockActionsPayload({ incident: INCIDENT })) as { message: ApprovalMessage }).message;
    expect(plain.enterprise).toBeNull();
    expect(fromAllowedWorkspace(plain, 'E0GRID0001')).toBe(false);
    expect(fromAllowedWorkspace(plain, 'T0SHOP001')).toBe(true);
    // The org id is never taken from the workspace field: a T… team cannot pass for an org, nor E… for a workspace by prefix.
    expect(fromAllowedWorkspace({ team: 'T0SHOP001', enterprise: null }, 'E0SHOP001')).toBe(false);
  });
});

describe('what the approver was shown, against what the approved run would do', () => {
  const shown = {
    actions: ['label-pod' as const, 'delete-pod' as const],
    target: { cluster: 'projects/p/locations/l/clusters/c', namespace: 'payments', pod: 'checkout-1' },
  };
  const planOf = (types: (typeof ACTION_ORDER)[number][], target: Partial<{ clusterName: string; namespace: string; pod: string }> = {}) => ({
    actions: types.map((type) => ({ type, namespace: 'payments', pod: 'checkout-1', node: null })),
    target: { clusterName: 'projects/p/locations/l/clusters/c', namespace: 'payments', pod: 'checkout-1', ...target } as any,
  });

  it('allows the same or fewer actions on the same target; refuses an added action, another cluster, namespace or pod, or a request without the list', () => {
    expect(approvedPlanProblem(shown, planOf(['label-pod', 'delete-pod']))).toBeNull();
    expect(approvedPlanProblem(shown, planOf(['label-pod']))).toBeNull();
    expect(approvedPlanProblem(shown, planOf(['label-pod', 'isolate-pod', 'delete-pod']))).toMatch(/it now also runs isolate-pod \(the approver was shown label-pod, delete-pod\)/);
    expect(approvedPlanProblem(shown, planOf(['label-pod'], { clusterName: 'projects/p/locations/l/clusters/other' }))).toMatch(/acts on cluster .*other, not/);
    expect(approvedPlanProblem(shown, planOf(['label-pod'], { namespace: 'kube-system' }))).toMatch(/acts on namespace kube-system/);
    expect(approvedPlanProblem(shown, planOf(['label-pod'], { pod: 'checkout-2' }))).toMatch(/acts on pod checkout-2/);
    expect(approvedPlanProblem({}, planOf(['label-pod']))).toMatch(/does not record what the dry run planned/);
  });
});

describe('the plan of an approval rule', () => {
  const notification = () => decodeInput(notificationV1());

  it('is a dry run that names the approvers, enforced once approved, and dry-run again under the kill switch', () => {
    const policy = approvalPolicy();
    const dry = plan(notification(), policy, T0);
    expect(dry).toMatchObject({
      dryRun: true,
      rule: 'payments-approval',
      reason: 'rule payments-approval matched; approval required',
      approval: { required: true, approvers: { users: [APPROVER], groups: ['S0ONCALL1'] }, expiresMinutes: 60, approved: false },
    });
    expect(plan(notification(), policy, T0, { approved: true })).toMatchObject({ dryRun: false, approval: { approved: true }, reason: 'rule payments-approval matched; approved' });
    expect(plan(notification(), policy, T0, { approved: true, forceDryRun: true }).dryRun).toBe(true);
    // Even with the policy's own dryRun at its default (true): the person's approval is the switch.
    expect(policy.dryRun).toBe(true);
  });

  it('leaves every other rule as it was, and asks nothing where there is nothing to approve', () => {
    const enforcing = validatePolicy({ dryRun: false, rules: [{ name: 'plain', actions: ['label-pod'] }] });
    expect(plan(notification(), enforcing, T0, { approved: true })).toMatchObject({ dryRun: false, approval: null, reason: 'rule plain matched' });
    const protectedNs = approvalPolicy({ protectedNamespaces: ['payments'] });
    expect(plan(notification(), protectedNs, T0).approval).toBeNull();
    const globalApprovers = validatePolicy({ rules: [{ name: 'r', approval: 'required', actions: ['label-pod'] }], approval: { approvers: { users: ['W0GRID0001'] } } });
    expect(plan(notification(), globalApprovers, T0).approval).toMatchObject({ approvers: { users: ['W0GRID0001'], groups: [] }, expiresMinutes: 60 });
  });

  it('plan --explain says approval is required and who may approve', () => {
    const policy = approvalPolicy();
    const text = renderExplanation(explainPlan(plan(notification(), policy, T0), policy, T0), policy);
    expect(text).toContain('decision   respond · rule payments-approval matched · dry-run');
    expect(text).toContain('approval required: the Slack summary offers Contain / Dismiss for 60 min');
    expect(text).toContain('approvers: user U0APPROVER1, group S0ONCALL1 (groups need SLACK_BOT_TOKEN on the approval consumer)');
  });
});

describe('the buttons', () => {
  const summary = (): Summary => ({
    ...summaryFor(notificationV1(), { policy: approvalPolicy(), outcomes: [{ type: 'label-pod', status: 'would', reason: 'would label' }, { type: 'delete-pod', status: 'would', reason: 'would delete' }] }),
    approval: { status: 'awaiting', expiresAt: at(60 * MIN).toISOString(), by: null, reason: null },
  });

  it('Contain (primary) and Dismiss (danger), each with a confirm dialog, carry the summary id and nothing else', () => {
    const s = summary();
    const blocks = approvalBlocks(s);
    const actions = blocks.find((b) => b.type === 'actions') as any;
    expect(actions.block_id).toBe(APPROVAL_BLOCK_ID);
    const [contain, menu, dismiss] = actions.elements;
    expect(contain).toMatchObject({ type: 'button', action_id: APPROVAL_ACTION.contain, style: 'primary', value: s.id, confirm: { confirm: { text: 'Contain' } } });
    expect(dismiss).toMatchObject({ type: 'button', action_id: APPROVAL_ACTION.dismiss, style: 'danger', value: s.id, confirm: { style: 'danger' } });
    expect(menu).toMatchObject({ type: 'static_select', action_id: APPROVAL_ACTION.reason });
    expect(s.id).toMatch(/^[a-f0-9]{64}$/);
    expect(JSON.stringify(blocks)).toContain('`delete-pod`');
  });

  it('a decided approval shows who decided, as a mention built from a validated id only, and no buttons', () => {
    const s = { ...summary(), approval: { status: 'dismissed' as const, expiresAt: null, by: { user: APPROVER, name: '<!channel>' }, reason: 'false positive' } };
    const text = JSON.stringify(approvalBlocks(s));
    expect(text).toContain('<@U0APPROVER1>');
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('"actions"');
    const forged = { ...s, approval: { ...s.approval, by: { user: '<!here>', name: null } } };
    expect(JSON.stringify(approvalBlocks(forged))).not.toContain('<!here>');
    const replaced = replacementMessage(s, [{ user: 'U0MALLORY1', at: T0.toISOString(), reason: 'not an approver for this rule' }]);
    expect(replaced.replace_original).toBe(true);
    expect(JSON.stringify(replaced.blocks).match(new RegExp(`"block_id":"${APPROVAL_BLOCK_ID}"`, 'g'))).toHaveLength(1);
    expect(JSON.stringify(replaced.blocks)).toContain('Refused attempts (1): <@U0MALLORY1>');
    expect(approvalBlocks({ ...s, approval: null })).toEqual([]);
  });
});

/** A loopback stand-in for https://slack.com/api/usergroups.users.list. */
async function fakeSlackApi(groups: Record<string, string[]>, token: string) {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    calls.push(url.pathname + url.search);
    const members = groups[url.searchParams.get('usergroup') ?? ''];
    const body = req.headers.authorization !== `Bearer ${token}` ? { ok: false, error: 'invalid_auth' } : members ? { ok: true, users: members } : { ok: false, error: 'no_such_subteam' };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('who may approve', () => {
  const approvers = { users: [APPROVER], groups: ['S0ONCALL1'] };

  it('a listed user; a member of a listed group only when Slack can be asked (bot token), cached', async () => {
    expect(await checkApprover(APPROVER, approvers, undefined)).toEqual({ allowed: true, via: 'listed user' });
    expect(await checkApprover('U0ONCALL22', approvers, undefined)).toEqual({ allowed: false, reason: expect.stringMatching(/no SLACK_BOT_TOKEN/) });
    const token = 'xoxb-1234567890-test-token';
    const api = await fakeSlackApi({ S0ONCALL1: ['U0ONCALL22'] }, token);
    try {
      let clock = 0;
      const members = slackUserGroups({ token, apiUrl: api.url, now: () => clock });
      expect(await checkApprover('U0ONCALL22', approvers, members)).toEqual({ allowed: true, via: 'member of S0ONCALL1' });
      expect(await checkApprover('U0MALLORY1', approvers, members)).toEqual({ allowed: false, reason: 'not an approver for this rule' });
      expect(api.calls).toEqual(['/usergroups.users.list?usergroup=S0ONCALL1']);
      clock = 61_000;
      await members('S0ONCALL1');
      expect(api.calls).toHaveLength(2);
      await expect(slackUserGroups({ token: 'xoxb-wrong-token-000', apiUrl: api.url })('S0ONCALL1')).rejects.toThrow(/invalid_auth/);
    } finally {
      await api.close();
    }
  });
});

// ---------------------------------------------------------------------------
// The consumer's decisions, on a real ledger, with the real pipeline.

describe('the approval consumer', () => {
  let scratch: string;
  let recorder: WebhookRecorder;
  let ledger: LocalLedger;
  const lines: { severity: string; step: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log: StepLogger = summaryCheckingLog({ log: (severity, step, message, fields) => void lines.push({ severity, step, message, ...(fields ? { fields } : {}) }) });

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'approval-'));
    recorder = await startWebhookRecorder();
    ledger = new LocalLedger({ path: join(scratch, 'ledger.sqlite'), leaseSeconds: 600, ttlDays: 30 });
  });
  afterAll(async () => {
    await ledger.close();
    await recorder.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const pipelineDeps = (policy: Policy, now: Date): PipelineDeps => ({
    policy,
    now: () => now,
    log,
    ledger: async () => ledger,
    budget: async () => ledger,
    approvals: async () => ledger,
    summarySinks: async () => [],
  });

  /** A finding of its own, through the real pipeline in dry run: the request is kept, the summary awaits. */
  async function dryRun(policy: Policy, now = T0) {
    const n = structuredClone(notificationV1());
    n.finding.name = `organizations/123456789012/sources/11223344556677889900/findings/${randomUUID().replaceAll('-', '')}`;
    const result = await handleInput(n, pipelineDeps(policy, now));
    return { notification: n, result, id: findingKey(decodeInput(n).notification.finding).id };
  }

  const runs: unknown[] = [];
  function flowDeps(policy: Policy, now: Date, extra: Partial<ApprovalFlowDeps> = {}): ApprovalFlowDeps {
    return {
      policy,
      now: () => now,
      log,
      approvals: async () => ledger,
      runApproved: (notification, approvedRun) => {
        runs.push(approvedRun);
        return handleInput(notification, { ...pipelineDeps(policy, now), approvedRun });
      },
      respond: async (url, body) => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      },
      allowLoopbackResponseUrl: true,
      ...extra,
    };
  }

  /** A click as the endpoint would publish it, as the Pub/Sub push delivers it. */
  function clickEvent(o: { incident: string; user?: string; actionTs?: string; decision?: 'contain' | 'dismiss'; reason?: string; path: string }) {
    const parsed = parseInteraction(
      Buffer.from(formBody(blockActionsPayload({ ...o, actionId: o.decision === 'dismiss' ? APPROVAL_ACTION.dismiss : APPROVAL_ACTION.contain, responseUrl: recorder.url(o.path) }))),
      T0,
      { allowLoopback: true },
    );
    if (parsed.kind !== 'request') throw new Error(JSON.stringify(parsed));
    const message: ApprovalMessage = parsed.message;
    return { data: { message: { data: Buffer.from(JSON.stringify(message)).toString('base64'), messageId: '1' }, subscription: 'projects/p/subscriptions/s' } };
  }
  const posted = (path: string) => recorder.posts(path).map((p) => p.json as Record<string, any>);

  it('the dry run keeps the request in the ledger and its summary awaits a person until the expiry', async () => {
    const { result, id } = await dryRun(approvalPolicy());
    expect(result.summary?.approval).toEqual({ status: 'awaiting', expiresAt: at(60 * MIN).toISOString(), by: null, reason: null });
    expect(result.summary?.decision.dryRun).toBe(true);
    const stored = await ledger.getRequest(id, T0);
    expect(stored?.state).toMatchObject({ request: { rule: 'payments-approval', expiresAt: at(60 * MIN).toISOString() }, decision: null });
    expect(stored?.summary?.approval?.status).toBe('awaiting');
    // Without a ledger to keep the request, no buttons: the summary says why.
    const bare = await handleInput(notificationV1(), { policy: approvalPolicy(), now: () => T0, log });
    expect(bare.summary?.approval).toMatchObject({ status: 'refused', reason: expect.stringMatching(/no ledger/) });
  });

  it('an unknown user is told "not allowed", nothing runs, and the attempt is recorded and shown with the decision', async () => {
    const policy = approvalPolicy();
    const { id } = await dryRun(policy);
    const before = runs.length;
    const result = await handleApproval(clickEvent({ incident: id, user: 'U0MALLORY1', path: '/mallory' }), flowDeps(policy, at(5 * MIN)));
    expect(result).toMatchObject({ status: 'refused', reason: expect.stringMatching(/U0MALLORY1 is not allowed/) });
    expect(runs.length).toBe(before);
    expect(posted('/mallory')).toEqual([{ response_type: 'ephemeral', replace_original: false, text: expect.stringMatching(/not allowed/) }]);
    expect((await ledger.getRequest(id, T0))?.state).toMatchObject({ decision: null, refusals: [{ user: 'U0MALLORY1' }] });
    expect(lines.some((l) => l.message === 'approval refused' && l.severity === 'WARNING')).toBe(true);
    // The approver still can; the update lists the refused attempt.
    await handleApproval(clickEvent({ incident: id, decision: 'dismiss', reason: 'test', path: '/alice' }), flowDeps(policy, at(6 * MIN)));
    expect(JSON.stringify(posted('/alice'))).toContain('Refused attempts (1): <@U0MALLORY1>');
  });

  it('Dismiss records who and why, runs nothing, and replaces the message without buttons', async () => {
    const policy = approvalPolicy();
    const { id } = await dryRun(policy);
    const before = runs.length;
    const result = await handleApproval(clickEvent({ incident: id, decision: 'dismiss', reason: 'false-positive', path: '/dismiss' }), flowDeps(policy, at(5 * MIN)));
    expect(result.status).toBe('dismissed');
    expect(runs.length).toBe(before);
    const state = (await ledger.getRequest(id, T0))!.state;
    expect(state.decision).toMatchObject({ decision: 'dismiss', by: { user: APPROVER, name: 'alice', team: 'T0SHOP001' }, reason: 'false-positive', at: at(5 * MIN).toISOString() });
    expect(state.result).toMatchObject({ status: 'dismissed', note: 'false positive' });
    const [update] = posted('/dismiss');
    expect(update).toMatchObject({ replace_original: true });
    const text = JSON.stringify(update);
    expect(text).toContain('*Dismissed* by <@U0APPROVER1>');
    expect(text).toContain('false positive');
    expect(text).not.toContain(APPROVAL_ACTION.contain);
  });

  it('a double click, and a second approver, get one run: the later click is told who decided', async () => {
    const policy = approvalPolicy({ rules: [{ name: 'payments-approval', approval: 'required', actions: ['label-pod'], approvers: { users: [APPROVER, 'U0BOB00001'] } }] });
    const { id } = await dryRun(policy);
    const before = runs.length;
    const first = await handleApproval(clickEvent({ incident: id, actionTs: '100.1', path: '/first' }), flowDeps(policy, at(5 * MIN)));
    expect(first.status).toBe('approved');
    expect(first.summary?.approval).toMatchObject({ status: 'approved', by: { user: APPROVER, name: 'alice' } });
    const double = await handleApproval(clickEvent({ incident: id, actionTs: '100.9', path: '/double' }), flowDeps(policy, at(5 * MIN)));
    const bob = await handleApproval(clickEvent({ incident: id, user: 'U0BOB00001', actionTs: '101.0', path: '/bob' }), flowDeps(policy, at(6 * MIN)));
    expect([double.status, bob.status]).toEqual(['duplicate', 'duplicate']);
    expect(runs.length).toBe(before + 1);
    expect(posted('/bob')).toEqual([expect.objectContaining({ response_type: 'ephemeral', text: expect.stringMatching(/^Already approved \(Contain\) by <@U0APPROVER1>/) })]);
    expect(posted('/first')[0]).toMatchObject({ replace_original: true });
  });

  it('the same click delivered again (a replayed request, a Pub/Sub redelivery) is one run; a transient failure resumes it', async () => {
    const policy = approvalPolicy();
    const { id } = await dryRun(policy);
    const before = runs.length;
    let failOnce = true;
    const deps = flowDeps(policy, at(5 * MIN));
    const flaky: ApprovalFlowDeps = {
      ...deps,
      runApproved: async (n, a) => {
        if (failOnce) {
          failOnce = false;
          runs.push(a);
          throw new TransientError('cluster unreachable');
        }
        return deps.runApproved(n, a);
      },
    };
    const event = clickEvent({ incident: id, actionTs: '200.1', path: '/replay' });
    await expect(handleApproval(event, flaky)).rejects.toBeInstanceOf(TransientError);
    expect(await handleApproval(event, flaky)).toMatchObject({ status: 'approved' });
    expect(await handleApproval(event, flaky)).toEqual({ status: 'duplicate', reason: 'already carried out' });
    expect(runs.length).toBe(before + 2); // the failed attempt and its resumption: one approved run
    expect(posted('/replay')).toHaveLength(1);
  });

  it('after the expiry a Contain is refused and the message says it expired; the kill switch and a changed policy refuse too', async () => {
    const policy = approvalPolicy();
    const expired = await dryRun(policy);
    const before = runs.length;
    expect(await handleApproval(clickEvent({ incident: expired.id, path: '/late' }), flowDeps(policy, at(61 * MIN)))).toMatchObject({ status: 'refused', reason: expect.stringMatching(/expired at 2026-11-20T15:05:00.000Z/) });
    expect(JSON.stringify(posted('/late'))).toContain('*Approval expired*');

    const killed = await dryRun(policy);
    expect(await handleApproval(clickEvent({ incident: killed.id, path: '/killed' }), flowDeps(policy, at(5 * MIN), { forceDryRun: true }))).toMatchObject({ status: 'refused', reason: expect.stringMatching(/kill switch/) });
    expect(posted('/killed')[0]).toMatchObject({ response_type: 'ephemeral' });
    // Not consumed: once the switch is off, the same person can still contain.
    expect((await ledger.getRequest(killed.id, T0))?.state.decision).toBeNull();

    const changed = await dryRun(policy);
    const relaxed = validatePolicy({ rules: [{ name: 'payments-approval', actions: ['label-pod'] }] });
    expect(await handleApproval(clickEvent({ incident: changed.id, path: '/changed' }), flowDeps(relaxed, at(5 * MIN)))).toMatchObject({ status: 'refused', reason: expect.stringMatching(/the policy changed/) });
    expect(runs.length).toBe(before);

    expect(await handleApproval(clickEvent({ incident: createHash('sha256').update('never').digest('hex'), path: '/none' }), flowDeps(policy, at(5 * MIN)))).toMatchObject({ status: 'refused', reason: 'no approval is pending for this incident' });
  });

  it('Contain is refused when the finding would now get an action the approver was not shown; the message and the log say which', async () => {
    const shown = approvalPolicy({ rules: [{ name: 'payments-approval', approval: 'required', actions: ['label-pod'], approvers: { users: [APPROVER] } }] });
    const { id } = await dryRun(shown);
    expect((await ledger.getRequest(id, T0))?.state.request).toMatchObject({
      actions: ['label-pod'],
      target: { cluster: expect.stringMatching(/\/clusters\/shop-prod-1$/), namespace: 'payments', pod: 'checkout-7c9f8d6b5-q2w8x' },
    });
    // The same rule, edited since the dry run to delete the pod too.
    const widened = approvalPolicy({ rules: [{ name: 'payments-approval', approval: 'required', actions: ['label-pod', 'delete-pod'], approvers: { users: [APPROVER] } }] });
    const before = runs.length;
    const result = await handleApproval(clickEvent({ incident: id, path: '/widened' }), flowDeps(widened, at(5 * MIN)));
    expect(result).toMatchObject({ status: 'refused', reason: expect.stringMatching(/now also runs delete-pod \(the approver was shown label-pod\)/) });
    expect(runs.length).toBe(before);
    const update = JSON.stringify(posted('/widened'));
    expect(update).toContain('*Approval not possible*');
    expect(update).toContain('now also runs delete-pod');
    expect(lines.some((l) => l.message === 'approval refused' && l.fields?.incident === id && String(l.fields?.reason).includes('now also runs delete-pod'))).toBe(true);
    expect((await ledger.getRequest(id, T0))?.state.decision).toBeNull();
    // Under the policy the approver saw, their Contain runs what they were shown.
    expect((await handleApproval(clickEvent({ incident: id, path: '/as-shown' }), flowDeps(shown, at(6 * MIN)))).status).toBe('approved');
  });

  it('an approved Contain whose every delivery failed is resumed by the next Contain press of an approver, once; others are told', async () => {
    const policy = approvalPolicy({ rules: [{ name: 'payments-approval', approval: 'required', actions: ['label-pod'], approvers: { users: [APPROVER, 'U0BOB00001'] } }] });
    const { id } = await dryRun(policy);
    const down: ApprovalFlowDeps = {
      ...flowDeps(policy, at(5 * MIN)),
      runApproved: async () => {
        throw new TransientError('cluster unreachable');
      },
    };
    const click = clickEvent({ incident: id, actionTs: '300.1', path: '/lost' });
    // Every delivery fails until Pub/Sub gives up (dead letter): decided, never carried out.
    for (let i = 0; i < 3; i++) await expect(handleApproval(click, down)).rejects.toBeInstanceOf(TransientError);
    expect((await ledger.getRequest(id, T0))?.state).toMatchObject({ decision: { decision: 'contain', by: { user: APPROVER } }, result: null });
    const before = runs.length;
    // A Dismiss press neither undoes the approval nor runs it; a non-approver is refused.
    expect(await handleApproval(clickEvent({ incident: id, decision: 'dismiss', user: 'U0BOB00001', actionTs: '300.2', path: '/bob-dismiss' }), flowDeps(policy, at(10 * MIN)))).toMatchObject({ status: 'duplicate' });
    expect(posted('/bob-dismiss')[0]?.text).toMatch(/^Already approved \(Contain\) by <@U0APPROVER1> .*, not carried out yet: press Contain/);
    expect(await handleApproval(clickEvent({ incident: id, user: 'U0MALLORY1', actionTs: '300.3', path: '/mallory-resume' }), flowDeps(policy, at(10 * MIN)))).toMatchObject({ status: 'refused', reason: expect.stringMatching(/not allowed/) });
    expect(runs.length).toBe(before);
    // Another approver's Contain resumes the approved run, under the first approval.
    const resumed = await handleApproval(clickEvent({ incident: id, user: 'U0BOB00001', actionTs: '300.4', path: '/bob' }), flowDeps(policy, at(10 * MIN)));
    expect(resumed).toMatchObject({ status: 'approved', summary: { approval: { status: 'approved', by: { user: APPROVER } }, decision: { dryRun: false } } });
    expect(runs.length).toBe(before + 1);
    expect(JSON.stringify(posted('/bob'))).toContain('*Approved* by <@U0APPROVER1>');
    expect((await ledger.getRequest(id, T0))?.state.result).toMatchObject({ status: 'approved', summaryId: expect.stringMatching(/^[a-f0-9]{64}$/) });
    expect(lines.some((l) => l.message === 'resuming an approved Contain that was not carried out' && l.fields?.incident === id && l.fields?.user === 'U0BOB00001')).toBe(true);
    // Carried out: a further press is told so and runs nothing.
    await handleApproval(clickEvent({ incident: id, actionTs: '300.5', path: '/after' }), flowDeps(policy, at(11 * MIN)));
    expect(runs.length).toBe(before + 1);
    expect(posted('/after')[0]?.text).toMatch(/^Already approved \(Contain\) by <@U0APPROVER1> at [^,]*: this click does nothing/);
  });

  it('an approved Contain never carried out and pressed again after the expiry is reported loudly, not run', async () => {
    const policy = approvalPolicy();
    const { id } = await dryRun(policy);
    const down: ApprovalFlowDeps = { ...flowDeps(policy, at(5 * MIN)), runApproved: async () => Promise.reject(new TransientError('cluster unreachable')) };
    await expect(handleApproval(clickEvent({ incident: id, actionTs: '301.1', path: '/x' }), down)).rejects.toBeInstanceOf(TransientError);
    const before = runs.length;
    const late = await handleApproval(clickEvent({ incident: id, actionTs: '301.2', path: '/late-resume' }), flowDeps(policy, at(61 * MIN)));
    expect(late).toMatchObject({ status: 'refused', reason: expect.stringMatching(/^approved by U0APPROVER1 at \S+ but never carried out .*expired at/) });
    expect(runs.length).toBe(before);
    expect(JSON.stringify(posted('/late-resume'))).toContain('never carried out');
    expect(lines.some((l) => l.severity === 'ERROR' && l.message === 'approval refused' && l.fields?.incident === id)).toBe(true);
  });

  it('the kill switch refuses a redelivered Contain too, without using it up; once off, the same click carries it out for real', async () => {
    const policy = approvalPolicy();
    const { id } = await dryRun(policy);
    const deps = flowDeps(policy, at(5 * MIN));
    let fail = true;
    const flaky: ApprovalFlowDeps = {
      ...deps,
      runApproved: async (n, a) => {
        if (fail) {
          fail = false;
          throw new TransientError('cluster unreachable');
        }
        return deps.runApproved(n, a);
      },
    };
    const click = clickEvent({ incident: id, actionTs: '400.1', path: '/switch' });
    await expect(handleApproval(click, flaky)).rejects.toBeInstanceOf(TransientError);
    // The kill switch goes on before Pub/Sub redelivers.
    const before = runs.length;
    expect(await handleApproval(click, { ...flaky, forceDryRun: true })).toMatchObject({ status: 'refused', reason: expect.stringMatching(/kill switch/) });
    expect(runs.length).toBe(before);
    expect((await ledger.getRequest(id, T0))?.state).toMatchObject({ decision: { decision: 'contain' }, result: null });
    expect(posted('/switch')).toEqual([expect.objectContaining({ response_type: 'ephemeral', text: expect.stringMatching(/kill switch is on/) })]);
    const done = await handleApproval(click, flaky);
    expect(done).toMatchObject({ status: 'approved', summary: { decision: { dryRun: false } } });
    expect(JSON.stringify(posted('/switch').at(-1))).toContain('the actions ran for real');
  });

  it('an approved run held to a dry run where it ran is never reported as run for real', async () => {
    const policy = approvalPolicy();
    const { id } = await dryRun(policy);
    const heldDry: ApprovalFlowDeps = {
      ...flowDeps(policy, at(5 * MIN)),
      runApproved: (n, approvedRun) => handleInput(n, { ...pipelineDeps(policy, at(5 * MIN)), forceDryRun: true, approvedRun }),
    };
    const result = await handleApproval(clickEvent({ incident: id, path: '/held' }), heldDry);
    expect(result).toMatchObject({ status: 'refused', reason: expect.stringMatching(/the approved run was a dry run/) });
    const text = JSON.stringify(posted('/held'));
    expect(text).not.toContain('the actions ran for real');
    expect(text).toContain('nothing ran for real');
    expect((await ledger.getRequest(id, T0))?.state.result).toMatchObject({ status: 'refused', summaryId: expect.stringMatching(/^[a-f0-9]{64}$/) });
    expect(lines.some((l) => l.severity === 'ERROR' && l.message.includes('the approved run was a dry run') && l.fields?.incident === id)).toBe(true);
    // The approved line itself: "ran for real" only on a summary that was not a dry run.
    const s = result.summary!;
    const approvedBy = { status: 'approved' as const, expiresAt: null, by: { user: APPROVER, name: null }, reason: null };
    expect(JSON.stringify(approvalBlocks({ ...s, approval: approvedBy }))).not.toContain('the actions ran for real');
    expect(JSON.stringify(approvalBlocks({ ...s, approval: approvedBy }))).toContain('nothing ran for real');
    expect(JSON.stringify(approvalBlocks({ ...s, decision: { ...s.decision, dryRun: false }, approval: approvedBy }))).toContain('the actions ran for real (outcome above)');
  });

  it('an approval message that is not ours, or whose response_url left Slack, is acked without effect', async () => {
    const policy = approvalPolicy();
    const bad = { data: { message: { data: Buffer.from(JSON.stringify({ schema: 'x' })).toString('base64') } } };
    expect(await handleApproval(bad, flowDeps(policy, T0))).toMatchObject({ status: 'invalid' });
    const event = clickEvent({ incident: INCIDENT, path: '/x' });
    expect(await handleApproval(event, flowDeps(policy, T0, { allowLoopbackResponseUrl: false }))).toMatchObject({ status: 'invalid', reason: 'response_url is not https://hooks.slack.com/…' });
  });
});

describe('what each entry loads', () => {
  /** Every source file reachable from `entry` through static and literal dynamic imports (packages left out). */
  async function reachableFrom(entry: string): Promise<string[]> {
    const { build } = await import('esbuild');
    const result = await build({
      absWorkingDir: join(import.meta.dirname, '..'),
      entryPoints: [entry],
      bundle: true,
      write: false,
      outdir: join(tmpdir(), 'approval-esbuild-out'),
      splitting: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
    });
    return Object.keys(result.metafile.inputs);
  }

  it('the public endpoint reaches no cluster, ledger, Logging or Storage code; the consumer never the local ledger', async () => {
    const endpoint = await reachableFrom('src/functions/slack-endpoint.ts');
    expect(endpoint).toContain('src/adapters/approval-publisher.ts');
    // The publisher and the Pub/Sub client it is built on; no other adapter.
    expect(endpoint.filter((f) => /^src\/(adapters|actions|evidence)\//.test(f) && !['src/adapters/approval-publisher.ts', 'src/adapters/pubsub-client.ts'].includes(f))).toEqual([]);
    expect(endpoint).not.toContain('src/pipeline/respond.ts');
    const consumer = await reachableFrom('src/functions/approval-consumer.ts');
    expect(consumer).toContain('src/adapters/firestore-ledger.ts');
    expect(consumer).not.toContain('src/adapters/local-ledger.ts');
  });
});

// ---------------------------------------------------------------------------
// The endpoint: the real functions-framework server, signed requests, the Pub/Sub emulator.

const PROJECT = 'test-project';
const pubsubEmu = await emulatorOrSkip(() => startPubsubEmulator({ project: PROJECT }), 'Slack endpoint test (Pub/Sub emulator)');
const withPubsub = pubsubEmu ? describe : describe.skip;
// At the top level, not in the describe: a run filtered to other tests (-t) skips the describe's hooks, and the emulator would outlive it.
afterAll(async () => {
  await pubsubEmu?.stop();
});

withPubsub('the interactivity endpoint (functions-framework server)', () => {
  let endpoint: FunctionServer;
  let rest: ReturnType<typeof pubsubRest>;
  const url = () => `http://127.0.0.1:${endpoint.port}/`;

  beforeAll(async () => {
    rest = pubsubRest(pubsubEmu!.hostPort, PROJECT);
    await rest.createTopic('approvals');
    await rest.createPullSubscription('approvals-pull', 'approvals');
    endpoint = await startFrameworkServer(SLACK_ENDPOINT, {
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      APPROVAL_TOPIC: `projects/${PROJECT}/topics/approvals`,
      GOOGLE_CLOUD_PROJECT: PROJECT,
      PUBSUB_EMULATOR_HOST: pubsubEmu!.hostPort,
      LOG_LEVEL: 'DEBUG',
    });
  }, 90_000);
  afterAll(() => {
    endpoint?.stop();
  });

  /** What the endpoint published since the last call: a marker is published behind it and pulled back. */
  async function published(): Promise<Record<string, any>[]> {
    const marker = randomUUID();
    await rest.publish('approvals', { marker }, { testMarker: marker });
    const out: Record<string, any>[] = [];
    for (let seen = false; !seen; ) {
      const got = await rest.pullAll('approvals-pull', { waitMs: 20_000 });
      if (got.length === 0) throw new Error('the marker never came back');
      for (const m of got) {
        if (m.attributes.testMarker === marker) seen = true;
        else out.push(JSON.parse(m.data));
      }
    }
    return out;
  }
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  it('a correctly signed Contain is answered 200 with an empty body, and one approval request is published', async () => {
    const body = formBody(blockActionsPayload({ incident: INCIDENT }));
    const started = Date.now();
    const res = await post(url(), body, signedHeaders(body, nowSeconds()));
    expect(res).toEqual({ status: 200, text: '' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await published()).toEqual([
      expect.objectContaining({ schema: 'scc-responder.approval-request/v1', incident: INCIDENT, decision: 'contain', user: APPROVER, team: 'T0SHOP001', responseUrl: expect.stringMatching(/^https:\/\/hooks\.slack\.com\//) }),
    ]);
  });

  it('refuses a bad signature, a stale and a future timestamp (401), and publishes nothing', async () => {
    const body = formBody(blockActionsPayload({ incident: INCIDENT }));
    const now = nowSeconds();
    expect((await post(url(), body, signedHeaders(body, now, 'not-the-signing-secret-0000000000'))).status).toBe(401);
    const tampered = signedHeaders(body, now);
    expect((await post(url(), body.replace('U0APPROVER1', 'U0APPROVER2'), tampered)).status).toBe(401);
    expect((await post(url(), body, signedHeaders(body, now - 301))).status).toBe(401);
    expect((await post(url(), body, signedHeaders(body, now + 301))).status).toBe(401);
    expect((await post(url(), body, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    expect(await published()).toEqual([]);
    const reasons = endpoint.lines.filter((l) => l.message === 'interaction refused: not signed by Slack').map((l) => l.reason);
    expect(reasons).toEqual(expect.arrayContaining(['signature does not match', expect.stringMatching(/^stale request/), expect.stringMatching(/in the future/)]));
  });

  it('a signed request that is not a decision gets 400 (forged value) or 200 with nothing published (the reason menu); GET is 405', async () => {
    const forged = formBody(blockActionsPayload({ incident: 'organizations/1/sources/2/findings/3' }));
    expect((await post(url(), forged, signedHeaders(forged, nowSeconds()))).status).toBe(400);
    const menu = blockActionsPayload({ incident: INCIDENT });
    (menu.actions as any[])[0] = { action_id: APPROVAL_ACTION.reason, type: 'static_select', action_ts: '1.2', selected_option: { value: 'test' } };
    const menuBody = formBody(menu);
    expect(await post(url(), menuBody, signedHeaders(menuBody, nowSeconds()))).toEqual({ status: 200, text: '' });
    const json = JSON.stringify(blockActionsPayload({ incident: INCIDENT }));
    expect((await post(url(), json, { ...signedHeaders(json, nowSeconds()), 'content-type': 'application/json' })).status).toBe(400);
    expect((await fetch(url())).status).toBe(405);
    expect(await published()).toEqual([]);
  });

  it('a replayed request within the window is published again: the consumer\'s claim makes it one run (approval-e2e)', async () => {
    const body = formBody(blockActionsPayload({ incident: INCIDENT, actionTs: '1763647999.000001' }));
    const headers = signedHeaders(body, nowSeconds());
    expect((await post(url(), body, headers)).status).toBe(200);
    expect((await post(url(), body, headers)).status).toBe(200);
    const twice = await published();
    expect(twice).toHaveLength(2);
    const { receivedAt: _first, ...first } = twice[0]!;
    const { receivedAt: _second, ...second } = twice[1]!;
    expect(first).toEqual(second);
  });

  it('a click on the largest summary message is answered 200 and published, like any click', async () => {
    const body = clickOnLargestMessage({ incident: INCIDENT, actionTs: '1763647999.000777' });
    expect(Buffer.byteLength(body)).toBeGreaterThan(128 * 1024);
    expect(await post(url(), body, signedHeaders(body, nowSeconds()))).toEqual({ status: 200, text: '' });
    expect(await published()).toEqual([expect.objectContaining({ incident: INCIDENT, decision: 'contain', actionTs: '1763647999.000777' })]);
  });

  it('SLACK_TEAM_ID set to an Enterprise Grid org (E…) takes clicks from the org\'s workspaces and refuses the rest (403)', async () => {
    const grid = await startFrameworkServer(SLACK_ENDPOINT, {
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      APPROVAL_TOPIC: `projects/${PROJECT}/topics/approvals`,
      GOOGLE_CLOUD_PROJECT: PROJECT,
      PUBSUB_EMULATOR_HOST: pubsubEmu!.hostPort,
      SLACK_TEAM_ID: 'E0GRID0001',
    });
    try {
      const gridUrl = `http://127.0.0.1:${grid.port}/`;
      const inOrg = formBody(blockActionsPayload({ incident: INCIDENT, team: 'T0SHOP001', actionTs: '1763647999.000888', extra: { enterprise: { id: 'E0GRID0001', name: 'Example Org' } } }));
      expect((await post(gridUrl, inOrg, signedHeaders(inOrg, nowSeconds()))).status).toBe(200);
      const otherOrg = formBody(blockActionsPayload({ incident: INCIDENT, team: 'T0SHOP001', extra: { enterprise: { id: 'E0OTHER001', name: 'Other' } } }));
      expect((await post(gridUrl, otherOrg, signedHeaders(otherOrg, nowSeconds()))).status).toBe(403);
      const noOrg = formBody(blockActionsPayload({ incident: INCIDENT, team: 'T0SHOP001' }));
      expect((await post(gridUrl, noOrg, signedHeaders(noOrg, nowSeconds()))).status).toBe(403);
      expect(await published()).toEqual([expect.objectContaining({ incident: INCIDENT, team: 'T0SHOP001', enterprise: 'E0GRID0001', actionTs: '1763647999.000888' })]);
    } finally {
      grid.stop();
    }
  }, 60_000);

  it('refuses to start without its secret, and with the loopback test option on Cloud Run', async () => {
    const base = { APPROVAL_TOPIC: 'approvals', GOOGLE_CLOUD_PROJECT: PROJECT, PUBSUB_EMULATOR_HOST: pubsubEmu!.hostPort };
    const noSecret = await startupFailure(SLACK_ENDPOINT, base);
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.output).toMatch(/SLACK_SIGNING_SECRET/);
    const onCloudRun = await startupFailure(SLACK_ENDPOINT, { ...base, SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET, SCC_RESPONDER_TEST_LOOPBACK: 'true', K_SERVICE: 'scc-responder-slack' });
    expect(onCloudRun.code).not.toBe(0);
    expect(onCloudRun.output).toMatch(/refused on Cloud Run/);
    expect(onCloudRun.output).not.toContain(TEST_SIGNING_SECRET);
  }, 60_000);
});
