// Release undoes what the responder did for one incident and nothing else,
// through the real client-node against the strict fake: contain first, then
// release, then look at the cluster.
import { occurrenceOf } from '../../src/actions/preflight.ts';
import { describe, expect, it } from '@jest/globals';
import { incidentFor, INCIDENT_LABEL } from '../../src/actions/action.ts';
import { EXCLUDED_INCIDENTS_ANNOTATION, networkPolicyName } from '../../src/actions/isolate-pod.ts';
import { runRelease, type ReleaseRequest } from '../../src/actions/release.ts';
import { createKubeApi, kubeConfigFromFile } from '../../src/adapters/kubernetes.ts';
import { NODE, NS, POD } from '../support/kube-seed.ts';
import { selectorMatches } from '../fakes/kube-api-server.ts';
import { harnessPerTest, NOW, statuses, type Harness } from './harness.ts';

const FINDING_ID = '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const setup = harnessPerTest();

function allowPolicy(name: string, podSelector: Record<string, unknown>): Record<string, any> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: NS },
    spec: { podSelector, policyTypes: ['Ingress'], ingress: [{}] },
  };
}

async function release(h: Harness, overrides: Partial<ReleaseRequest> = {}) {
  const kube = createKubeApi(kubeConfigFromFile(h.fake.kubeconfigPath, 'fake'));
  const request: ReleaseRequest = { incident: incidentFor(h.plan), occurrence: occurrenceOf(h.plan), namespace: NS, pod: POD, node: NODE, dryRun: false, nodeHeldBy: [], ...overrides };
  const result = await runRelease(kube, h.policy, request, NOW);
  return { ...result, byType: Object.fromEntries(result.outcomes.map((o) => [o.type, o.status])) };
}

const livePod = (h: Harness) => h.fake.state.pods.get(`${NS}/${POD}`)!;

