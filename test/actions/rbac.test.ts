// The ClusterRole in terraform/k8s/ grants exactly what the code declares.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { ACTIONS, requiredRbac } from '../../src/actions/run-plan.ts';
import { PREFLIGHT_RBAC, unionOfNeeds, type RbacNeed } from '../../src/actions/rbac.ts';
import { ACTION_ORDER } from '../../src/core/policy.ts';

const text = readFileSync(new URL('../../terraform/k8s/clusterrole.yaml', import.meta.url), 'utf8');
const docs = parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>);
const role = docs.find((d) => d.kind === 'ClusterRole')!;
const binding = docs.find((d) => d.kind === 'ClusterRoleBinding')!;

function granted(): RbacNeed[] {
  const needs: RbacNeed[] = [];
  for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
    for (const apiGroup of rule.apiGroups) for (const resource of rule.resources) needs.push({ apiGroup, resource, verbs: rule.verbs });
  }
  return unionOfNeeds(needs);
}

describe('terraform/k8s/clusterrole.yaml', () => {
  it('grants exactly the union of the actions and preflight needs', () => {
    expect(granted()).toEqual(requiredRbac());
  });

  it('covers every action type, each declaring at least one need', () => {
    expect(Object.keys(ACTIONS).sort()).toEqual([...ACTION_ORDER].sort());
    for (const action of Object.values(ACTIONS)) expect(action.rbac.length).toBeGreaterThan(0);
    expect(PREFLIGHT_RBAC.length).toBeGreaterThan(0);
  });

  it('has no wildcard, no secrets, no resourceNames loophole, no nonResourceURLs', () => {
    for (const rule of role.rules) {
      for (const v of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) expect(v).not.toContain('*');
      expect(rule.resources).not.toContain('secrets');
      expect(rule.nonResourceURLs).toBeUndefined();
      expect(rule.verbs).not.toEqual(expect.arrayContaining(['escalate']));
    }
  });

  it('binds the role to the function service account as a Kubernetes User (substituted at apply time)', () => {
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: '${service_account_email}' }]);
  });
});
