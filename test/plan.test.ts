import { describe, expect, it } from '@jest/globals';
import { decodeInput } from '../src/core/envelope.ts';
import { plan, ruleMatches } from '../src/core/plan.ts';
import { parsePolicy } from '../src/core/policy.ts';
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
