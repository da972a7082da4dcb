// Findings on one target during a burst each have their own event time, so
// their own window: the gatherer shares one read per target and query kind
// (the filter without its window) while that read is live and holds the
// finding's event time, and each finding keeps only the entries in its window.
import { describe, expect, it } from '@jest/globals';
import type { LogPageReader, LogPageRequest } from '../src/core/ports.ts';
import type { LogEntryView } from '../src/core/evidence/excerpts.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { plan as makePlan } from '../src/core/plan/plan.ts';
import { validatePolicy } from '../src/core/policy/policy.ts';
import { createEvidenceGatherer } from '../src/pipeline/gather-evidence.ts';
import { FakeTime } from './support/fake-time.ts';
import { recordingLogReader } from './support/recording-log-reader.ts';
import { notificationV1 } from './support/fixtures.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const EVENT = Date.parse('2026-11-20T14:03:27.512Z');

function entry(iso: string): LogEntryView {
  return { timestamp: iso, severity: 'INFO', logName: null, insertId: iso, resourceType: 'k8s_container', textPayload: `at ${iso}`, jsonPayload: null, audit: null, protoType: null };
}

function findingPlan(policy: ReturnType<typeof validatePolicy>, i: number, pod: string, eventMs: number) {
  const n = notificationV1();
  n.finding.name = n.finding.name.replace(/[^/]+$/, `f${i}`);
  n.finding.eventTime = new Date(eventMs).toISOString();
  n.finding.kubernetes.pods[0].name = pod;
  return makePlan(decodeInput(n), policy, NOW);
}

describe('evidence reads during a burst with varied event times', () => {
  it('200 findings on 20 pods, event times spread over 5 minutes: ≤ 3 reads per pod, ≤ 60 a minute', async () => {
    const time = new FakeTime(NOW);
    const { reader, sent } = recordingLogReader(time.nowMs);
    const policy = validatePolicy({ evidence: { quotaBudgetSeconds: 300 } });
    const gatherer = createEvidenceGatherer({ policy, log: { log() {} }, now: time.now, sleep: time.sleep, logging: reader });
    const plans = Array.from({ length: 200 }, (_, i) => findingPlan(policy, i, `checkout-${i % 20}`, EVENT + i * 1500));
    expect(new Set(plans.map((p) => p.evidence[0]!.filter)).size).toBe(200); // every window differs
    const reports = await time.run(Promise.all(plans.map((p) => gatherer.gather(p, {}))));
    const perPod = new Map<string, number>();
    for (const s of sent) {
      const pod = /pods?(?:_name="|\/)(checkout-\d+)/.exec(s.filter)?.[1] ?? 'node';
      perPod.set(pod, (perPod.get(pod) ?? 0) + 1);
    }
    for (const [pod, n] of perPod) expect({ pod, n: n <= (pod === 'node' ? 1 : 2) }).toEqual({ pod, n: true });
    expect(sent).toHaveLength(20 * 2 + 1);
    for (const s of sent) expect(sent.filter((o) => o.at >= s.at && o.at < s.at + 60_000).length).toBeLessThanOrEqual(60);
    expect(reports.every((r) => r.queries.every((q) => q.incomplete === null))).toBe(true);
  });

  it('a shared read keeps only the entries inside the later finding’s own window; a distant event reads again', async () => {
    const seen: string[] = [];
    const reader: LogPageReader = {
      async listPage(req) {
        seen.push(req.filter);
        // Entries around the first finding's window start and around the second's end.
        return { entries: [entry('2026-11-20T13:34:00.000Z'), entry('2026-11-20T14:10:00.000Z')], nextPageToken: null };
      },
    };
    const policy = validatePolicy({ evidence: { windowBeforeMinutes: 30, windowAfterMinutes: 15 } });
    const gatherer = createEvidenceGatherer({ policy, log: { log() {} }, now: () => NOW, logging: reader });
    const first = await gatherer.gather(findingPlan(policy, 1, 'checkout-1', EVENT), {});
    // 2 minutes later: shares the read; 13:34 is before its window (13:35:27) and is dropped.
    const second = await gatherer.gather(findingPlan(policy, 2, 'checkout-1', EVENT + 120_000), {});
    expect(seen).toHaveLength(3);
    expect(first.queries[0]!.count).toBe(2);
    expect(second.queries[0]!.count).toBe(1);
    expect(second.queries[0]!.filter).not.toBe(first.queries[0]!.filter); // its own window, for the link
    // An hour later the earlier read's window does not hold the event: a new read.
    await gatherer.gather(findingPlan(policy, 3, 'checkout-1', EVENT + 3_600_000), {});
    expect(seen).toHaveLength(6);
  });
});
