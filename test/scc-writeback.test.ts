// SCC write-back with the real v2 SecurityCenterClient (@google-cloud/security-center)
// against a gRPC fake of the v2 SecurityCenter service built from the package's own
// protos: the exact name, update mask and marks; the dry-run mark; when the finding may
// go INACTIVE; faults that never throw; refused names that never reach the service;
// and the loop: SCC's notification of our own marks is not acted on again.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { readBack } from '../src/actions/read-back.ts';
import { KubeApiError, type ClusterFacts, type KubeApi, type Pod } from '../src/actions/kube-api.ts';
import type { PreflightResult } from '../src/actions/preflight.ts';
import { createSccWriter, createSccWriterFromEnv, sccClientOptionsFromEnv } from '../src/adapters/security-center.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { PermanentError } from '../src/core/errors.ts';
import { overallOutcome, type ActionOutcome } from '../src/core/plan/outcome.ts';
import { plan } from '../src/core/plan/plan.ts';
import { checkScope } from '../src/core/finding/scope.ts';
import { OVERALL_OUTCOMES, validatePolicy, type Policy, type PolicyInput } from '../src/core/policy/policy.ts';
import type { Severity, StepLogger } from '../src/core/ports.ts';
import { outcomeMark, planSccWriteBack, sccFindingName, type SccWriteBackInput, type SccWriter } from '../src/core/scc/write-back.ts';
import { isOwnEcho, SCC_MARK } from '../src/core/scc/marks.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { writeBackToScc } from '../src/pipeline/scc-writeback.ts';
import { lazySccWriterFromEnv } from '../src/wiring/scc-writer.ts';
import { startFakeScc, type FakeScc } from './fakes/scc-grpc-server.ts';
import { notificationV1, notificationV2 } from './support/fixtures.ts';

const NOW = new Date('2026-11-20T14:03:45.000Z');
const V1_NAME = 'organizations/123456789012/sources/11223344556677889900/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const V2_NAME = 'organizations/123456789012/sources/11223344556677889900/locations/global/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const MARKS_NAME = `${V2_NAME}/securityMarks`;
const MASK = ['marks.scc_responder_outcome', 'marks.scc_responder_incident', 'marks.scc_responder_at', 'marks.scc_responder_summary'];

type Line = { severity: Severity; step: string; message: string; fields?: Record<string, unknown> };
function recordingLog(): StepLogger & { lines: Line[] } {
  const lines: Line[] = [];
  return { lines, log: (severity, step, message, fields) => lines.push({ severity, step, message, ...(fields ? { fields } : {}) }) };
}

const policyWith = (scc: PolicyInput['scc'] = {}): Policy =>
  validatePolicy({ dryRun: false, rules: [{ name: 'all', actions: ['label-pod', 'delete-pod'] }], scc });

const done = (type: ActionOutcome['type'], reason = `${type} done`): ActionOutcome => ({ type, status: 'done', reason });

/** The write-back input for a response to the v1 fixture (or `notification`), built the way the pipeline has it. */
function response(outcomes: ActionOutcome[], options: { dryRun?: boolean; warnings?: string[]; notification?: Record<string, any> } = {}): SccWriteBackInput {
  const finding = decodeInput(options.notification ?? notificationV1()).notification.finding;
  const key = findingKey(finding);
  const dryRun = options.dryRun ?? false;
  return {
    key,
    summary: { id: key.id, outcome: overallOutcome(outcomes, dryRun), decision: { decision: 'respond', reason: 'rule all matched', rule: 'all', dryRun } },
    containment: { outcomes, warnings: options.warnings ?? [] },
    now: NOW,
  };
}

const CONTAINED = [done('label-pod'), done('delete-pod')];

let fake: FakeScc;
let writer: SccWriter;

beforeAll(async () => {
  fake = await startFakeScc();
  // The composition's path: the client loads on the first write, pointed at the fake by SCC_API_ENDPOINT.
  writer = lazySccWriterFromEnv({ SCC_API_ENDPOINT: fake.endpoint });
});

