// Containment whose "done" is true: isolation against a namespace that already
// has NetworkPolicies (they are additive), clusters that do not enforce them,
// hostNetwork pods, pre-placed labels and policies, findings that prove too
// little about the pod, and names that must never reach the API. Every case
// runs the real client-node against the strict fake; "isolated" is checked with
// the fake's own selector evaluation, not the responder's.
import { describe, expect, it } from '@jest/globals';
import { INCIDENT_LABEL } from '../../src/actions/action.ts';
import { DETACHED_LABELS_ANNOTATION, EXCLUDED_INCIDENTS_ANNOTATION, networkPolicyName } from '../../src/actions/isolate-pod.ts';
import { KubeApiError } from '../../src/actions/kube-api.ts';
import { createKubeApi, kubeConfigFromFile } from '../../src/adapters/kubernetes.ts';
import type { ActionType } from '../../src/core/policy/policy.ts';
import { podsSelectedBy, selectorMatches } from '../fakes/kube-api-server.ts';
import { NS, POD } from '../support/kube-seed.ts';
import { harnessPerTest, statuses, type Harness } from './harness.ts';

const FINDING_ID = '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const OUR_POLICY = networkPolicyName(FINDING_ID);

const setup = harnessPerTest();

function allowPolicy(name: string, podSelector: Record<string, unknown>, spec: Record<string, unknown> = {}): Record<string, any> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: NS },
    spec: { podSelector, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }] }], egress: [{}], ...spec },
  };
}

const livePod = (h: Harness) => h.fake.state.pods.get(`${NS}/${POD}`)!;

/** The fake's own answer: which policies other than ours select the live pod and allow something. */
function stillAdmitting(h: Harness): string[] {
  const labels = livePod(h).metadata.labels ?? {};
  return [...h.fake.state.networkPolicies.values()]
    .filter((p) => selectorMatches(p.spec.podSelector, labels))
    .filter((p) => (p.spec.ingress?.length ?? 0) > 0 || (p.spec.egress?.length ?? 0) > 0)
    .map((p) => p.metadata.name);
}