describe('release', () => {
  it('puts the pod, the namespace and the node back as they were, and says so in events', async () => {
    const h = await setup({
      actions: ['label-pod', 'isolate-pod', 'cordon-node'],
      seed: (s) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } })]),
    });
    const before = structuredClone(livePod(h).metadata);
    expect(statuses(await h.contain())).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'cordon-node': 'done' });
    expect(livePod(h).metadata.labels.app).toBeUndefined();

    const eventsBefore = h.fake.eventWrites().length;
    const result = await release(h);
    expect(result.byType).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'cordon-node': 'done' });
    const pod = livePod(h).metadata;
    expect(pod.labels).toEqual(before.labels);
    // Only the marker that keeps a late redelivery from re-quarantining the pod before its claim.
    // Only the marker that keeps any later delivery of this occurrence from quarantining the pod again.
    expect(Object.entries(pod.annotations ?? {}).filter(([k]) => k.startsWith('scc-responder.dev/'))).toEqual([['scc-responder.dev/released-occurrences', occurrenceOf(h.plan)]]);
    expect(h.fake.state.networkPolicies.has(`${NS}/${networkPolicyName(FINDING_ID)}`)).toBe(false);
    expect(h.fake.state.networkPolicies.has(`${NS}/checkout`)).toBe(true);
    const node = h.fake.state.nodes.get(NODE)!;
    expect(node.spec.unschedulable).toBeUndefined();
    expect(node.spec.taints).toEqual([{ key: 'workload', value: 'payments', effect: 'NoSchedule' }]);
    expect(Object.keys(node.metadata.annotations).filter((k: string) => k.startsWith('scc-responder.dev/'))).toEqual([]);
    expect(h.fake.eventWrites().slice(eventsBefore).map((w) => (w.body as any).reason)).toEqual(['SccResponderReleased', 'SccResponderReleased', 'SccResponderReleased']);

    // Idempotent: nothing of this incident is left to release.
    const again = await release(h);
    expect(again.byType).toEqual({ 'label-pod': 'already', 'isolate-pod': 'already', 'cordon-node': 'already' });
  });

  it('dry-run says what it would undo and writes nothing', async () => {
    const h = await setup({ actions: ['label-pod', 'isolate-pod', 'cordon-node'] });
    await h.contain();
    const writes = h.fake.writes().length;
    const result = await release(h, { dryRun: true });
    expect(result.byType).toEqual({ 'label-pod': 'would', 'isolate-pod': 'would', 'cordon-node': 'would' });
    expect(result.outcomes[2]!.reason).toBe(`would uncordon node ${NODE}`);
    expect(h.fake.writes()).toHaveLength(writes);
  });

  it('leaves the node cordoned while another open incident holds it, or when no ledger can tell', async () => {
    const h = await setup({ actions: ['cordon-node'] });
    await h.contain();
    const held = await release(h, { nodeHeldBy: ['f9999999999999999999999999999999'] });
    expect(held.outcomes[2]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/also held by open incident\(s\) f9999/) });
    const unknown = await release(h, { nodeHeldBy: null });
    expect(unknown.outcomes[2]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/no ledger to tell/) });
    expect(h.fake.state.nodes.get(NODE)!.spec.unschedulable).toBe(true);
  });

  it('never uncordons a node someone else cordoned, or cordoned for another finding', async () => {
    const h = await setup({ actions: ['label-pod'], seed: (s) => void (s.nodes![0]!.spec.unschedulable = true) });
    const byOps = await release(h);
    expect(byOps.outcomes[2]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/cordoned by someone else/) });
    h.fake.state.nodes.get(NODE)!.metadata.annotations['scc-responder.dev/cordoned-by'] = 'scc-responder';
    h.fake.state.nodes.get(NODE)!.metadata.annotations['scc-responder.dev/finding'] = 'organizations/1/sources/2/findings/other';
    const other = await release(h);
    expect(other.outcomes[2]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/cordoned for another finding/) });
    expect(h.fake.state.nodes.get(NODE)!.spec.unschedulable).toBe(true);
  });

  it('does not delete a NetworkPolicy with its name that it did not create', async () => {
    const h = await setup({ actions: ['label-pod'], seed: (s) => void (s.networkPolicies = [allowPolicy(networkPolicyName(FINDING_ID), {})]) });
    const result = await release(h);
    expect(result.outcomes[1]).toMatchObject({ status: 'already', reason: expect.stringMatching(/not created by this responder for this incident: left alone/) });
    expect(h.fake.state.networkPolicies.has(`${NS}/${networkPolicyName(FINDING_ID)}`)).toBe(true);
  });

  it('never touches a pod that is gone or terminating, but still deletes the incident\'s policy and uncordons', async () => {
    const h = await setup({ actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] });
    await h.contain();
    expect(livePod(h).metadata.deletionTimestamp).toBeDefined();
    const patchesBefore = h.fake.writes().filter((w) => w.method === 'PATCH' && w.path.includes('/pods/')).length;
    const result = await release(h);
    expect(result.byType).toEqual({ 'label-pod': 'skipped', 'isolate-pod': 'done', 'cordon-node': 'done' });
    expect(result.outcomes[0]!.reason).toMatch(/terminating: never touched/);
    expect(h.fake.writes().filter((w) => w.method === 'PATCH' && w.path.includes('/pods/'))).toHaveLength(patchesBefore);
    expect(h.fake.state.networkPolicies.has(`${NS}/${networkPolicyName(FINDING_ID)}`)).toBe(false);
  });

  it('takes its exclusion out of a foreign allow policy, keeping the policy', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      policy: { actionSettings: { isolation: { excludeFromAllowPolicies: true } } },
      seed: (s) => void (s.networkPolicies = [allowPolicy('allow-same-namespace', {})]),
    });
    expect(statuses(await h.contain())).toEqual({ 'isolate-pod': 'done' });
    const result = await release(h);
    expect(result.byType['isolate-pod']).toBe('done');
    const foreign = h.fake.state.networkPolicies.get(`${NS}/allow-same-namespace`)!;
    expect(foreign.spec.podSelector.matchExpressions ?? []).toEqual([]);
    expect(foreign.metadata.annotations?.[EXCLUDED_INCIDENTS_ANNOTATION]).toBeUndefined();
    expect(livePod(h).metadata.labels[INCIDENT_LABEL]).toBeUndefined();
  });

  it('puts back only valid, missing labels from the detached-labels annotation (it is the pod\'s, so anyone could edit it)', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      seed: (s) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } })]),
    });
    await h.contain();
    const pod = livePod(h);
    pod.metadata.annotations['scc-responder.dev/detached-labels'] = JSON.stringify({ app: 'checkout', 'bad key!': 'x', [INCIDENT_LABEL]: 'zzz', tier: 'other' });
    await release(h);
    expect(livePod(h).metadata.labels).toEqual({ app: 'checkout', 'pod-template-hash': '7c9f8d6b5', tier: 'payments' });
  });

  it('releasing a second finding that found the pod isolated already leaves the first incident\'s isolation in force', async () => {
    const h = await setup({ actions: ['isolate-pod'], seed: (s) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } })]) });
    expect(statuses(await h.contain())).toEqual({ 'isolate-pod': 'done' });
    const second = { ...h.plan, finding: { ...h.plan.finding, id: 'f2222222222222222222222222222222', name: h.plan.finding.name!.replace(FINDING_ID, 'f2222222222222222222222222222222') } };
    expect(statuses(await h.contain({ plan: second }))).toEqual({ 'isolate-pod': 'already' });
    const result = await release(h, { incident: incidentFor(second) });
    expect(result.outcomes[1]).toMatchObject({ status: 'already', reason: expect.stringMatching(new RegExp(`isolated under incident "${FINDING_ID}": left as it is`)) });
    const pod = livePod(h).metadata;
    expect(pod.labels[INCIDENT_LABEL]).toBe(FINDING_ID);
    expect(pod.labels.app).toBeUndefined();
    expect(pod.annotations['scc-responder.dev/detached-labels']).toBeDefined();
    // By the fake's own evaluation, the allow policy still does not select the pod.
    expect(selectorMatches(h.fake.state.networkPolicies.get(`${NS}/checkout`)!.spec.podSelector, pod.labels)).toBe(false);
  });

  it('a write that fails half-way through the isolation release says what was already undone', async () => {
    const h = await setup({ actions: ['isolate-pod'], seed: (s) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } })]) });
    await h.contain();
    h.fake.state.faults.push({ method: 'DELETE', path: /\/networkpolicies\//, status: 500, reason: 'InternalError', message: 'etcd timeout' });
    const result = await release(h);
    expect(result.outcomes[1]).toMatchObject({ status: 'failed' });
    expect(result.outcomes[1]!.reason).toMatch(/^restored pod .* \(labels app put back\), removed scc-responder.dev\/incident; then delete NetworkPolicy .*: HTTP 500/);
  });
});