afterAll(async () => {
  await writer.close?.();
  await fake.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.marks.clear();
  fake.states.clear();
});

afterEach(() => {
  fake.setFault('UpdateSecurityMarks', undefined);
  fake.setFault('SetFindingState', undefined);
});

const noPause = async () => {};

describe('marks (real v2 client against the fake)', () => {
  it('writes exactly our four marks to the v2 name of a v1 finding, under a mask naming exactly them; other marks stay', async () => {
    fake.marks.set(V2_NAME, { triage: 'alice', scc_responder_note: 'kept' });
    const input = response(CONTAINED);
    const log = recordingLog();
    const result = await writeBackToScc(input, { writer, policy: policyWith(), log });

    const values = {
      scc_responder_outcome: 'contained',
      scc_responder_incident: input.key.id,
      scc_responder_at: '2026-11-20T14:03:45.000Z',
      scc_responder_summary: input.summary.id,
    };
    expect(fake.requests).toEqual([{ method: 'UpdateSecurityMarks', name: MARKS_NAME, marks: values, updateMask: MASK, accepted: true, at: expect.any(Number) }]);
    expect(fake.marks.get(V2_NAME)).toEqual({ triage: 'alice', scc_responder_note: 'kept', ...values });
    expect(result).toEqual({
      marks: { status: 'written', values, reason: `written under update mask ${MASK.join(',')}` },
      state: { status: 'unchanged', reason: 'scc.setInactive is never' },
    });
    expect(input.key.id).toMatch(/^[0-9a-f]{64}$/);
    expect(log.lines.map((l) => [l.severity, l.step, l.fields?.status])).toEqual([
      ['INFO', 'scc:marks', 'written'],
      ['INFO', 'scc:state', 'unchanged'],
    ]);
  });

  it('sends a v2 finding name as it is', async () => {
    const result = await writeBackToScc(response(CONTAINED, { notification: notificationV2() }), { writer, policy: policyWith(), log: recordingLog() });
    expect(result?.marks.status).toBe('written');
    expect(fake.requests.map((r) => r.name)).toEqual([MARKS_NAME]);
  });

  it('dry-run writes the dry-run outcome and never a state change, even where the policy allows one', async () => {
    const would = [{ type: 'label-pod', status: 'would', reason: 'would label' }, { type: 'delete-pod', status: 'would', reason: 'would delete' }] as ActionOutcome[];
    const input = response(would, { dryRun: true });
    const result = await writeBackToScc(input, { writer, policy: policyWith({ setInactive: 'when-pod-gone' }), log: recordingLog() });

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request!.method).toBe('UpdateSecurityMarks');
    expect(request!.updateMask).toEqual(MASK);
    expect(request!.marks![SCC_MARK.outcome]).toBe('dry-run');
    // Nothing that reads as handled: the other three are the occurrence, the time and the summary id.
    expect(Object.values(request!.marks!).filter((v) => /contain|remediat|resolved|done/i.test(v))).toEqual([]);
    expect(result?.state).toEqual({ status: 'unchanged', reason: 'dry-run: the state is never changed' });
  });

  it('dry-run writes dry-run whatever the outcome says (here report-only: no rule acted)', async () => {
    const input = response([], { dryRun: true });
    expect(input.summary.outcome).toBe('report-only');
    await writeBackToScc(input, { writer, policy: policyWith(), log: recordingLog() });
    expect(fake.requests.map((r) => r.marks?.[SCC_MARK.outcome])).toEqual(['dry-run']);
  });

  it('policy scc.marks: false writes nothing and says so', async () => {
    // validate-policy refuses this pair; the write-back holds the rule on its own too (a policy built in code).
    expect(() => policyWith({ marks: false, setInactive: 'when-pod-gone' })).toThrow('setInactive needs scc.marks: true');
    const unchecked: Policy = { ...policyWith(), scc: { marks: false, setInactive: 'when-pod-gone', timeoutSeconds: 5 } };
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: unchecked, log: recordingLog() });
    expect(fake.requests).toEqual([]);
    expect(result).toEqual({
      marks: { status: 'skipped', values: {}, reason: 'scc.marks is off' },
      state: { status: 'unchanged', reason: 'scc.marks is off: the state is changed only together with marks that say why' },
    });
  });

  it('returns null, and calls nothing, when the write-back is not configured', async () => {
    await expect(writeBackToScc(response(CONTAINED), { writer: null, policy: policyWith(), log: recordingLog() })).resolves.toBeNull();
    expect(fake.requests).toEqual([]);
  });
});