describe('isolate-pod: other NetworkPolicies in the namespace (they are additive)', () => {
  it('detaches the pod from a matchLabels allow policy by removing the label it selects on, remembers it, and is done', async () => {
    const h = await setup({ actions: ['isolate-pod'], seed: (s) => void (s.networkPolicies = [allowPolicy('checkout-from-frontend', { matchLabels: { app: 'checkout' } })]) });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'done' });
    expect(result.outcomes[0]!.details).toMatchObject({ detachedLabels: 'app', networkPolicy: OUR_POLICY });
    const pod = livePod(h);
    expect(pod.metadata.labels).toEqual({ 'pod-template-hash': '7c9f8d6b5', tier: 'payments', [INCIDENT_LABEL]: FINDING_ID });
    expect(JSON.parse(pod.metadata.annotations[DETACHED_LABELS_ANNOTATION])).toEqual({ app: 'checkout' });
    expect(stillAdmitting(h)).toEqual([]);
    // One merge patch: the incident label added and the selector label removed together.
    const patch = h.fake.writes().find((w) => w.method === 'PATCH')!;
    expect(patch.body).toMatchObject({ metadata: { labels: { app: null, [INCIDENT_LABEL]: FINDING_ID } } });
  });

  it('evaluates matchExpressions (In / Exists) and removes the fewest labels that deselect every allow policy', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      seed: (s) =>
        void (s.networkPolicies = [
          allowPolicy('by-tier', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['payments', 'web'] }] }),
          allowPolicy('by-tier-exists', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }),
          allowPolicy('not-me', { matchLabels: { app: 'other' } }),
        ]),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'done' });
    expect(result.outcomes[0]!.details?.detachedLabels).toBe('tier');
    expect(livePod(h).metadata.labels.app).toBe('checkout');
    expect(stillAdmitting(h)).toEqual([]);
  });

  it('reports partial, naming the policy, when an empty podSelector allow policy selects every pod (not touched by default)', async () => {
    const h = await setup({ actions: ['isolate-pod'], seed: (s) => void (s.networkPolicies = [allowPolicy('allow-same-namespace', {}, { egress: undefined, policyTypes: ['Ingress'] })]) });
    const result = await h.contain();
    const isolate = result.outcomes[0]!;
    expect(isolate.status).toBe('partial');
    expect(isolate.reason).toMatch(/NOT isolated: still admitted by NetworkPolicy allow-same-namespace \(ingress\)/);
    expect(isolate.details?.stillAdmittedBy).toBe('allow-same-namespace');
    expect(stillAdmitting(h)).toEqual(['allow-same-namespace']);
    // Nothing was removed from the pod: detaching cannot help against `{}`.
    expect(livePod(h).metadata.labels.app).toBe('checkout');
  });

  it('with isolation.excludeFromAllowPolicies, excludes the pod from the `{}` policy (NotIn on the incident label) and is done', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      policy: { actionSettings: { isolation: { excludeFromAllowPolicies: true } } },
      seed: (s) => void (s.networkPolicies = [allowPolicy('allow-same-namespace', {})]),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'done' });
    expect(result.outcomes[0]!.details?.excludedFrom).toBe('allow-same-namespace');
    const patched = h.fake.state.networkPolicies.get(`${NS}/allow-same-namespace`)!;
    expect(patched.spec.podSelector).toEqual({ matchExpressions: [{ key: INCIDENT_LABEL, operator: 'NotIn', values: [FINDING_ID] }] });
    expect(patched.metadata.annotations[EXCLUDED_INCIDENTS_ANNOTATION]).toBe(FINDING_ID);
    expect(stillAdmitting(h)).toEqual([]);
    // The siblings keep the traffic the policy gives them.
    expect(podsSelectedBy(h.fake.state, patched).map((p) => p.metadata.name)).not.toContain(POD);
    expect(podsSelectedBy(h.fake.state, patched).length).toBe(3);
    // The patch carried the resourceVersion it read: a policy changed meanwhile is refused, not overwritten.
    const patch = h.fake.writes().find((w) => w.path.endsWith('/allow-same-namespace'))!;
    expect((patch.body as any).metadata.resourceVersion).toEqual(expect.any(String));
  });

  it('reports partial when the policy it would exclude the pod from changed since it was read (409), never success', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      policy: { actionSettings: { isolation: { excludeFromAllowPolicies: true } } },
      seed: (s) => void (s.networkPolicies = [allowPolicy('allow-same-namespace', {})]),
    });
    h.fake.state.beforeRequest = (req, state) => {
      if (req.method === 'PATCH' && req.path.endsWith('/allow-same-namespace')) state.networkPolicies.get(`${NS}/allow-same-namespace`)!.metadata.resourceVersion = '999999';
    };
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('partial');
    expect(result.outcomes[0]!.reason).toMatch(/could not exclude the pod from NetworkPolicy allow-same-namespace .*409/);
  });

  it('cannot detach from a NotIn-only selector and says so (partial)', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      seed: (s) => void (s.networkPolicies = [allowPolicy('everyone-but-db', { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['db'] }] })]),
    });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'partial', details: { stillAdmittedBy: 'everyone-but-db' } });
  });

  it('detaching can make a DoesNotExist policy select the pod: re-evaluated, and reported', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      seed: (s) =>
        void (s.networkPolicies = [
          allowPolicy('checkout', { matchLabels: { app: 'checkout' } }),
          allowPolicy('unlabelled-pods', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }),
        ]),
    });
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('partial');
    expect(result.outcomes[0]!.reason).toContain('unlabelled-pods');
    expect(stillAdmitting(h)).toEqual(['unlabelled-pods']);
  });

  it('keeps labels named in isolation.keepLabels (then partial), and touches nothing when detaching is off', async () => {
    const seed = (s: any) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } })]);
    const keep = await setup({ actions: ['isolate-pod'], seed, policy: { actionSettings: { isolation: { keepLabels: ['app'] } } } });
    expect(statuses(await keep.contain())).toEqual({ 'isolate-pod': 'partial' });
    expect(livePod(keep).metadata.labels.app).toBe('checkout');
    const off = await setup({ actions: ['isolate-pod'], seed, policy: { actionSettings: { isolation: { detachFromAllowPolicies: false } } } });
    expect(statuses(await off.contain())).toEqual({ 'isolate-pod': 'partial' });
    expect(livePod(off).metadata.labels.app).toBe('checkout');
  });

  it('dry-run says what it would remove and whether the pod would then be isolated, and writes nothing', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      dryRun: true,
      seed: (s) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } }), allowPolicy('allow-same-namespace', {})]),
    });
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('would');
    expect(result.outcomes[0]!.reason).toMatch(/remove label\(s\) app .*leaves the Services and ReplicaSet/);
    expect(result.outcomes[0]!.reason).toMatch(/then the pod is NOT isolated: still admitted by NetworkPolicy allow-same-namespace \(ingress \+ egress\)/);
    expect(h.fake.writes()).toEqual([]);
  });
});

