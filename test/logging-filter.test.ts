import { describe, expect, it } from '@jest/globals';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { nodeSerialConsoleQuery, quoteFilterValue } from '../src/core/evidence/logging-filter.ts';
import { plan } from '../src/core/plan/plan.ts';
import { parsePolicy } from '../src/core/policy/policy.ts';
import { notificationV1 } from './support/fixtures.ts';

/** Splits a filter into its string literals, undoing the escapes: what Logging would see as values. */
function literals(filter: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  for (const m of filter.matchAll(re)) out.push(JSON.parse(`"${m[1]}"`));
  return out;
}
/** The filter with every literal blanked: its structure, which a value must never change. */
const structure = (filter: string) => filter.replace(/"((?:[^"\\]|\\.)*)"/g, '""');

describe('Logging filter values are always quoted and escaped', () => {
  it.each([
    ['plain', 'payments'],
    ['a quote', 'a" OR "b'],
    ['a backslash before a quote', 'a\\" OR logName:"x'],
    ['newline and CR', 'a\nOR\r"b'],
    ['unicode line separators', 'a\u2028b\u2029c'],
    ['NUL and DEL', 'a\u0000b\u007f'],
  ])('%s round-trips as one literal', (_name, value) => {
    const quoted = quoteFilterValue(value);
    expect(literals(quoted)).toEqual([value]);
    expect(structure(quoted)).toBe('""');
    expect(quoted).not.toMatch(/[\n\r\u2028\u2029\u0000]/);
  });

  it('the fixture gives the seed playbook filters, exactly', () => {
    const p = plan(decodeInput(notificationV1()), parsePolicy(''), new Date('2026-11-20T14:05:00Z'));
    const byKind = Object.fromEntries(p.evidence.map((e) => [e.kind, e]));
    expect(byKind['pod-logs']?.filter).toBe(
      'resource.type="k8s_container" AND resource.labels.project_id="example-shop-prod" AND resource.labels.location="us-central1" AND resource.labels.cluster_name="shop-prod-1" AND resource.labels.namespace_name="payments" AND resource.labels.pod_name="checkout-7c9f8d6b5-q2w8x" AND resource.labels.container_name="checkout" AND timestamp>="2026-11-20T13:33:27.512Z" AND timestamp<="2026-11-20T14:18:27.512Z"',
    );
    expect(byKind['cluster-audit-logs']?.filter).toContain('logName="projects/example-shop-prod/logs/cloudaudit.googleapis.com%2Factivity" AND resource.type="k8s_cluster"');
    expect(byKind['cluster-audit-logs']?.filter).toContain('"core/v1/namespaces/payments/pods/checkout-7c9f8d6b5-q2w8x/exec"');
    expect(p.evidence.every((e) => e.resourceNames.length === 1 && e.resourceNames[0] === 'projects/example-shop-prod')).toBe(true);
  });

  it('the serial console query keeps %2F literal and quotes the instance id', () => {
    const q = nodeSerialConsoleQuery('example-shop-prod', '4455667788990011223', { start: 'a', end: 'b' });
    expect(q.filter).toBe(
      'resource.type="gce_instance" AND resource.labels.instance_id="4455667788990011223" AND logName="projects/example-shop-prod/logs/serialconsole.googleapis.com%2Fserial_port_1_output" AND timestamp>="a" AND timestamp<="b"',
    );
  });

  it('a hostile container name cannot widen the pod-logs filter', () => {
    // container names are not required for pod actions to be planned when valid; a hostile one blocks them.
    const n = structuredClone(notificationV1());
    n.finding.containers[0].name = 'x" OR resource.type="gce_instance';
    const p = plan(decodeInput(n), parsePolicy(''), new Date('2026-11-20T14:05:00Z'));
    for (const q of p.evidence) {
      expect(structure(q.filter)).not.toContain(' OR resource.type');
    }
  });
});
