// The pure parts of evidence: filters under hostile values, links, excerpts,
// bundle naming and manifest, the read limiter and the quota backoff schedule.
import { describe, expect, it } from '@jest/globals';
import type { LogPageReader, LogPageRequest } from '../src/core/ports.ts';
import { decodeAuditSummary } from '../src/core/evidence/audit-log-wire.ts';
import { bundlePrefix, redactEnvValues } from '../src/core/evidence/bundle.ts';
import { formatEntryLine, sanitizeLine, type LogEntryView } from '../src/core/evidence/excerpts.ts';
import {
  encodeStrict,
  logsExplorerUrl,
  mitreTechniqueUrl,
  sccFindingUrl,
  techniqueFor,
  virusTotalUrl,
} from '../src/core/evidence/links.ts';
import { gatherQueries } from '../src/core/evidence/queries.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import {
  clusterAuditQuery,
  nodeEvidenceQuery,
  nodeLogsQuery,
  nodeSerialConsoleQuery,
  podLogsQuery,
  type EvidenceQuery,
} from '../src/core/evidence/logging-filter.ts';
import { plan as makePlan } from '../src/core/plan/plan.ts';
import { parsePolicy, validatePolicy } from '../src/core/policy/policy.ts';
import { RateLimiter, loggingReadLimiter, quotaBackoffMs } from '../src/core/evidence/request-limits.ts';
import type { Target } from '../src/core/finding/target.ts';
import { createEvidenceGatherer } from '../src/pipeline/gather-evidence.ts';
import { encodeAuditLog } from './fakes/logging-grpc-server.ts';
import { FakeTime } from './support/fake-time.ts';
import { recordingLogReader } from './support/recording-log-reader.ts';
import { notificationV1 } from './support/fixtures.ts';

const NOW = new Date('2026-11-20T14:03:40Z');
const WINDOW = { start: '2026-11-20T13:33:27.512Z', end: '2026-11-20T14:18:27.512Z' };

/** Reads a filter the way the Logging query language does: string literals (escapes undone) and everything else. */
function tokenize(filter: string): { structure: string; literals: string[] } {
  let structure = '';
  const literals: string[] = [];
  for (let i = 0; i < filter.length; i++) {
    const ch = filter[i];
    if (ch !== '"') {
      structure += ch;
      continue;
    }
    let value = '';
    for (i++; i < filter.length && filter[i] !== '"'; i++) {
      if (filter[i] === '\\') {
        const next = filter[++i];
        if (next === 'u') {
          value += String.fromCharCode(parseInt(filter.slice(i + 1, i + 5), 16));
          i += 4;
        } else value += next;
      } else value += filter[i];
    }
    if (i >= filter.length) throw new Error('unterminated string: the filter structure is broken');
    literals.push(value);
    structure += '""';
  }
  return { structure, literals };
}

const HOSTILE = [
  'x" OR resource.type="gce_instance',
  'x\\" OR "',
  'a\\',
  'line\nbreak" OR "1"="1',
  'sep\u2028ara\u2029tor"',
  'nul\u0000del\u007f',
  ') OR (logName:"',
  'lone\ud800surrogate',
];

const target: Target = {
  project: 'example-shop-prod',
  location: 'us-central1',
  cluster: 'shop-prod-1',
  clusterName: 'projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1',
  namespace: 'payments',
  pod: 'checkout-7c9f8d6b5-q2w8x',
  container: 'checkout',
  image: null,
  imageId: null,
  node: 'gke-node-1',
  nodeResourceName: null,
  podLabels: {},
};