describe('outcome marks', () => {
  it('maps every overall outcome, and any outcome of a dry run to dry-run', () => {
    const allowed = ['contained', 'partial', 'failed', 'dry-run', 'reported', 'skipped', 'excepted'];
    for (const outcome of OVERALL_OUTCOMES) {
      expect(allowed).toContain(outcomeMark(outcome, false));
      expect(outcomeMark(outcome, true)).toBe('dry-run');
    }
    expect(outcomeMark('report-only', false)).toBe('reported');
    expect(outcomeMark('contained', false)).toBe('contained');
  });
});

describe('INACTIVE: only when-pod-gone, enforced, contained, and the pod re-read gone', () => {
  const gonePolicy = policyWith({ setInactive: 'when-pod-gone' });
  const run = (input: SccWriteBackInput, policy = gonePolicy) => writeBackToScc(input, { writer, policy, log: recordingLog(), sleep: noPause });
  const stateRequests = () => fake.requests.filter((r) => r.method === 'SetFindingState');

  it('sets it after the marks when delete-pod is done and the read-back saw the pod gone', async () => {
    const result = await run(response(CONTAINED));
    expect(fake.requests.map((r) => r.method)).toEqual(['UpdateSecurityMarks', 'SetFindingState']);
    expect(stateRequests()).toEqual([{ method: 'SetFindingState', name: V2_NAME, state: 'INACTIVE', accepted: true, at: expect.any(Number) }]);
    expect(fake.states.get(V2_NAME)).toBe('INACTIVE');
    expect(result?.state).toEqual({ status: 'set-inactive', reason: 'delete-pod done and the read-back confirmed the pod gone' });
  });

  it('evict-pod done counts as delete-pod done', async () => {
    const result = await run(response([done('label-pod'), done('evict-pod')]));
    expect(result?.state.status).toBe('set-inactive');
    expect(stateRequests()).toHaveLength(1);
  });

  const unchanged: Array<[string, () => SccWriteBackInput, Policy, RegExp]> = [
    ['dry-run', () => response([{ type: 'delete-pod', status: 'would', reason: 'would delete' }], { dryRun: true }), gonePolicy, /^dry-run/],
    ['a partial outcome', () => response([{ type: 'isolate-pod', status: 'partial', reason: 'still admitted' }, done('delete-pod')]), gonePolicy, /outcome is partial, not contained/],
    ['no removal action', () => response([done('label-pod')]), gonePolicy, /no delete-pod or evict-pod/],
    ['removal not confirmed by the read-back', () => response(CONTAINED, { warnings: ['read-back incomplete (apiserver down): the outcomes are as the writes reported them, not re-read'] }), gonePolicy, /could not confirm the pod gone/],
    ['scc.setInactive never', () => response(CONTAINED), policyWith({ setInactive: 'never' }), /scc.setInactive is never/],
  ];
  it.each(unchanged)('leaves it ACTIVE on %s', async (_case, input, policy, reason) => {
    const result = await run(input(), policy);
    expect(result?.marks.status).toBe('written');
    expect(result?.state.status).toBe('unchanged');
    expect(result?.state.reason).toMatch(reason);
    expect(stateRequests()).toEqual([]);
  });

  describe('what the real read-back leaves in the outcome', () => {
    const pod = { metadata: { namespace: 'payments', name: 'checkout-7c9f8d6b5-q2w8x', uid: 'uid-1' } } as Pod;
    async function afterReadBack(readPod: KubeApi['readPod']): Promise<{ outcomes: ActionOutcome[]; warnings: string[] }> {
      const outcomes: ActionOutcome[] = [done('delete-pod', 'deleted pod payments/checkout-7c9f8d6b5-q2w8x (grace 0s)')];
      const warnings: string[] = [];
      await readBack(outcomes, {
        kube: { readPod } as KubeApi,
        pre: { pod, node: null, nodeName: null, ownerChain: [], checks: [], warnings: [], all: null, podBlock: null, removalBlock: null, nodeBlock: null } as PreflightResult,
        incident: { findingName: V1_NAME, id: '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50' },
        facts: { networkPolicy: 'enforced', networkPolicySource: 'test' } as ClusterFacts,
        quarantineLabel: { key: 'scc-responder.dev/quarantine', value: 'true' },
        warnings,
      });
      return { outcomes, warnings };
    }
    const decide = (r: { outcomes: ActionOutcome[]; warnings: string[] }) => {
      const input = response(r.outcomes, { warnings: r.warnings });
      return planSccWriteBack(input, gonePolicy.scc).state;
    };

    it('pod gone on re-read: set INACTIVE', async () => {
      expect(decide(await afterReadBack(async () => null))).toMatchObject({ kind: 'set-inactive' });
    });

    it('re-read failed (status kept done, "not re-read"): left ACTIVE, even without the warning', async () => {
      const r = await afterReadBack(async () => {
        throw new KubeApiError(503, 'ServiceUnavailable', 'the API server is unavailable');
      });
      expect(r.outcomes[0]!.status).toBe('done');
      expect(decide(r)).toMatchObject({ kind: 'unchanged', reason: expect.stringMatching(/could not confirm the pod gone/) });
      expect(decide({ outcomes: r.outcomes, warnings: [] })).toMatchObject({ kind: 'unchanged' });
    });

    it('pod still running on re-read: lowered to failed, so not contained', async () => {
      const r = await afterReadBack(async () => pod);
      expect(r.outcomes[0]!.status).toBe('failed');
      expect(decide(r)).toMatchObject({ kind: 'unchanged', reason: expect.stringMatching(/not contained/) });
    });
  });
});

