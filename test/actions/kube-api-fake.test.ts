// The fake is only useful if it refuses what kube-apiserver refuses: these
// cases drive it with the raw client-node calls a careless adapter would make.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.ts';
import { NODE, NS, POD, seed } from '../support/kube-seed.ts';

let fake: FakeKubeApi;
let core: CoreV1Api;

beforeAll(async () => {
  fake = await startFakeKubeApi({ seed: seed() });
  const kc = new KubeConfig();
  kc.loadFromFile(fake.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(() => fake.close());

async function failure(p: Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiException);
    const ex = e as ApiException<string>;
    return { code: ex.code, body: JSON.parse(ex.body) };
  }
  throw new Error('expected the call to fail');
}

describe('fake kube-apiserver strictness', () => {
  it("rejects client-node's default json-patch content type with an object body (the cordon bug)", async () => {
    const { code, body } = await failure(core.patchNode({ name: NODE, body: { spec: { unschedulable: true } } }));
    expect(code).toBe(400);
    expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 });
    expect(body.message).toContain('cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
    expect(fake.state.nodes.get(NODE)!.spec.unschedulable).toBeUndefined();
  });

  it('answers 415 for a content type it does not take', async () => {
    const { code, body } = await failure(
      core.patchNode({ name: NODE, body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', 'application/json')),
    );
    expect(code).toBe(415);
    expect(body.reason).toBe('UnsupportedMediaType');
  });

  it('merge patch replaces lists; strategic merge patch merges node taints by key', async () => {
    const before = fake.state.nodes.get(NODE)!.metadata.resourceVersion;
    await core.patchNode(
      { name: NODE, body: { spec: { taints: [{ key: 'quarantine', value: 'true', effect: 'NoSchedule' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(fake.state.nodes.get(NODE)!.spec.taints.map((t: any) => t.key)).toEqual(['workload', 'quarantine']);
    expect(fake.state.nodes.get(NODE)!.metadata.resourceVersion).not.toBe(before);
    await core.patchNode(
      { name: NODE, body: { spec: { taints: [{ key: 'only', effect: 'NoSchedule' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(fake.state.nodes.get(NODE)!.spec.taints.map((t: any) => t.key)).toEqual(['only']);
  });

  it('applies a JSON patch array and fails a failed test op with 422', async () => {
    await core.patchNode({ name: NODE, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    expect(fake.state.nodes.get(NODE)!.spec.unschedulable).toBe(true);
    const { code } = await failure(core.patchNode({ name: NODE, body: [{ op: 'test', path: '/spec/unschedulable', value: false }] }));
    expect(code).toBe(422);
  });

  it('refuses a patch that changes the uid (422) and a stale resourceVersion (409)', async () => {
    const wrongUid = await failure(
      core.patchNamespacedPod({ name: POD, namespace: NS, body: { metadata: { uid: 'other' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
    expect(wrongUid).toMatchObject({ code: 422, body: { reason: 'Invalid' } });
    const stale = await failure(
      core.patchNamespacedPod({ name: POD, namespace: NS, body: { metadata: { resourceVersion: '1' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
    expect(stale).toMatchObject({ code: 409, body: { reason: 'Conflict' } });
  });

  it('404s with a NotFound Status and 400s a bad label selector', async () => {
    expect(await failure(core.readNamespacedPod({ name: 'nope', namespace: NS }))).toMatchObject({
      code: 404,
      body: { kind: 'Status', reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } },
    });
    expect((await failure(core.listNamespacedPod({ namespace: NS, labelSelector: 'app in (a' }))).code).toBe(400);
    const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=checkout,pod-template-hash!=nope' });
    expect(list.items).toHaveLength(4);
  });

  it('requires the bearer token', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'wrong' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await expect(kc.makeApiClient(CoreV1Api).readNode({ name: NODE })).rejects.toMatchObject({ code: 401 });
  });
});