type Builder = (value: string) => EvidenceQuery;
const positions: Array<[string, Builder]> = [
  ['pod: project', (v) => podLogsQuery({ ...target, project: v, namespace: 'payments', pod: 'p' }, WINDOW)],
  ['pod: location', (v) => podLogsQuery({ ...target, location: v, namespace: 'payments', pod: 'p' }, WINDOW)],
  ['pod: cluster', (v) => podLogsQuery({ ...target, cluster: v, namespace: 'payments', pod: 'p' }, WINDOW)],
  ['pod: namespace', (v) => podLogsQuery({ ...target, namespace: v, pod: 'p' }, WINDOW)],
  ['pod: pod', (v) => podLogsQuery({ ...target, namespace: 'payments', pod: v }, WINDOW)],
  ['pod: container', (v) => podLogsQuery({ ...target, container: v, namespace: 'payments', pod: 'p' }, WINDOW)],
  ['audit: namespace', (v) => clusterAuditQuery({ ...target, namespace: v, pod: 'p' }, WINDOW)],
  ['audit: pod', (v) => clusterAuditQuery({ ...target, namespace: 'payments', pod: v }, WINDOW)],
  ['audit: project', (v) => clusterAuditQuery({ ...target, project: v, namespace: 'payments', pod: 'p' }, WINDOW)],
  ['node: node', (v) => nodeLogsQuery({ ...target, node: v }, WINDOW)],
  ['node+serial: node', (v) => nodeEvidenceQuery({ ...target, node: v }, '123', WINDOW)],
  ['node+serial: instance', (v) => nodeEvidenceQuery({ ...target, node: 'n' }, v, WINDOW)],
  ['serial: project', (v) => nodeSerialConsoleQuery(v, '123', WINDOW)],
  ['window start', (v) => podLogsQuery({ ...target, namespace: 'payments', pod: 'p' }, { start: v, end: WINDOW.end })],
];

describe('no finding value can widen a filter', () => {
  it.each(positions)('%s', (_name, build) => {
    const benign = tokenize(build('benign').filter);
    for (const value of HOSTILE) {
      const hostile = tokenize(build(value).filter);
      expect(hostile.structure).toBe(benign.structure);
      expect(hostile.literals.length).toBe(benign.literals.length);
      expect(hostile.literals).toContainEqual(expect.stringContaining(value.replace(/\\$/, '')));
      expect(build(value).filter).not.toMatch(/[\n\r\u2028\u2029\u0000]/);
    }
  });

  it('a hostile finding (one field changed) never reaches a filter unvalidated', () => {
    for (const field of ['Pod_Name', 'Pod_Namespace', 'Container_Name'] as const) {
      for (const value of HOSTILE) {
        const n = structuredClone(notificationV1());
        delete n.finding.kubernetes;
        delete n.finding.containers;
        n.finding.sourceProperties[field] = value;
        const p = makePlan(decodeInput(n), parsePolicy(''), NOW);
        const benign = makePlan(decodeInput(notificationV1()), parsePolicy(''), NOW);
        for (const q of p.evidence) {
          const same = benign.evidence.find((b) => b.kind === q.kind);
          expect(tokenize(q.filter).structure).toBe(tokenize(same?.filter ?? '').structure);
        }
        // The pod queries are dropped: the names are not valid Kubernetes names.
        expect(p.evidence.map((q) => q.kind)).toEqual(['node-logs']);
      }
    }
  });

  it('a hostile node instance id is not queried', () => {
    const p = makePlan(decodeInput(notificationV1()), parsePolicy(''), NOW);
    const out = gatherQueries(p, { nodeInstanceId: '1" OR "1"="1' });
    expect(out.queries.find((q) => q.kind === 'node-logs')?.filter).not.toContain('gce_instance');
    expect(out.notes).toEqual(['node instance id annotation is not a GCE instance id: serial console not queried']);
  });
});