describe('isolate-pod: a fault that can heal after part of it landed', () => {
  it('the pod label answered 503 after the NetworkPolicy was created: pending, saying what landed, marked as written', async () => {
    const h = await setup({ actions: ['isolate-pod'] });
    h.fake.state.faults.push({ method: 'PATCH', path: /\/pods\//, status: 503, reason: 'ServiceUnavailable', times: Infinity });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'pending', details: { wrote: true, networkPolicy: OUR_POLICY } });
    expect(result.outcomes[0]!.reason).toMatch(new RegExp(`^created NetworkPolicy ${OUR_POLICY}; then label pod .* for isolation: HTTP 503`));
    expect(h.fake.state.networkPolicies.has(`${NS}/${OUR_POLICY}`)).toBe(true);
    // The audit trail has it too.
    expect(h.fake.eventWrites().map((w) => (w.body as any).reason)).toEqual(['SccResponderIsolatedPending']);
  });
});

describe('isolate-pod: where NetworkPolicy does nothing', () => {
  it('enforcement off → ineffective, loudly; the policy is still created (it works once enforcement is on), nothing detached', async () => {
    const h = await setup({ actions: ['isolate-pod'], enforcement: 'not-enforced', seed: (s) => void (s.networkPolicies = [allowPolicy('checkout', { matchLabels: { app: 'checkout' } })]) });
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('ineffective');
    expect(result.outcomes[0]!.reason).toMatch(/NOT isolated: the cluster does not enforce NetworkPolicy/);
    expect(h.fake.state.networkPolicies.has(`${NS}/${OUR_POLICY}`)).toBe(true);
    expect(livePod(h).metadata.labels.app).toBe('checkout');
  });

  it('enforcement unknown (undeclared kubeconfig cluster) → partial, never done', async () => {
    const h = await setup({ actions: ['isolate-pod'], enforcement: 'unknown' });
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('partial');
    expect(result.outcomes[0]!.reason).toMatch(/enforcement on this cluster is unknown/);
  });

  it('hostNetwork pod → ineffective, not done-with-a-warning', async () => {
    const h = await setup({ actions: ['isolate-pod'], seed: (s) => void (s.pods![0]!.spec.hostNetwork = true) });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'ineffective', reason: expect.stringMatching(/hostNetwork pod: NetworkPolicy does not apply/) });
  });

  it.each<[ActionType[], RegExp]>([
    [['isolate-pod'], /does NOT remove the pod/],
    [['isolate-pod', 'delete-pod'], /this plan removes the pod \(delete-pod\)/],
  ])('says that open connections may persist (%j)', async (actions, removal) => {
    const h = await setup({ actions });
    const { warnings } = await h.contain();
    const note = warnings.find((w) => w.startsWith('isolation blocks new connections only'));
    expect(note).toMatch(/connections already open .* may persist until the pod is removed/);
    expect(note).toMatch(removal);
  });
});

