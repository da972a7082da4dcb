// The cluster permissions Terraform grants come from one data file,
// terraform/modules/cluster-permissions/permissions.json, which
// scripts/permissions.ts generates from the RBAC needs declared next to the
// code. This checks the committed file against the code and the declarations
// themselves; test/terraform.test.ts evaluates the module that turns the file
// into the IAM role and the ClusterRoles.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ACTIONS, requiredRbac } from '../../src/actions/run-plan.ts';
import { unionOfNeeds } from '../../src/actions/rbac.ts';
import { PREFLIGHT_RBAC } from '../../src/actions/preflight.ts';
import { RELEASE_RBAC } from '../../src/actions/release.ts';
import { ACTION_ORDER } from '../../src/core/policy/policy.ts';
import { PERMISSIONS_FILE, describePermissions, iamPermissionsFor, renderPermissions, type PermissionsDocument } from '../../scripts/permissions.ts';

const committed = readFileSync(PERMISSIONS_FILE, 'utf8');
const data = JSON.parse(committed) as PermissionsDocument;

describe('terraform/modules/cluster-permissions/permissions.json', () => {
  it('is what scripts/permissions.ts makes of the current declarations (run `npx node scripts/permissions.ts` after changing one)', () => {
    expect(committed).toBe(renderPermissions());
  });

  it('holds, per action and for the preflight, exactly the declared RBAC needs and their IAM permissions', () => {
    expect(Object.keys(data.actions)).toEqual([...ACTION_ORDER]);
    for (const type of ACTION_ORDER) {
      expect(data.actions[type]!.rbac).toEqual(unionOfNeeds(ACTIONS[type].rbac));
      expect(data.actions[type]!.iam).toEqual(iamPermissionsFor(ACTIONS[type].rbac));
    }
    expect(data.preflight.rbac).toEqual(unionOfNeeds(PREFLIGHT_RBAC));
    expect(data.connect.iam).toEqual(['container.clusters.get']);
    // Everything the responder can use in a cluster is in the file, nothing else.
    expect(unionOfNeeds([data.preflight, ...Object.values(data.actions)].flatMap((g) => g.rbac))).toEqual(requiredRbac());
  });

  it('puts exec in a role of its own: only the actions that exec are marked, and only they need pods/exec', () => {
    for (const [type, grant] of Object.entries(data.actions)) {
      expect({ type, separate: grant.separate_role }).toEqual({ type, separate: grant.rbac.some((n) => n.resource === 'pods/exec') });
    }
    expect(Object.entries(data.actions).filter(([, g]) => g.separate_role).map(([t]) => t)).toEqual(['capture-process-list']);
    expect(data.preflight.rbac.map((n) => n.resource)).not.toContain('pods/exec');
  });

  it('holds release in a grant of its own, exactly what src/actions/release.ts declares (never exec, never pod delete)', () => {
    expect(data.release.rbac).toEqual(unionOfNeeds(RELEASE_RBAC));
    expect(data.release.rbac.map((n) => n.resource)).not.toContain('pods/exec');
    expect(data.release.rbac.find((n) => n.resource === 'pods')!.verbs).not.toContain('delete');
  });
});

describe('npx node scripts/permissions.ts --print [ACTION]', () => {
  it('shows one action\'s Kubernetes and IAM permissions and the reads every deployment gets, and writes nothing', () => {
    const out = execFileSync(process.execPath, ['scripts/permissions.ts', '--print', 'isolate-pod'], { encoding: 'utf8' });
    expect(out).toBe(describePermissions('isolate-pod'));
    const [isolate, always] = out.split('every deployment');
    for (const need of unionOfNeeds(ACTIONS['isolate-pod'].rbac)) {
      expect(isolate).toContain(`  kubernetes  ${need.apiGroup || 'core'}/${need.resource}: ${need.verbs.join(', ')}\n`);
    }
    for (const permission of iamPermissionsFor(ACTIONS['isolate-pod'].rbac)) expect(isolate).toContain(`  iam         ${permission}\n`);
    expect(isolate).not.toContain('cordon');
    expect(always).toContain('core/namespaces: get');
    expect(readFileSync(PERMISSIONS_FILE, 'utf8')).toBe(committed);
  });

  it('lists every action without a name, and refuses an unknown one', () => {
    const all = describePermissions();
    for (const type of ACTION_ORDER) expect(all).toMatch(new RegExp(`^${type}`, 'm'));
    expect(() => describePermissions('drop-table')).toThrow(/unknown action drop-table/);
  });
});

describe('the RBAC declarations in src/actions/', () => {
  it('cover every action type, each declaring at least one need', () => {
    expect(Object.keys(ACTIONS).sort()).toEqual([...ACTION_ORDER].sort());
    for (const action of Object.values(ACTIONS)) expect(action.rbac.length).toBeGreaterThan(0);
    expect(PREFLIGHT_RBAC.length).toBeGreaterThan(0);
  });

  it('have no wildcard, no secrets or configmaps, no escalation verbs', () => {
    for (const need of requiredRbac()) {
      for (const v of [need.apiGroup, need.resource, ...need.verbs]) expect(v).not.toContain('*');
      expect(['secrets', 'configmaps', 'serviceaccounts/token']).not.toContain(need.resource);
      for (const verb of ['escalate', 'bind', 'impersonate']) expect(need.verbs).not.toContain(verb);
    }
  });

  it('map to IAM permissions GKE knows (an unknown resource or verb fails generation rather than being guessed)', () => {
    expect(() => iamPermissionsFor(requiredRbac())).not.toThrow();
    for (const permission of iamPermissionsFor(requiredRbac())) expect(permission).toMatch(/^container\.[a-zA-Z]+\.[a-zA-Z]+$/);
  });
});
