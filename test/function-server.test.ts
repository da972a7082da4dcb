// Drives the registered function through the real functions-framework HTTP
// layer on loopback: a binary-mode CloudEvent, a structured CloudEvent, and a
// raw Pub/Sub push that the framework converts itself.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { cloudEvent, notificationV1, pushBody } from './support/fixtures.ts';
import { CLUSTER, seed } from './support/kube-seed.ts';

let server: Server;
let base: string;
let kube: FakeKubeApi;
const lines: Record<string, any>[] = [];

beforeAll(async () => {
  // The fixture's cluster is reached through a kubeconfig for the strict fake API on loopback,
  // so nothing here looks for Google credentials.
  kube = await startFakeKubeApi({ seed: seed() });
  const dir = mkdtempSync(join(tmpdir(), 'scc-fn-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    [
      'dryRun: true',
      'rules:',
      '  - {name: payments-quarantine, match: {namespaces: [payments]}, actions: [label-pod, isolate-pod, cordon-node, delete-pod]}',
      'clusters:',
      `  "${CLUSTER}": {kubeconfig: ${JSON.stringify(kube.kubeconfigPath)}, context: fake}`,
    ].join('\n'),
  );
  process.env.SCC_RESPONDER_POLICY_FILE = policyFile;
  process.env.LOG_LEVEL = 'DEBUG';
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) {
      try {
        lines.push(JSON.parse(line));
      } catch {
        // not ours (framework banner)
      }
    }
    return true;
  });
  await import('../src/index.ts');
  const { getTestServer } = await import('@google-cloud/functions-framework/testing');
  server = getTestServer('sccResponder');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await kube.close();
  jest.restoreAllMocks();
  delete process.env.SCC_RESPONDER_POLICY_FILE;
  delete process.env.LOG_LEVEL;
});

function logsFor(step: string): Record<string, any>[] {
  return lines.filter((l) => l.step === step);
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

describe('functions-framework server', () => {
  it('acks a binary-mode CloudEvent and logs the plan as one structured line', async () => {
    lines.length = 0;
    const event = cloudEvent(notificationV1());
    const { data, specversion, type, source, id } = event;
    const res = await post('/', data, { 'ce-specversion': specversion, 'ce-type': type, 'ce-source': source, 'ce-id': id });
    expect(res.status).toBe(204);
    const [planLine] = logsFor('plan');
    expect(planLine).toMatchObject({
      severity: 'NOTICE',
      rule: 'payments-quarantine',
      dryRun: true,
      actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'],
      messageId: '17368394120495518',
    });
    // Dry-run against the fake cluster: every check ran, every action says what it would do, nothing was written.
    for (const type of ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod']) {
      expect(logsFor(`action:${type}`)).toEqual([expect.objectContaining({ status: 'would' })]);
    }
    expect(kube.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/payments/pods/checkout-7c9f8d6b5-q2w8x')).toBe(true);
    expect(kube.writes()).toEqual([]);
  });

  it('answers 500 (Pub/Sub redelivers) when the cluster API fails in a way that can heal', async () => {
    lines.length = 0;
    kube.state.faults.push({ method: 'GET', path: /\/pods\/checkout-7c9f8d6b5-q2w8x$/, status: 503, reason: 'ServiceUnavailable', message: 'etcd leader changed' });
    // The framework reports a thrown error on console.error before answering 500.
    const reported = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const res = await post('/projects/example-sec-ops/topics/scc-findings', pushBody(notificationV1()));
    expect(res.status).toBe(500);
    expect(reported).toHaveBeenCalledWith(expect.stringMatching(/^TransientError: preflight: HTTP 503/));
    reported.mockRestore();
    expect(logsFor('contain')).toEqual([expect.objectContaining({ severity: 'WARNING', message: expect.stringMatching(/transient/) })]);
  });

  it('acks a permanent cluster API refusal and reports the actions as failed', async () => {
    lines.length = 0;
    kube.state.faults.push({ method: 'GET', path: /\/pods\/checkout-7c9f8d6b5-q2w8x$/, status: 403, reason: 'Forbidden', message: 'pods "checkout-7c9f8d6b5-q2w8x" is forbidden' });
    const res = await post('/projects/example-sec-ops/topics/scc-findings', pushBody(notificationV1()));
    expect(res.status).toBe(204);
    expect(logsFor('action:delete-pod')).toEqual([expect.objectContaining({ severity: 'ERROR', status: 'failed' })]);
    expect(kube.writes()).toEqual([]);
  });

  it('acks a structured-mode CloudEvent', async () => {
    lines.length = 0;
    const res = await post('/', cloudEvent(notificationV1()), { 'content-type': 'application/cloudevents+json' });
    expect(res.status).toBe(204);
    expect(logsFor('plan')).toHaveLength(1);
  });

  it('converts and handles a raw Pub/Sub push on a projects/P/topics/T path', async () => {
    lines.length = 0;
    const res = await post('/projects/example-sec-ops/topics/scc-findings', pushBody(notificationV1()));
    expect(res.status).toBe(204);
    expect(logsFor('plan')[0]).toMatchObject({ rule: 'payments-quarantine' });
  });

  it('acks an out-of-scope finding after one INFO line (counted by the findings_ignored metric)', async () => {
    lines.length = 0;
    const n = structuredClone(notificationV1());
    n.finding.category = 'Added Binary Executed';
    const res = await post('/projects/example-sec-ops/topics/scc-findings', pushBody(n));
    expect(res.status).toBe(204);
    expect(logsFor('scope')).toEqual([expect.objectContaining({ severity: 'INFO', reason: expect.stringMatching(/category/) })]);
    expect(logsFor('plan')).toHaveLength(0);
  });

  it('acks a malformed message (never a 7-day retry loop) and says why', async () => {
    lines.length = 0;
    const res = await post('/projects/example-sec-ops/topics/scc-findings', { message: { data: Buffer.from('{not json').toString('base64'), messageId: '9' }, subscription: 'projects/example-sec-ops/subscriptions/s' });
    expect(res.status).toBe(204);
    expect(logsFor('decode')).toEqual([expect.objectContaining({ severity: 'WARNING', path: 'data.message.data' })]);
  });
});