describe('faults never throw and never cost more than scc.timeoutSeconds', () => {
  it('UNAVAILABLE once: retried once, written', async () => {
    fake.setFault('UpdateSecurityMarks', { code: 14, details: 'backend unavailable', times: 1 });
    const paused: number[] = [];
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: policyWith(), log: recordingLog(), sleep: async (ms) => void paused.push(ms) });
    expect(result?.marks.status).toBe('written');
    expect(fake.requests.map((r) => r.accepted)).toEqual([false, true]);
    expect(paused).toEqual([200]);
  });

  it('UNAVAILABLE throughout: failed with the status, after one retry; no state change attempted', async () => {
    fake.setFault('UpdateSecurityMarks', { code: 14, details: 'backend unavailable' });
    const log = recordingLog();
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: policyWith({ setInactive: 'when-pod-gone' }), log, sleep: noPause });
    expect(result?.marks).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^SCC updateSecurityMarks: UNAVAILABLE: backend unavailable/) });
    expect(result?.marks.values[SCC_MARK.outcome]).toBe('contained');
    expect(result?.state).toEqual({ status: 'unchanged', reason: expect.stringMatching(/^the marks were not written .*: the state is changed only after marks that say why$/) });
    expect(fake.requests.map((r) => r.method)).toEqual(['UpdateSecurityMarks', 'UpdateSecurityMarks']);
    expect(log.lines.find((l) => l.step === 'scc:marks')).toMatchObject({ severity: 'ERROR', fields: { status: 'failed', attempts: 2 } });
  });

  it('PERMISSION_DENIED: failed at once, not retried', async () => {
    fake.setFault('UpdateSecurityMarks', { code: 7, details: "Permission 'securitycenter.findingsecuritymarks.update' denied" });
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: policyWith(), log: recordingLog(), sleep: noPause });
    expect(result?.marks).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^SCC updateSecurityMarks: PERMISSION_DENIED: Permission/) });
    expect(fake.requests).toHaveLength(1);
  });

  it('a state change refused: the marks stay written, the state failed with the reason', async () => {
    fake.setFault('SetFindingState', { code: 7, details: "Permission 'securitycenter.findings.setState' denied" });
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: policyWith({ setInactive: 'when-pod-gone' }), log: recordingLog(), sleep: noPause });
    expect(result?.marks.status).toBe('written');
    expect(result?.state).toEqual({ status: 'failed', reason: expect.stringMatching(/^SCC setFindingState: PERMISSION_DENIED/) });
  });

  it('a service that never answers: failed when scc.timeoutSeconds is up', async () => {
    fake.setFault('UpdateSecurityMarks', { code: 'hang' });
    const started = Date.now();
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: policyWith({ timeoutSeconds: 1, setInactive: 'when-pod-gone' }), log: recordingLog(), sleep: noPause });
    const elapsed = Date.now() - started;
    expect(result?.marks.status).toBe('failed');
    expect(result?.marks.reason).toMatch(/no answer within \d+ ms|DEADLINE_EXCEEDED/);
    expect(result?.state.status).toBe('unchanged');
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3000);
  });

  it('a writer that throws anything at all still gives a result', async () => {
    const broken: SccWriter = {
      updateMarks: () => {
        throw new TypeError('not a promise');
      },
      setInactive: async () => {},
    };
    await expect(writeBackToScc(response(CONTAINED), { writer: broken, policy: policyWith(), log: recordingLog(), sleep: noPause })).resolves.toMatchObject({
      marks: { status: 'failed', reason: 'not a promise' },
    });
  });

  it('a client that cannot be built (bad SCC_API_ENDPOINT) fails the write, not the run', async () => {
    const lazy = lazySccWriterFromEnv({ SCC_API_ENDPOINT: 'scc.example.com:443' });
    lazy.warm();
    const result = await writeBackToScc(response(CONTAINED), { writer: lazy, policy: policyWith(), log: recordingLog(), sleep: noPause });
    expect(result?.marks).toMatchObject({ status: 'failed', reason: expect.stringMatching(/loopback/) });
    expect(() => sccClientOptionsFromEnv({ SCC_API_ENDPOINT: '10.0.0.1:443' })).toThrow(/loopback/);
  });
});

