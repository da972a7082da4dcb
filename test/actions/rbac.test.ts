// The ClusterRole in terraform/k8s/ grants exactly what the code declares.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { ACTIONS, requiredRbac } from '../../src/actions/run-plan.ts';
import { PREFLIGHT_RBAC, unionOfNeeds, type RbacNeed } from '../../src/actions/rbac.ts';
import { ACTION_ORDER } from '../../src/core/policy.ts';

function load(file: string) {
  const docs = parseAllDocuments(readFileSync(new URL(`../../terraform/k8s/${file}`, import.meta.url), 'utf8')).map(
    (d) => d.toJS() as Record<string, any>,
  );
  return { role: docs.find((d) => d.kind === 'ClusterRole')!, binding: docs.find((d) => d.kind === 'ClusterRoleBinding')! };
}
const { role, binding } = load('clusterrole.yaml');
const capture = load('clusterrole-capture.yaml');

function granted(r: Record<string, any> = role): RbacNeed[] {
  const needs: RbacNeed[] = [];
  for (const rule of r.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
    for (const apiGroup of rule.apiGroups) for (const resource of rule.resources) needs.push({ apiGroup, resource, verbs: rule.verbs });
  }
  return unionOfNeeds(needs);
}

describe('terraform/k8s/clusterrole.yaml', () => {
  it('grants exactly the union of the preflight and the default-capable actions, without exec', () => {
    const withoutCapture = unionOfNeeds([...PREFLIGHT_RBAC, ...Object.values(ACTIONS).filter((a) => a.type !== 'capture-process-list').flatMap((a) => a.rbac)]);
    expect(granted()).toEqual(withoutCapture);
    expect(granted().map((n) => n.resource)).not.toContain('pods/exec');
  });

  it('clusterrole-capture.yaml adds exactly what capture-process-list needs, and the two together are everything', () => {
    expect(granted(capture.role)).toEqual(unionOfNeeds(ACTIONS['capture-process-list'].rbac));
    expect(unionOfNeeds([...granted(), ...granted(capture.role)])).toEqual(requiredRbac());
    expect(capture.binding.roleRef.name).toBe(capture.role.metadata.name);
    expect(capture.binding.subjects).toEqual(binding.subjects);
  });

  it('covers every action type, each declaring at least one need', () => {
    expect(Object.keys(ACTIONS).sort()).toEqual([...ACTION_ORDER].sort());
    for (const action of Object.values(ACTIONS)) expect(action.rbac.length).toBeGreaterThan(0);
    expect(PREFLIGHT_RBAC.length).toBeGreaterThan(0);
  });

  it('has no wildcard, no secrets, no resourceNames loophole, no nonResourceURLs', () => {
    for (const rule of [...role.rules, ...capture.role.rules]) {
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
