// Shared set-up for the cluster-action tests: a fresh fake API server per
// test, a policy that maps the fixture's cluster to the fake's kubeconfig, the
// real client-node behind ClusterAccess, and the plan from notification-v1.
import { afterEach } from '@jest/globals';
import { createClusterResponder } from '../../src/actions/cluster-responder.ts';
import { createClusterAccess } from '../../src/adapters/gke-cluster-access.ts';
import { decodeInput } from '../../src/core/finding/envelope.ts';
import { plan as makePlan, type Plan } from '../../src/core/plan/plan.ts';
import { validatePolicy, type ActionType, type Policy } from '../../src/core/policy/policy.ts';
import type { ContainmentResult, StepLogger } from '../../src/core/ports.ts';
import { startFakeKubeApi, type FakeKubeApi, type FakeKubeSeed } from '../fakes/kube-api-server.ts';
import { notificationV1 } from '../support/fixtures.ts';
import { CLUSTER, seed as defaultSeed } from '../support/kube-seed.ts';

export const NOW = new Date('2026-11-20T14:05:00Z');

export interface Harness {
  fake: FakeKubeApi;
  policy: Policy;
  plan: Plan;
  lines: { severity: string; step: string; message: string }[];
  contain(overrides?: { plan?: Plan; deniedByBudget?: Map<ActionType, string> }): Promise<ContainmentResult>;
}

export async function harness(options: {
  actions: ActionType[];
  policy?: Record<string, unknown>;
  seed?: (seed: FakeKubeSeed) => void;
  notification?: (n: Record<string, any>) => void;
  dryRun?: boolean;
  enforcement?: 'enforced' | 'not-enforced' | 'unknown';
}): Promise<Harness> {
  const seed = defaultSeed();
  options.seed?.(seed);
  const fake = await startFakeKubeApi({ seed });
  const policy = validatePolicy({
    dryRun: options.dryRun ?? false,
    rules: [{ name: 'contain', actions: options.actions }],
    clusters: { [CLUSTER]: { kubeconfig: fake.kubeconfigPath, context: 'fake', networkPolicyEnforcement: options.enforcement ?? 'enforced' } },
    ...options.policy,
  });
  const lines: Harness['lines'] = [];
  const log: StepLogger = { log: (severity, step, message) => void lines.push({ severity, step, message }) };
  const responder = createClusterResponder({ policy, log, access: createClusterAccess({ policy }), now: () => NOW });
  const notification = notificationV1();
  options.notification?.(notification);
  const plan = makePlan(decodeInput(notification), policy, NOW);
  return {
    fake,
    policy,
    plan,
    lines,
    contain: (overrides = {}) =>
      responder.contain({ plan: overrides.plan ?? plan, deniedByBudget: overrides.deniedByBudget ?? new Map() }),
  };
}

/** A `setup` for a test file: each harness it opens has its fake API server closed after the test. */
export function harnessPerTest(): (...args: Parameters<typeof harness>) => Promise<Harness> {
  let open: FakeKubeApi[] = [];
  afterEach(async () => {
    await Promise.all(open.map((f) => f.close()));
    open = [];
  });
  return async (...args) => {
    const h = await harness(...args);
    open.push(h.fake);
    return h;
  };
}

export function statuses(result: ContainmentResult): Record<string, string> {
  return Object.fromEntries(result.outcomes.map((o) => [o.type, o.status]));
}