describe('links', () => {
  const p = makePlan(decodeInput(notificationV1()), parsePolicy(''), NOW);

  it('a Logs Explorer URL carries exactly the filter and window', () => {
    for (const q of p.evidence) {
      const url = logsExplorerUrl(q) ?? '';
      const m = /^https:\/\/console\.cloud\.google\.com\/logs\/query;query=([^;?#]*);startTime=([^;?#]*);endTime=([^;?#]*)\?project=([^&#]*)$/.exec(url);
      expect(m).not.toBeNull();
      expect(decodeURIComponent(m?.[1] ?? '')).toBe(q.filter);
      expect([m?.[2], m?.[3], m?.[4]]).toEqual([q.window.start, q.window.end, 'example-shop-prod']);
      expect(m?.[1]).not.toMatch(/[()"'! ]/);
    }
    const audit = logsExplorerUrl(p.evidence.find((q) => q.kind === 'cluster-audit-logs') as EvidenceQuery);
    expect(audit).toContain('cloudaudit.googleapis.com%252Factivity');
    expect(encodeStrict(`a(b)c!'*;?#`)).toBe('a%28b%29c%21%27%2A%3B%3F%23');
  });

  it('SCC, VirusTotal and ATT&CK links', () => {
    expect(sccFindingUrl(p.finding.name)).toBe(
      'https://console.cloud.google.com/security/command-center/findingsv2;name=organizations%2F123456789012%2Fsources%2F11223344556677889900%2Ffindings%2F6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50?organizationId=123456789012',
    );
    expect(sccFindingUrl('organizations/1/sources/2/findings/x?y=1')).toBeNull();
    expect(virusTotalUrl(p.processes?.child?.sha256 ?? null)).toBe(
      'https://www.virustotal.com/gui/file/e3b98cb3ee2d1e4a0bd5b1a8e5d39c0f3a2c7d8e9f00112233445566778899aa',
    );
    expect(virusTotalUrl('../../evil')).toBeNull();
    expect(techniqueFor(['COMMAND_AND_SCRIPTING_INTERPRETER', 'UNIX_SHELL'])).toBe('T1059.004');
    expect(techniqueFor(undefined)).toBe('T1059.004');
    expect(mitreTechniqueUrl('T1059.004')).toBe('https://attack.mitre.org/techniques/T1059/004/');
    expect(mitreTechniqueUrl('T1059')).toBe('https://attack.mitre.org/techniques/T1059/');
  });
});

describe('excerpts, audit payloads and the bundle', () => {
  it('log lines are made single-line, stripped of bidi tricks and bounded', () => {
    expect(sanitizeLine('a\nb\r\u2028c\u202eevil\u0007')).toBe('a\\nb\\r\\u2028cevil\\u0007');
    expect(sanitizeLine('x'.repeat(1000), 50)).toHaveLength(50);
    const entry: LogEntryView = {
      timestamp: '2026-11-20T14:03:28.000Z',
      severity: 'INFO',
      logName: null,
      insertId: null,
      resourceType: null,
      textPayload: null,
      jsonPayload: { message: 'hi\nthere' },
      audit: null,
      protoType: null,
    };
    expect(formatEntryLine(entry)).toBe('2026-11-20T14:03:28.000Z INFO hi\\nthere');
  });

  it('reads the audit fields and refuses garbage', () => {
    const bytes = encodeAuditLog({ methodName: 'io.k8s.core.v1.pods.exec.create', resourceName: 'r', principalEmail: 'p@x', callerIp: '1.2.3.4' });
    expect(decodeAuditSummary(bytes)).toEqual({ serviceName: null, methodName: 'io.k8s.core.v1.pods.exec.create', resourceName: 'r', principalEmail: 'p@x', callerIp: '1.2.3.4' });
    expect(decodeAuditSummary(Uint8Array.from([0x42, 0xff, 0x01]))).toBeNull();
    expect(decodeAuditSummary(Uint8Array.from([0x47]))).toBeNull();
  });

  it('a bundle prefix never leaves incidents/', () => {
    const p = makePlan(decodeInput(notificationV1()), parsePolicy(''), NOW);
    expect(bundlePrefix(p)).toBe('incidents/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50/');
    expect(bundlePrefix({ finding: { ...p.finding, id: '..' } })).toMatch(/^incidents\/name-sha256-[0-9a-f]{32}\/$/);
  });

  it('env values are redacted unless the policy reveals them', () => {
    const out = redactEnvValues({ finding: { processes: [{ envVariables: [{ name: 'A', val: 's1' }, { name: 'PATH', val: '/bin' }] }] } }, ['PATH']);
    expect(out).toEqual({ finding: { processes: [{ envVariables: [{ name: 'A', val: '[redacted]' }, { name: 'PATH', val: '/bin' }] }] } });
  });
});

describe('Logging read quota', () => {
  it('the limiter lets no sliding 60 s window see more than 60 reads per project', () => {
    let t = 0;
    const limiter = loggingReadLimiter(() => t);
    const sent: number[] = [];
    // 600 callers arrive at once and are willing to wait up to 5 minutes.
    for (let i = 0; i < 600; i++) {
      const wait = limiter.reserve('projects/a', 300_000);
      if (wait !== null) sent.push(t + wait);
    }
    sent.sort((a, b) => a - b);
    for (let i = 0; i < sent.length; i++) {
      const inWindow = sent.filter((s) => s >= (sent[i] ?? 0) && s < (sent[i] ?? 0) + 60_000).length;
      expect(inWindow).toBeLessThanOrEqual(60);
    }
    expect(sent.length).toBeGreaterThan(200);
    // Another project has its own bucket.
    expect(limiter.reserve('projects/b', 0)).toBe(0);
    expect(() => new RateLimiter({ limit: 5, burst: 6, windowMs: 1000, now: () => 0 })).toThrow(RangeError);
  });

  it('backs off 1, 2, 4, 8 s within a 20 s budget, then reports quota', async () => {
    const time = new FakeTime(NOW);
    const calls: number[] = [];
    const reader: LogPageReader = {
      async listPage(_req: LogPageRequest) {
        calls.push(time.nowMs() - NOW.getTime());
        throw Object.assign(new Error('Quota exceeded'), { code: 8 });
      },
    };
    const policy = validatePolicy({ evidence: { quotaBudgetSeconds: 20 } });
    const gatherer = createEvidenceGatherer({ policy, log: { log() {} }, now: time.now, sleep: time.sleep, logging: reader });
    const p = makePlan(decodeInput(notificationV1()), policy, NOW);
    const report = await time.run(gatherer.gather({ ...p, evidence: p.evidence.slice(0, 1) }, {}));
    expect(calls).toEqual([0, 1000, 3000, 7000, 15000]);
    expect(report.queries.map((q) => q.incomplete)).toEqual(['quota']);
    expect(report.notes).toEqual(['evidence incomplete: quota (pod-logs)']);
    expect(quotaBackoffMs(10)).toBe(16_000);
  });

  it('a burst of 200 findings on 20 targets: ≤ 3 queries per target and ≤ 60 reads a minute per project', async () => {
    const time = new FakeTime(NOW);
    const { reader, sent } = recordingLogReader(time.nowMs);
    const policy = validatePolicy({ evidence: { quotaBudgetSeconds: 300 } });
    const gatherer = createEvidenceGatherer({ policy, log: { log() {} }, now: time.now, sleep: time.sleep, logging: reader, coalesceWindowMs: 600_000 });
    const plans = Array.from({ length: 200 }, (_, i) => {
      const n = structuredClone(notificationV1());
      n.finding.name = n.finding.name.replace(/[^/]+$/, `f${i}`);
      n.finding.kubernetes.pods[0].name = `checkout-${i % 20}`;
      return makePlan(decodeInput(n), policy, NOW);
    });
    const reports = await time.run(Promise.all(plans.map((p) => gatherer.gather(p, {}))));
    const perTarget = new Map<string, Set<string>>();
    for (const s of sent) {
      const pod = /pods?(?:_name="|\/)(checkout-\d+)/.exec(s.filter)?.[1] ?? 'node';
      perTarget.set(pod, (perTarget.get(pod) ?? new Set()).add(s.filter));
    }
    for (const [pod, filters] of perTarget) if (pod !== 'node') expect(filters.size).toBeLessThanOrEqual(3);
    expect(sent.length).toBe(20 * 2 + 1);
    sent.sort((a, b) => a.at - b.at);
    for (const s of sent) expect(sent.filter((o) => o.at >= s.at && o.at < s.at + 60_000).length).toBeLessThanOrEqual(60);
    expect(reports.every((r) => r.queries.every((q) => q.incomplete === null))).toBe(true);
  });
});
