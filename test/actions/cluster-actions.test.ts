// The actions against the strict fake API server, through the real
// @kubernetes/client-node. Each case asserts the exact writes the cluster saw.
import { describe, expect, it } from '@jest/globals';
import { TransientError } from '../../src/core/errors.ts';
import type { ActionOutcome } from '../../src/core/plan/outcome.ts';
import type { ActionType } from '../../src/core/policy/policy.ts';
import { INCIDENT_LABEL } from '../../src/actions/action.ts';
import { networkPolicyName } from '../../src/actions/isolate-pod.ts';
import { harnessPerTest, statuses } from './harness.ts';
import { INSTANCE_ID, NODE, NS, OTHER_NODE, POD, POD_UID, checkoutPod } from '../support/kube-seed.ts';

const FINDING_ID = '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const FINDING_NAME = `organizations/123456789012/sources/11223344556677889900/findings/${FINDING_ID}`;
const POD_PATH = `/api/v1/namespaces/${NS}/pods/${POD}`;

const setup = harnessPerTest();

describe('label-pod', () => {
  it('adds the quarantine label and annotations with a merge patch carrying the pod UID', async () => {
    const h = await setup({ actions: ['label-pod'] });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'done' });
    expect(h.fake.writes()).toEqual([
      {
        method: 'PATCH',
        path: POD_PATH,
        query: { fieldManager: 'scc-responder' },
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            uid: POD_UID,
            labels: { 'scc-responder.dev/quarantine': 'true' },
            annotations: { 'scc-responder.dev/finding': FINDING_NAME, 'scc-responder.dev/quarantined-at': '2026-11-20T14:05:00.000Z' },
          },
        },
        status: 200,
      },
    ]);
    const labels = h.fake.state.pods.get(`${NS}/${POD}`)!.metadata.labels;
    // The app's labels (including the ReplicaSet selector's) are untouched.
    expect(labels).toEqual({ app: 'checkout', 'pod-template-hash': '7c9f8d6b5', tier: 'payments', 'scc-responder.dev/quarantine': 'true' });
  });

  it('is idempotent: a redelivery reports already and writes nothing', async () => {
    const h = await setup({ actions: ['label-pod'] });
    await h.contain();
    const before = h.fake.writes().length;
    const again = await h.contain();
    expect(statuses(again)).toEqual({ 'label-pod': 'already' });
    expect(h.fake.writes().length).toBe(before);
  });

  it('never changes a label key the pod already uses with another value', async () => {
    const h = await setup({
      actions: ['label-pod'],
      policy: { actionSettings: { quarantineLabel: { key: 'app', value: 'quarantined' } } },
    });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('label app is already set') });
    expect(h.fake.writes()).toEqual([]);
  });
});

