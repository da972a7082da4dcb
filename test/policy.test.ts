import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { isProtectedNamespace, parsePolicy, PolicyError, validatePolicy } from '../src/core/policy.ts';

function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml, 'test.yaml');
  } catch (e) {
    if (e instanceof PolicyError) return e.problems;
    throw e;
  }
  throw new Error('expected the policy to be rejected');
}

describe('policy validation', () => {
  it('an empty policy means dry-run, no rules, built-in defaults', () => {
    const p = parsePolicy('');
    expect(p.dryRun).toBe(true);
    expect(p.rules).toEqual([]);
    expect(p.guards.replicaFloor).toBe(1);
    expect(p.actionSettings.deleteGracePeriodSeconds).toBe(30);
    expect(p.budget.perCluster).toEqual({ podRemovals: 3, cordons: 1 });
  });

  it('the bundled default and the example policy are valid', () => {
    for (const file of ['policy/default.yaml', 'examples/policy.yaml']) {
      expect(() => parsePolicy(readFileSync(file, 'utf8'), file)).not.toThrow();
    }
    expect(parsePolicy(readFileSync('policy/default.yaml', 'utf8')).dryRun).toBe(true);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an unknown action', 'rules: [{name: a, actions: [kill-pod]}]', /^rules\[0\]\.actions\[0\]: .*expected one of/],
    ['evict and delete together', 'rules: [{name: a, actions: [evict-pod, delete-pod]}]', /^rules\[0\]\.actions: choose evict-pod or delete-pod, not both/],
    ['an action twice', 'rules: [{name: a, actions: [label-pod, label-pod]}]', /^rules\[0\]\.actions\[1\]: label-pod is listed twice/],
    ['a bad glob', 'rules: [{name: a, actions: [], match: {clusters: ["prod-[x"]}}]', /^rules\[0\]\.match\.clusters\[0\]: bad pattern/],
    ['an empty glob', 'rules: [{name: a, actions: [], match: {namespaces: [""]}}]', /^rules\[0\]\.match\.namespaces\[0\]: empty pattern/],
    ['a glob with whitespace', 'protectedNamespaces: ["a b"]', /^protectedNamespaces\[0\]: pattern contains whitespace/],
    ['a typo in a match key', 'rules: [{name: a, actions: [], match: {namespace: [x]}}]', /^rules\[0\]\.match: unknown field\(s\) "namespace"/],
    ['a typo at the top', 'dryrun: false', /^\(top level\): unknown field\(s\) "dryrun"/],
    ['a string for a boolean', 'dryRun: "no"', /^dryRun: .*expected boolean/],
    ['an unknown severity', 'rules: [{name: a, actions: [], match: {severities: [SEVERE]}}]', /^rules\[0\]\.match\.severities\[0\]/],
    ['a duplicate rule name', 'rules: [{name: a, actions: []}, {name: a, actions: []}]', /^rules\[1\]\.name: rule name a is used twice/],
    ['a bad label key', 'rules: [{name: a, actions: [], match: {podLabels: {"bad key": x}}}]', /podLabels/],
    ['a zero grace period', 'actionSettings: {deleteGracePeriodSeconds: 0}', /^actionSettings\.deleteGracePeriodSeconds/],
    ['a bad cluster key', 'clusters: {"my-cluster": {kubeconfig: /k}}', /^clusters\.my-cluster: cluster keys are/],
    ['YAML that does not parse', 'rules: [', /^YAML: /],
    ['duplicate YAML keys', 'dryRun: true\ndryRun: false', /^YAML: .*[Mm]ap keys must be unique/],
  ];
  it.each(bad)('rejects %s, naming the field', (_name, yaml, message) => {
    expect(problems(yaml)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('PolicyError names the source', () => {
    expect(() => parsePolicy('dryRun: 3', 'my-policy.yaml')).toThrow(/invalid policy my-policy.yaml: dryRun/);
  });

  it('validatePolicy takes an object too', () => {
    expect(validatePolicy({ rules: [{ name: 'r', actions: ['label-pod'] }] }).rules[0]?.match).toEqual({});
  });
});

describe('protected namespaces', () => {
  const policy = parsePolicy('protectedNamespaces: [monitoring, "team-*"]');
  it.each(['kube-system', 'kube-public', 'kube-node-lease', 'gke-managed-system', 'gmp-system', 'istio-system', 'scc-responder', 'monitoring', 'team-a'])(
    '%s is protected',
    (ns) => expect(isProtectedNamespace(policy, ns)).toBe(true),
  );
  it.each(['payments', 'default', 'kube-systemx', 'my-gke-app'])('%s is not', (ns) => expect(isProtectedNamespace(policy, ns)).toBe(false));
  it('the built-in list applies even when the policy lists none', () => {
    expect(isProtectedNamespace(parsePolicy(''), 'kube-system')).toBe(true);
  });
});