describe('isolate-pod: nothing pre-placed is trusted', () => {
  it('an incident label from the pod template (on every replica) is not reused: the policy selects only this pod', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      seed: (s) => {
        for (const p of s.pods!) p.metadata.labels[INCIDENT_LABEL] = 'aaaabbbbccccdddd';
      },
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'done' });
    const ours = h.fake.state.networkPolicies.get(`${NS}/${OUR_POLICY}`)!;
    expect(podsSelectedBy(h.fake.state, ours).map((p) => p.metadata.name)).toEqual([POD]);
    expect(h.fake.state.networkPolicies.has(`${NS}/scc-isolate-aaaabbbbccccdddd`)).toBe(false);
  });

  it('an earlier incident label whose policy is ours but is carried by another pod too is not reused', async () => {
    const h = await setup({ actions: ['isolate-pod'] });
    await h.contain();
    // Someone copies the label onto a sibling.
    h.fake.state.pods.get(`${NS}/checkout-7c9f8d6b5-h4k9p`)!.metadata.labels[INCIDENT_LABEL] = FINDING_ID;
    const n = h.plan;
    const second = { ...n, finding: { ...n.finding, id: 'f3333333333333333333333333333333', name: n.finding.name!.replace(FINDING_ID, 'f3333333333333333333333333333333') } };
    const result = await h.contain({ plan: second });
    expect(result.outcomes[0]!.checks?.join(' ')).toMatch(/carried by 2 pods: not reused/);
    expect(livePod(h).metadata.labels[INCIDENT_LABEL]).toBe('f3333333333333333333333333333333');
  });

  it('a same-named allow-all policy placed beforehand is a failure, never "already"; removal then does not run', async () => {
    const h = await setup({
      actions: ['isolate-pod', 'delete-pod'],
      seed: (s) =>
        void (s.networkPolicies = [
          {
            ...allowPolicy(OUR_POLICY, { matchLabels: { [INCIDENT_LABEL]: FINDING_ID } }),
            metadata: { name: OUR_POLICY, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'scc-responder' } },
          },
        ]),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'failed', 'delete-pod': 'skipped' });
    expect(result.outcomes[0]!.reason).toMatch(/already exists and is not this responder's deny-all/);
    expect(h.fake.writes().filter((w) => w.status < 300)).toEqual([]);
  });

  it('a same-named policy created between the list and the create (409) is read back and refused unless it is ours', async () => {
    const h = await setup({ actions: ['isolate-pod'] });
    h.fake.state.beforeRequest = (req, state) => {
      if (req.method === 'POST' && req.path.endsWith('/networkpolicies')) {
        state.networkPolicies.set(`${NS}/${OUR_POLICY}`, { ...allowPolicy(OUR_POLICY, {}), metadata: { name: OUR_POLICY, namespace: NS, uid: 'x', resourceVersion: '1' } });
      }
    };
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('failed');
    expect(result.outcomes[0]!.reason).toMatch(/appeared and is not this responder's deny-all/);
  });
});

describe('read-back: the outcome is what the cluster shows afterwards', () => {
  it('a policy deleted right after isolation → failed, with what was found', async () => {
    const h = await setup({ actions: ['isolate-pod'] });
    let writesSeen = 0;
    h.fake.state.beforeRequest = (req, state) => {
      if (req.method !== 'GET') writesSeen++;
      if (writesSeen === 2 && req.method === 'GET' && req.path.endsWith('/networkpolicies')) state.networkPolicies.delete(`${NS}/${OUR_POLICY}`);
    };
    const result = await h.contain();
    expect(result.outcomes[0]!.status).toBe('failed');
    expect(result.outcomes[0]!.reason).toMatch(/^read-back: NetworkPolicy .* is gone/);
  });

  it('a quarantine label removed under us → label-pod failed on read-back', async () => {
    const h = await setup({ actions: ['label-pod'] });
    h.fake.state.beforeRequest = (req, state) => {
      if (req.method === 'GET' && h.fake.writes().length === 1) delete state.pods.get(`${NS}/${POD}`)!.metadata.labels['scc-responder.dev/quarantine'];
    };
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^read-back: the pod no longer carries scc-responder.dev\/quarantine=true/) });
  });

  it('a node uncordoned under us → cordon-node failed on read-back', async () => {
    const h = await setup({ actions: ['cordon-node'] });
    h.fake.state.beforeRequest = (req, state) => {
      if (req.method === 'GET' && req.path.startsWith('/api/v1/nodes/') && h.fake.writes().length === 1) delete state.nodes.values().next().value!.spec.unschedulable;
    };
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/schedulable again/) });
  });
});