describe('hostile finding names never reach the service', () => {
  const hostile: Array<[string, string | null]> = [
    ['path traversal after the id', `${V1_NAME}/../../../../projects/other/sources/1/findings/x`],
    ['a ".." finding id', 'organizations/123456789012/sources/11223344556677889900/findings/..'],
    ['".." for the organization', 'organizations/../sources/11223344556677889900/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50'],
    ['an encoded slash', 'organizations/123456789012/sources/11223344556677889900/findings/abc%2F..%2Fx'],
    ['an extra segment', `${V2_NAME}/securityMarks`],
    ['an asset, not a finding', 'organizations/123456789012/assets/987654321/securityMarks'],
    ['a full resource name', `//securitycenter.googleapis.com/${V1_NAME}`],
    ['another collection', 'billingAccounts/012345-6789AB-CDEF01/sources/1/findings/abc'],
    ['a data-residency location', 'organizations/123456789012/sources/11223344556677889900/locations/eu/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50'],
    ['a trailing newline', `${V1_NAME}\n`],
    ['a leading space', ` ${V1_NAME}`],
    ['non-ASCII digits', 'organizations/١٢٣/sources/11223344556677889900/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50'],
    ['a finding id over 32 characters', `organizations/123456789012/sources/11223344556677889900/findings/${'a'.repeat(33)}`],
    ['a very long name', `organizations/123456789012/sources/11223344556677889900/findings/${'a'.repeat(100_000)}`],
    ['no name', null],
  ];
  it.each(hostile)('%s: skipped with a reason', async (_case, name) => {
    const input = response(CONTAINED);
    input.key = { ...input.key, findingName: name };
    const result = await writeBackToScc(input, { writer, policy: policyWith({ setInactive: 'when-pod-gone' }), log: recordingLog() });
    expect(result?.marks).toMatchObject({ status: 'skipped', values: {}, reason: expect.stringMatching(/: nothing written$/) });
    expect(result?.state.status).toBe('unchanged');
    expect(result!.marks.reason.length).toBeLessThan(250);
    expect(fake.requests).toEqual([]);
  });

  it('the adapter refuses them too, whoever calls it', async () => {
    const direct = createSccWriterFromEnv({ SCC_API_ENDPOINT: fake.endpoint });
    try {
      for (const [, name] of hostile) {
        await expect(direct.updateMarks({ findingName: name ?? '', marks: { a: 'b' }, updateMask: ['marks.a'], timeoutMs: 1000 })).rejects.toBeInstanceOf(PermanentError);
        await expect(direct.setInactive({ findingName: name ?? '', timeoutMs: 1000 })).rejects.toBeInstanceOf(PermanentError);
      }
      // A v1 name is not sent as is either: core turns it into the v2 name first.
      await expect(direct.setInactive({ findingName: V1_NAME, timeoutMs: 1000 })).rejects.toBeInstanceOf(PermanentError);
      expect(fake.requests).toEqual([]);
    } finally {
      await direct.close?.();
    }
  });

  it('accepts the parents SCC uses', () => {
    expect(sccFindingName(V1_NAME)).toEqual({ ok: true, name: V2_NAME });
    expect(sccFindingName('projects/246813579024/sources/11223344556677889900/findings/abc')).toEqual({ ok: true, name: 'projects/246813579024/sources/11223344556677889900/locations/global/findings/abc' });
    expect(sccFindingName('folders/4455/sources/1/locations/global/findings/abc')).toEqual({ ok: true, name: 'folders/4455/sources/1/locations/global/findings/abc' });
  });
});