describe('isolate-pod', () => {
  it('creates a deny-all ingress+egress NetworkPolicy selecting only this pod, then labels the pod', async () => {
    const h = await setup({ actions: ['isolate-pod'] });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'done' });
    const [create, label] = h.fake.writes();
    expect(create).toMatchObject({
      method: 'POST',
      path: `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      contentType: 'application/json',
      status: 201,
      body: {
        metadata: { name: `scc-isolate-${FINDING_ID}`, namespace: NS },
        spec: { podSelector: { matchLabels: { [INCIDENT_LABEL]: FINDING_ID } }, policyTypes: ['Ingress', 'Egress'] },
      },
    });
    const spec = (create!.body as any).spec;
    expect(spec.ingress).toBeUndefined();
    expect(spec.egress).toBeUndefined();
    expect(label).toMatchObject({
      method: 'PATCH',
      path: POD_PATH,
      contentType: 'application/merge-patch+json',
      body: { metadata: { uid: POD_UID, labels: { [INCIDENT_LABEL]: FINDING_ID } } },
    });
    // Exactly one pod in the namespace matches the policy's selector.
    const selected = [...h.fake.state.pods.values()].filter((p) => p.metadata.labels?.[INCIDENT_LABEL] === FINDING_ID);
    expect(selected.map((p) => p.metadata.name)).toEqual([POD]);
  });

  it('is idempotent: our own deny-all for this pod, and the label on it, mean already (nothing written)', async () => {
    const h = await setup({ actions: ['isolate-pod'] });
    await h.contain();
    const again = await h.contain();
    expect(statuses(again)).toEqual({ 'isolate-pod': 'already' });
    const writes = h.fake.writes();
    expect(writes.map((w) => `${w.method} ${w.status}`)).toEqual(['POST 201', 'PATCH 200']);
    expect(h.fake.state.networkPolicies.has(`${NS}/${networkPolicyName(FINDING_ID)}`)).toBe(true);
  });

  it('warns that a hostNetwork pod is not isolated by a NetworkPolicy', async () => {
    const h = await setup({
      actions: ['isolate-pod'],
      seed: (s) => {
        s.pods![0]!.spec.hostNetwork = true;
      },
    });
    const result = await h.contain();
    expect(result.warnings).toContain('pod uses hostNetwork: a NetworkPolicy does not isolate it');
    expect(result.outcomes[0]!.reason).toMatch(/hostNetwork/);
  });
});

describe('cordon-node', () => {
  it('sets spec.unschedulable with a merge patch, records who/why, and keeps the taints', async () => {
    const h = await setup({ actions: ['cordon-node'] });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'cordon-node': 'done' });
    expect(h.fake.writes()).toEqual([
      {
        method: 'PATCH',
        path: `/api/v1/nodes/${NODE}`,
        query: { fieldManager: 'scc-responder' },
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            annotations: {
              'scc-responder.dev/cordoned-by': 'scc-responder',
              'scc-responder.dev/cordoned-at': '2026-11-20T14:05:00.000Z',
              'scc-responder.dev/finding': FINDING_NAME,
            },
          },
          spec: { unschedulable: true },
        },
        status: 200,
      },
    ]);
    const n = h.fake.state.nodes.get(NODE)!;
    expect(n.spec).toEqual({ unschedulable: true, taints: [{ key: 'workload', value: 'payments', effect: 'NoSchedule' }] });
    expect(n.metadata.annotations['container.googleapis.com/instance_id']).toBe(INSTANCE_ID);
  });

  it('reports an already cordoned node as already, with no write', async () => {
    const h = await setup({ actions: ['cordon-node'], seed: (s) => void (s.nodes![0]!.spec.unschedulable = true) });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'cordon-node': 'already' });
    expect(h.fake.writes()).toEqual([]);
  });
});

describe('evict-pod', () => {
  it('evicts through the Eviction API with the pod UID as precondition; a redelivery is already', async () => {
    const h = await setup({ actions: ['evict-pod'] });
    expect(statuses(await h.contain())).toEqual({ 'evict-pod': 'done' });
    expect(h.fake.writes()).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: `${POD_PATH}/eviction`,
        contentType: 'application/json',
        status: 201,
        body: expect.objectContaining({
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: POD, namespace: NS },
          deleteOptions: { preconditions: { uid: POD_UID } },
        }),
      }),
    ]);
    const again = await h.contain();
    expect(again.outcomes[0]).toMatchObject({ status: 'already', reason: expect.stringContaining('terminating') });
    expect(h.fake.writes()).toHaveLength(1);
  });

  it('reports a PodDisruptionBudget refusal (429) as failed with the budget message, without throwing', async () => {
    const h = await setup({
      actions: ['evict-pod'],
      seed: (s) => void (s.podDisruptionBudgets![0]!.status.disruptionsAllowed = 0),
    });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('The disruption budget checkout needs 2 healthy pods and has 3 currently'),
      details: { httpStatus: 429, disruptionBudget: true },
    });
    expect(h.fake.state.pods.get(`${NS}/${POD}`)!.metadata.deletionTimestamp).toBeUndefined();
  });
});

describe('delete-pod', () => {
  it('deletes with the policy grace period and a UID precondition; a redelivery is already', async () => {
    const h = await setup({ actions: ['delete-pod'], policy: { actionSettings: { deleteGracePeriodSeconds: 45 } } });
    expect(statuses(await h.contain())).toEqual({ 'delete-pod': 'done' });
    expect(h.fake.writes()).toEqual([
      expect.objectContaining({
        method: 'DELETE',
        path: POD_PATH,
        query: { gracePeriodSeconds: '45' },
        body: { gracePeriodSeconds: 45, preconditions: { uid: POD_UID } },
        status: 200,
      }),
    ]);
    expect(statuses(await h.contain())).toEqual({ 'delete-pod': 'already' });
    expect(h.fake.writes()).toHaveLength(1);
  });

  it('treats a pod that is gone (404) as already for removal, skips the pod actions, and does not cordon on the finding\'s word', async () => {
    const h = await setup({ actions: ['label-pod', 'cordon-node', 'delete-pod'], seed: (s) => void s.pods!.splice(0, 1) });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'cordon-node': 'skipped', 'delete-pod': 'already' });
    expect(result.outcomes[0]!.reason).toMatch(/no longer exists/);
    expect(result.outcomes[1]!.reason).toMatch(/named only by the finding.*cordonWhenPodGone/);
    expect(h.fake.writes()).toEqual([]);
  });

  it('cordons the finding\'s node when the pod is gone only with guards.cordonWhenPodGone, and says so', async () => {
    const h = await setup({
      actions: ['label-pod', 'cordon-node', 'delete-pod'],
      seed: (s) => void s.pods!.splice(0, 1),
      policy: { guards: { cordonWhenPodGone: true } },
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'cordon-node': 'done', 'delete-pod': 'already' });
    expect(result.warnings.join(' ')).toMatch(/comes from the finding, not from a verified pod/);
    expect(h.fake.writes().map((w) => `${w.method} ${w.path}`)).toEqual([`PATCH /api/v1/nodes/${NODE}`]);
  });

  it('does not delete a pod recreated under the same name between preflight and delete (UID precondition → 409)', async () => {
    const h = await setup({ actions: ['delete-pod'] });
    h.fake.state.beforeRequest = (req, state) => {
      if (req.method === 'DELETE') {
        const replacement = checkoutPod(POD, '11111111-2222-4333-8444-555555555555');
        state.pods.set(`${NS}/${POD}`, replacement);
      }
    };
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('was replaced (UID changed)') });
    expect(h.fake.state.pods.get(`${NS}/${POD}`)!.metadata.deletionTimestamp).toBeUndefined();
  });
});

describe('preflight guards', () => {
  it('skips everything when the live pod was created after the finding (same-name replacement)', async () => {
    const h = await setup({
      actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'],
      seed: (s) => void (s.pods![0]!.metadata.creationTimestamp = '2026-11-20T14:04:00Z'),
    });
    const result = await h.contain();
    expect(new Set(Object.values(statuses(result)))).toEqual(new Set(['skipped']));
    expect(result.outcomes[0]!.reason).toMatch(/replacement with the same name/);
    expect(h.fake.writes()).toEqual([]);
  });

  it('skips everything when the pod runs on another node than the finding names', async () => {
    const h = await setup({ actions: ['label-pod', 'cordon-node'], seed: (s) => void (s.pods![0]!.spec.nodeName = OTHER_NODE) });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'cordon-node': 'skipped' });
    expect(result.outcomes[0]!.reason).toMatch(/runs on node .*m2zd.*finding names node .*x7kq/);
    expect(h.fake.writes()).toEqual([]);
  });

  it('skips when the container the finding names is not in the pod, or runs another image', async () => {
    const other = await setup({
      actions: ['label-pod'],
      seed: (s) => {
        const pod = s.pods![0]!;
        pod.spec.containers[0].image = 'nginx:1.27';
        pod.status.containerStatuses[0] = { name: 'checkout', image: 'docker.io/library/nginx:1.27', imageID: `docker.io/library/nginx@sha256:${'b'.repeat(64)}` };
      },
    });
    expect((await other.contain()).outcomes[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('runs image "nginx:1.27"') });
    const renamed = await setup({ actions: ['label-pod'], seed: (s) => void (s.pods![0]!.spec.containers[0].name = 'web') });
    expect((await renamed.contain()).outcomes[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('pod has no container "checkout"') });
    expect([...other.fake.writes(), ...renamed.fake.writes()]).toEqual([]);
  });

  it('accepts the image by digest when the spec names it differently (tag vs digest reference)', async () => {
    const h = await setup({
      actions: ['label-pod'],
      seed: (s) => void (s.pods![0]!.spec.containers[0].image = 'us-docker.pkg.dev/example-shop-prod/apps/checkout@sha256:4f1c0a5b6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6e7f809'),
    });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'done', checks: expect.arrayContaining(['image matches (digest)']) });
  });

  it('skips pod actions for DaemonSet pods but still cordons the node', async () => {
    const h = await setup({
      actions: ['label-pod', 'cordon-node', 'delete-pod'],
      seed: (s) =>
        void (s.pods![0]!.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-agent', uid: 'ds-1', controller: true }]),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'cordon-node': 'done', 'delete-pod': 'skipped' });
    expect(result.outcomes[0]!.reason).toMatch(/DaemonSet/);
  });

  it('skips static (mirror) pods', async () => {
    const h = await setup({
      actions: ['label-pod', 'delete-pod'],
      seed: (s) => {
        const p = s.pods![0]!;
        p.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc123' };
        p.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: 'node-uid', controller: true }];
      },
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'delete-pod': 'skipped' });
    expect(result.outcomes[1]!.reason).toMatch(/static \(mirror\) pod/);
    expect(h.fake.writes()).toEqual([]);
  });

  it('skips everything for a pod with the opt-out annotation', async () => {
    const h = await setup({
      actions: ['label-pod', 'cordon-node'],
      seed: (s) => void (s.pods![0]!.metadata.annotations = { 'scc-responder.dev/opt-out': 'true' }),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'cordon-node': 'skipped' });
    expect(h.fake.writes()).toEqual([]);
  });

  it('re-checks protected namespaces even when handed a plan that acts there', async () => {
    const h = await setup({ actions: ['label-pod', 'delete-pod'], policy: { protectedNamespaces: ['payments'] } });
    // The plan for this policy is report-only; hand in the plan an older policy would have made.
    const unprotected = await setup({ actions: ['label-pod', 'delete-pod'] });
    const result = await h.contain({ plan: unprotected.plan });
    expect(statuses(result)).toEqual({ 'label-pod': 'skipped', 'delete-pod': 'skipped' });
    expect(result.outcomes[0]!.reason).toBe('namespace payments is protected');
    expect(h.fake.requests).toEqual([]);
  });

  it('keeps the replica floor: no removal when too few other ready pods remain', async () => {
    const h = await setup({
      actions: ['label-pod', 'delete-pod'],
      policy: { guards: { replicaFloor: 2 } },
      seed: (s) => void (s.pods![1]!.status.conditions = [{ type: 'Ready', status: 'False' }]),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'done', 'delete-pod': 'skipped' });
    expect(result.outcomes[1]!.reason).toBe('ReplicaSet checkout-7c9f8d6b5 has 1 other ready pod(s), fewer than the replica floor 2');
    // Siblings are found with the ReplicaSet's selector, and only pods it owns count (not checkout-canary-0).
    const list = h.fake.requests.find((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${NS}/pods`);
    expect(list?.query).toEqual({ labelSelector: 'app=checkout,pod-template-hash=7c9f8d6b5' });
  });

  it('does not remove the pod when isolate-pod was planned and failed (guards.deleteRequiresIsolation)', async () => {
    const h = await setup({ actions: ['isolate-pod', 'cordon-node', 'delete-pod'] });
    h.fake.state.faults.push({ method: 'POST', path: /networkpolicies$/, status: 403, reason: 'Forbidden', message: 'networkpolicies.networking.k8s.io is forbidden' });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'failed', 'cordon-node': 'done', 'delete-pod': 'skipped' });
    expect(result.outcomes[2]!.reason).toMatch(/deleteRequiresIsolation/);
  });

  it('stops after a failure when guards.stopOnFailure is set', async () => {
    const h = await setup({ actions: ['label-pod', 'cordon-node'], policy: { guards: { stopOnFailure: true } } });
    h.fake.state.faults.push({ method: 'PATCH', path: /\/pods\//, status: 403, reason: 'Forbidden', message: 'forbidden' });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'failed', 'cordon-node': 'skipped' });
  });
});