describe('identity before any write', () => {
  function namesOnly(n: Record<string, any>): void {
    delete n.finding.containers;
    delete n.finding.kubernetes.pods[0].containers;
    delete n.finding.kubernetes.nodes;
    for (const k of ['VM_Instance_Name', 'Container_Name', 'Container_Image_Uri', 'Container_Image_Id']) delete n.finding.sourceProperties[k];
  }

  it('a finding naming only namespace + pod gets no write at all: report only, with the reason', async () => {
    const h = await setup({ actions: ['label-pod', 'isolate-pod', 'cordon-node'], notification: namesOnly });
    const result = await h.contain();
    for (const o of result.outcomes) {
      expect(o.status).toBe('skipped');
      expect(o.reason).toMatch(/identity not verified \(the finding names no container/);
    }
    expect(h.fake.writes()).toEqual([]);
  });

  it('container name alone is not enough: the image or the node must agree too', async () => {
    const h = await setup({
      actions: ['label-pod'],
      notification: (n) => {
        delete n.finding.containers[0].uri;
        delete n.finding.containers[0].imageId;
        delete n.finding.kubernetes.pods[0].containers;
        delete n.finding.kubernetes.nodes;
        for (const k of ['VM_Instance_Name', 'Container_Image_Uri', 'Container_Image_Id']) delete n.finding.sourceProperties[k];
      },
    });
    const result = await h.contain();
    expect(result.outcomes[0]!.reason).toMatch(/neither the image nor the node the finding names agrees/);
    expect(h.fake.writes()).toEqual([]);
  });

  it('no eventTime: the pod cannot be shown to have existed at the event, so nothing is written', async () => {
    const h = await setup({ actions: ['label-pod'], notification: (n) => void delete n.finding.eventTime });
    const result = await h.contain();
    expect(result.outcomes[0]!.reason).toMatch(/identity not verified \(the finding has no usable eventTime/);
    expect(h.fake.writes()).toEqual([]);
  });

  it.each([
    ['Cyrillic х in the pod name', 'checkout-7c9f8d6b5-q2w8х'],
    ['`..` as the pod name', '..'],
    ['`.` as the pod name', '.'],
  ])('%s: no request carries it, and the node is not cordoned on the finding alone', async (_what, name) => {
    const h = await setup({
      actions: ['label-pod', 'cordon-node'],
      notification: (n) => {
        n.finding.kubernetes.pods[0].name = name;
        n.finding.sourceProperties.Pod_Name = name;
      },
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'cordon-node': 'skipped' });
    const paths = h.fake.requests.map((r) => r.path);
    expect(paths.filter((p) => p.includes('/pods'))).toEqual([]);
    expect(paths).not.toContain(`/api/v1/namespaces/${NS}`);
    expect(h.fake.writes()).toEqual([]);
  });

  it('the adapter itself refuses an invalid name before any request (defence in depth)', async () => {
    const h = await setup({ actions: ['label-pod'] });
    const kube = createKubeApi(kubeConfigFromFile(h.fake.kubeconfigPath, 'fake'));
    for (const call of [() => kube.readPod(NS, '..'), () => kube.readPod('..', POD), () => kube.readNode('nodé'), () => kube.listNetworkPolicies('a/b')]) {
      await expect(call()).rejects.toMatchObject({ name: 'KubeApiError', reason: 'InvalidName' });
    }
    await expect(kube.readPod(NS, '..')).rejects.toBeInstanceOf(KubeApiError);
    expect(h.fake.requests).toEqual([]);
  });
});

describe('replica floor: by the action property, for every removal action', () => {
  it.each<ActionType>(['evict-pod', 'delete-pod'])('%s is skipped when too few other ready pods would remain', async (removal) => {
    const h = await setup({ actions: [removal], policy: { guards: { replicaFloor: 3 } } });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/fewer than the replica floor 3/) });
    expect(h.fake.writes()).toEqual([]);
  });
});