describe('the fake is as strict as the responder must be', () => {
  it('refuses a mask path that is not marks.<key>, and a name that is not a v2 finding marks name', async () => {
    const client = createSccWriter(sccClientOptionsFromEnv({ SCC_API_ENDPOINT: fake.endpoint }));
    try {
      await expect(client.updateMarks({ findingName: V2_NAME, marks: { a: 'b' }, updateMask: ['marks'], timeoutMs: 2000 })).rejects.toThrow(/INVALID_ARGUMENT: update_mask path "marks"/);
      await expect(client.updateMarks({ findingName: V2_NAME, marks: { a: 'b' }, updateMask: ['state'], timeoutMs: 2000 })).rejects.toThrow(/INVALID_ARGUMENT/);
      expect(fake.marks.size).toBe(0);
    } finally {
      await client.close?.();
    }
  });

  it('refuses names that are not v2 finding names, even from a client that sends them', async () => {
    const { SecurityCenterClient } = createRequire(import.meta.url)('@google-cloud/security-center').v2 as typeof import('@google-cloud/security-center').v2;
    const raw = new SecurityCenterClient(sccClientOptionsFromEnv({ SCC_API_ENDPOINT: fake.endpoint }) as ConstructorParameters<typeof SecurityCenterClient>[0]);
    try {
      const marks = (name: string) => raw.updateSecurityMarks({ securityMarks: { name, marks: { a: 'b' } }, updateMask: { paths: ['marks.a'] } });
      await expect(marks(`${V1_NAME}/securityMarks`)).rejects.toThrow(/INVALID_ARGUMENT/);
      await expect(marks(V2_NAME)).rejects.toThrow(/INVALID_ARGUMENT/);
      await expect(marks(`organizations/1/sources/2/locations/global/findings/../securityMarks`)).rejects.toThrow(/INVALID_ARGUMENT/);
      await expect(raw.setFindingState({ name: V1_NAME, state: 'INACTIVE' })).rejects.toThrow(/INVALID_ARGUMENT/);
      await expect(raw.setFindingState({ name: V2_NAME, state: 'STATE_UNSPECIFIED' })).rejects.toThrow(/INVALID_ARGUMENT/);
      expect(fake.requests.every((r) => !r.accepted)).toBe(true);
      expect(fake.requests).toHaveLength(5);
    } finally {
      await raw.close();
    }
  });
});

