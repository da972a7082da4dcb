// Drives the registered function through the real functions-framework HTTP
// layer on loopback: a binary-mode CloudEvent, a structured CloudEvent, and a
// raw Pub/Sub push that the framework converts itself.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cloudEvent, notificationV1, pushBody } from './support/fixtures.ts';

let server: Server;
let base: string;
const lines: Record<string, any>[] = [];

beforeAll(async () => {
  process.env.SCC_RESPONDER_POLICY_FILE = new URL('../examples/policy.yaml', import.meta.url).pathname;
  process.env.LOG_LEVEL = 'DEBUG';
  // The composition wires GKE cluster access (ADC): keep google-auth-library from probing the
  // metadata server, so the actions fail fast as "no credentials" without leaving loopback.
  process.env.METADATA_SERVER_DETECTION = 'none';
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
  jest.restoreAllMocks();
  delete process.env.SCC_RESPONDER_POLICY_FILE;
  delete process.env.LOG_LEVEL;
  delete process.env.METADATA_SERVER_DETECTION;
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
      dryRun: false,
      actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'],
      messageId: '17368394120495518',
    });
    // No cluster access is wired in this test: actions are reported skipped, not attempted.
    expect(logsFor('action:delete-pod')[0]).toMatchObject({ status: 'skipped' });
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

  it('acks an out-of-scope finding after one debug line', async () => {
    lines.length = 0;
    const n = structuredClone(notificationV1());
    n.finding.category = 'Added Binary Executed';
    const res = await post('/projects/example-sec-ops/topics/scc-findings', pushBody(n));
    expect(res.status).toBe(204);
    expect(logsFor('scope')).toEqual([expect.objectContaining({ severity: 'DEBUG', reason: expect.stringMatching(/category/) })]);
    expect(logsFor('plan')).toHaveLength(0);
  });

  it('acks a malformed message (never a 7-day retry loop) and says why', async () => {
    lines.length = 0;
    const res = await post('/projects/example-sec-ops/topics/scc-findings', { message: { data: Buffer.from('{not json').toString('base64'), messageId: '9' }, subscription: 'projects/example-sec-ops/subscriptions/s' });
    expect(res.status).toBe(204);
    expect(logsFor('decode')).toEqual([expect.objectContaining({ severity: 'WARNING', path: 'data.message.data' })]);
  });
});