describe('dry-run', () => {
  it('runs every read and check, reports would, and performs no write', async () => {
    const h = await setup({ actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'], dryRun: true });
    expect(h.plan.dryRun).toBe(true);
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'would', 'isolate-pod': 'would', 'cordon-node': 'would', 'delete-pod': 'would' });
    expect(h.fake.writes()).toEqual([]);
    const del = result.outcomes[3]!;
    expect(del.reason).toBe(`would delete pod ${NS}/${POD} (uid ${POD_UID}, grace 30s)`);
    expect(del.checks).toEqual(
      expect.arrayContaining([
        `pod ${NS}/${POD} found (uid ${POD_UID})`,
        'container checkout present',
        'owner chain: ReplicaSet/checkout-7c9f8d6b5 → Deployment/checkout',
        'replica floor: 2 other ready pod(s) ≥ 1',
      ]),
    );
    // The reads happened: pod, owner, siblings, node, events, logs.
    expect(new Set(h.fake.requests.map((r) => r.path))).toEqual(
      new Set([
        POD_PATH,
        `/apis/apps/v1/namespaces/${NS}/replicasets/checkout-7c9f8d6b5`,
        `/api/v1/namespaces/${NS}/pods`,
        `/api/v1/nodes/${NODE}`,
        `/api/v1/namespaces/${NS}/events`,
        `${POD_PATH}/log`,
        `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      ]),
    );
  });
});

describe('snapshots', () => {
  it('captures the pod (env values redacted), its events, the node and its instance id, and log tails', async () => {
    const h = await setup({ actions: ['delete-pod'], policy: { actionSettings: { podLogTailLines: 3 } } });
    const { snapshots } = await h.contain();
    expect(snapshots.nodeInstanceId).toBe(INSTANCE_ID);
    expect(snapshots.resolvedNode).toBe(NODE);
    expect(JSON.stringify(snapshots.pod)).not.toContain('sk_live_do_not_leak');
    expect((snapshots.pod as any).spec.containers[0].env[0]).toEqual({ name: 'STRIPE_API_KEY', value: '<redacted>' });
    expect(snapshots.events?.map((e: any) => e.message)).toEqual(['Started container checkout']);
    expect(snapshots.containerLogs).toEqual({ checkout: 'line 298\nline 299\nline 300\n', 'istio-proxy': 'proxy ready\n' });
    // Captured before the delete.
    const paths = h.fake.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths.indexOf(`GET ${POD_PATH}/log`)).toBeLessThan(paths.indexOf(`DELETE ${POD_PATH}`));
  });

  it('does not hold containment back: label and isolate write before the copy is taken, the delete after', async () => {
    const h = await setup({ actions: ['label-pod', 'isolate-pod', 'delete-pod'] });
    const { snapshots } = await h.contain();
    expect(snapshots.events).toHaveLength(1);
    const paths = h.fake.requests.map((r) => `${r.method} ${r.path}`);
    const firstWrite = h.fake.requests.findIndex((r) => r.method !== 'GET');
    const firstSnapshotRead = paths.findIndex((p) => p.endsWith('/log') || p.includes('/events'));
    expect(firstWrite).toBeGreaterThanOrEqual(0);
    expect(firstWrite).toBeLessThan(firstSnapshotRead);
    expect(paths.lastIndexOf(`GET ${POD_PATH}/log`)).toBeLessThan(paths.indexOf(`DELETE ${POD_PATH}`));
  });

  it('is still taken when no action removes the pod (evidence for the summary and the bundle)', async () => {
    const h = await setup({ actions: ['label-pod'] });
    const { snapshots } = await h.contain();
    expect(snapshots.events?.map((e: any) => e.message)).toEqual(['Started container checkout']);
    expect(Object.keys(snapshots.containerLogs ?? {})).toEqual(['checkout', 'istio-proxy']);
  });
});

describe('errors: transient throws (Pub/Sub retries), permanent is reported and acked', () => {
  it.each([
    ['500 on the preflight read', { method: 'GET', path: /\/pods\/checkout-7c9f8d6b5-q2w8x$/, status: 500, reason: 'InternalError' }],
    ['503 on the preflight node read', { method: 'GET', path: /\/nodes\//, status: 503, reason: 'ServiceUnavailable' }],
  ])('%s before any write → TransientError (nothing written, Pub/Sub retries)', async (_name, fault) => {
    const h = await setup({ actions: ['cordon-node', 'delete-pod'] });
    h.fake.state.faults.push(fault);
    await expect(h.contain()).rejects.toBeInstanceOf(TransientError);
    expect(h.fake.writes().filter((w) => w.status < 300)).toEqual([]);
  });

  it.each([
    ['503 on the node patch', { method: 'PATCH', path: /\/nodes\//, status: 503, reason: 'ServiceUnavailable' }, { 'cordon-node': 'pending', 'delete-pod': 'done' }],
    ['429 (not a PDB) on delete', { method: 'DELETE', path: /\/pods\//, status: 429, reason: 'TooManyRequests', message: 'too many requests, please try again later' }, { 'cordon-node': 'done', 'delete-pod': 'pending' }],
    ['a lasting 500 from an admission webhook on delete', { method: 'DELETE', path: /\/pods\//, status: 500, reason: 'InternalError', message: 'Internal error occurred: failed calling webhook "validate.example.com"', times: Infinity }, { 'cordon-node': 'done', 'delete-pod': 'pending' }],
  ])('%s after other writes → that action pending, the rest done and reported (no throw)', async (_name, fault, expected) => {
    const h = await setup({ actions: ['cordon-node', 'delete-pod'] });
    h.fake.state.faults.push(fault);
    const result = await h.contain();
    expect(statuses(result)).toEqual(expected);
    const pending = result.outcomes.find((o) => o.status === 'pending')!;
    expect(pending.reason).toMatch(/retried on redelivery/);
    expect(pending.reason).toContain(String(fault.status));
  });

  it.each([
    ['403 Forbidden', 403, 'Forbidden'],
    ['404 NotFound', 404, 'NotFound'],
    ['422 Invalid', 422, 'Invalid'],
  ])('%s on cordon → failed outcome, later steps still run', async (_name, code, reason) => {
    const h = await setup({ actions: ['cordon-node', 'delete-pod'] });
    h.fake.state.faults.push({ method: 'PATCH', path: /\/nodes\//, status: code, reason, message: `nodes "${NODE}" ${reason}` });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ type: 'cordon-node', status: 'failed', details: { httpStatus: code } });
    expect(result.outcomes[0]!.reason).toContain(`HTTP ${code} ${reason}`);
    expect(result.outcomes[1]).toMatchObject({ type: 'delete-pod', status: 'done' });
  });

  it('a permanent preflight failure (403 on the pod read) fails every action without throwing', async () => {
    const h = await setup({ actions: ['label-pod', 'delete-pod'] });
    h.fake.state.faults.push({ method: 'GET', path: /\/pods\/checkout-7c9f8d6b5-q2w8x$/, status: 403, reason: 'Forbidden', message: 'pods is forbidden' });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'failed', 'delete-pod': 'failed' });
    expect(h.fake.writes()).toEqual([]);
  });
});

describe('budget and earlier deliveries', () => {
  it('reports budget-denied actions as skipped without attempting them', async () => {
    const h = await setup({ actions: ['label-pod', 'delete-pod'] });
    const result = await h.contain({ deniedByBudget: new Map([['delete-pod', '3 pod removals in cluster in the last 60 min']]) });
    expect(statuses(result)).toEqual({ 'label-pod': 'done', 'delete-pod': 'skipped' });
    expect(h.fake.writes().some((w) => w.method === 'DELETE')).toBe(false);
  });

  it('does not repeat an action an earlier delivery recorded as done', async () => {
    const h = await setup({ actions: ['cordon-node', 'delete-pod'], seed: (s) => void (s.nodes![0]!.spec.unschedulable = true) });
    const previous = new Map<ActionType, ActionOutcome>([['cordon-node', { type: 'cordon-node', status: 'done', reason: 'cordoned node x' }]]);
    const responder = await import('../../src/actions/cluster-responder.ts');
    const access = (await import('../../src/adapters/gke-cluster-access.ts')).createClusterAccess({ policy: h.policy });
    const result = await responder
      .createClusterResponder({ policy: h.policy, log: { log: () => {} }, access })
      .contain({ plan: h.plan, deniedByBudget: new Map(), previous });
    expect(statuses(result)).toEqual({ 'cordon-node': 'already', 'delete-pod': 'done' });
    expect(h.fake.writes().map((w) => w.method)).toEqual(['DELETE']);
  });
});

describe('capture-process-list', () => {
  it('runs ps axjf as an argv over the exec WebSocket and returns the output', async () => {
    const h = await setup({ actions: ['capture-process-list'] });
    const calls: unknown[] = [];
    h.fake.state.exec = (call) => {
      calls.push(call);
      return { stdout: 'PPID   PID  COMMAND\n    0     1  /app/checkout\n    1    42   \\_ /bin/sh\n' };
    };
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'done', details: { processList: expect.stringContaining('\\_ /bin/sh') } });
    expect(calls).toEqual([{ namespace: NS, pod: POD, container: 'checkout', command: ['ps', 'axjf'] }]);
  });

  it('reports a non-zero exit as failed', async () => {
    const h = await setup({ actions: ['capture-process-list'] });
    h.fake.state.exec = () => ({ stderr: 'sh: ps: not found\n', exitCode: 127 });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('exit status 127') });
  });

  it('gives up after captureTimeoutSeconds and reports failed (never retried)', async () => {
    const h = await setup({ actions: ['capture-process-list'], policy: { actionSettings: { captureTimeoutSeconds: 1 } } });
    h.fake.state.exec = () => ({ hang: true });
    const result = await h.contain();
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('timed out after 1000 ms') });
  });
});