describe('loop safety: SCC notifies our own marks update', () => {
  const policy = validatePolicy({ dryRun: false, rules: [{ name: 'all', actions: ['label-pod', 'delete-pod'] }] });
  const root = protobuf.Root.fromJSON(createRequire(import.meta.url)('@google-cloud/security-center/build/protos/protos.json'));

  /** The notification SCC publishes after our write: the same finding, its securityMarks as the service now holds them. */
  async function echoOfOurWrite(): Promise<Record<string, any>> {
    fake.marks.set(V2_NAME, { triage: 'alice' });
    const result = await writeBackToScc(response(CONTAINED), { writer, policy: policyWith(), log: recordingLog() });
    expect(result?.marks.status).toBe('written');
    const echo = structuredClone(notificationV1());
    echo.finding.securityMarks.marks = { ...fake.marks.get(V2_NAME) };
    // It is a real NotificationMessage: the marks map decodes through SCC's own proto.
    expect(root.lookupType('google.cloud.securitycenter.v1.SecurityMarks').verify(echo.finding.securityMarks)).toBeNull();
    return echo;
  }

  it('the echo is out of scope (acked, nothing planned), with or without a ledger', async () => {
    const echo = await echoOfOurWrite();
    const p = plan(decodeInput(echo), policy, NOW);
    expect(p).toMatchObject({ decision: 'ignore', actions: [], target: null });
    expect(p.reason).toBe('our own write-back (security mark scc_responder_incident names this occurrence)');
  });

  it('a person can still ask for it explicitly (checkScope acceptOwnEcho)', async () => {
    const echo = decodeInput(await echoOfOurWrite()).notification.finding;
    expect(checkScope(echo)).toMatchObject({ inScope: false });
    expect(checkScope(echo, { acceptOwnEcho: true })).toMatchObject({ inScope: true });
  });

  it('a new occurrence of the same finding (new eventTime, our old marks still on it) is planned normally', async () => {
    const echo = await echoOfOurWrite();
    echo.finding.eventTime = '2026-11-20T15:10:02.004Z';
    const p = plan(decodeInput(echo), policy, NOW);
    expect(p.decision).toBe('respond');
    expect(p.actions.map((a) => a.type)).toEqual(['label-pod', 'delete-pod']);
  });

  it('the echo of the state change is out of scope by its state', async () => {
    const echo = await echoOfOurWrite();
    echo.finding.state = 'INACTIVE';
    expect(plan(decodeInput(echo), policy, NOW).reason).toMatch(/state is "INACTIVE"/);
  });

  it('compares as SCC does (keys and values case-insensitive, values trimmed), and only our key', () => {
    const finding = decodeInput(notificationV1()).notification.finding;
    const id = findingKey(finding).id;
    const withMarks = (marks: Record<string, unknown>) => decodeInput({ ...notificationV1(), finding: { ...notificationV1().finding, securityMarks: { marks } } }).notification.finding;
    expect(isOwnEcho(withMarks({ SCC_RESPONDER_INCIDENT: ` ${id.toUpperCase()} ` }), id)).toBe(true);
    expect(isOwnEcho(withMarks({ scc_responder_summary: id }), id)).toBe(false);
    expect(isOwnEcho(withMarks({ scc_responder_incident: 'f'.repeat(64) }), id)).toBe(false);
    // A mark that is not a string is dropped at the edge, not a reason to refuse the finding.
    expect(isOwnEcho(withMarks({ scc_responder_incident: 42, constructor: id }), id)).toBe(false);
    expect(isOwnEcho(finding, id)).toBe(false);
  });
});
