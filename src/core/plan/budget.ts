// Blast-radius budget: how many destructive actions one cluster (and one
// namespace) may take in a sliding window. An attacker or a bug that produces
// 200 findings must not make the responder delete 200 pods. Pure: the store
// (Firestore, in a transaction) hands in the entries it read and writes back
// the entries this returns.
import type { Plan } from './plan.ts';
import type { ActionType } from '../policy/policy.ts';
import type { BudgetDecision, BudgetLimits } from '../ports.ts';

export type BudgetKind = 'pod-removal' | 'cordon';

const KIND: Partial<Record<ActionType, BudgetKind>> = {
  'evict-pod': 'pod-removal',
  'delete-pod': 'pod-removal',
  'cordon-node': 'cordon',
};

/** One reservation, as stored. `at` is epoch milliseconds. */
export interface BudgetEntry {
  key: string;
  action: ActionType;
  namespace: string | null;
  at: number;
}

export function budgetKind(action: ActionType): BudgetKind | undefined {
  return KIND[action];
}

/** The actions of a plan that draw on the budget. Dry-run draws nothing. */
export function budgetedActions(plan: Plan): ActionType[] {
  if (plan.dryRun) return [];
  return plan.actions.map((a) => a.type).filter((t) => KIND[t] !== undefined);
}

export interface BudgetEvaluation extends BudgetDecision {
  /** Entries to store: the still-live ones plus the new reservations. */
  entries: BudgetEntry[];
}

/**
 * Decides which of `actions` fit the budget. Reservations already held by the
 * same key are granted again (a retry must not be refused by its own earlier
 * reservation); entries older than the window are dropped.
 */
export function evaluateBudget(
  stored: BudgetEntry[],
  request: { key: string; cluster: string; namespace: string | null; actions: ActionType[]; limits: BudgetLimits; now: Date },
): BudgetEvaluation {
  const { limits } = request;
  const since = request.now.getTime() - limits.windowMinutes * 60_000;
  const entries = stored.filter((e) => e.at > since);
  const granted: ActionType[] = [];
  const denied = new Map<ActionType, string>();
  const window = `${limits.windowMinutes} min`;
  for (const action of request.actions) {
    const kind = KIND[action];
    if (kind === undefined) continue;
    if (entries.some((e) => e.key === request.key && e.action === action)) {
      granted.push(action);
      continue;
    }
    const sameKind = entries.filter((e) => KIND[e.action] === kind);
    if (kind === 'cordon') {
      if (sameKind.length >= limits.perCluster.cordons) {
        denied.set(
          action,
          `budget: cluster ${request.cluster} already had ${sameKind.length} cordon(s) in the last ${window} (limit ${limits.perCluster.cordons})`,
        );
        continue;
      }
    } else {
      if (sameKind.length >= limits.perCluster.podRemovals) {
        denied.set(
          action,
          `budget: cluster ${request.cluster} already had ${sameKind.length} pod removal(s) in the last ${window} (limit ${limits.perCluster.podRemovals})`,
        );
        continue;
      }
      const inNamespace = sameKind.filter((e) => e.namespace === request.namespace);
      if (inNamespace.length >= limits.perNamespace.podRemovals) {
        denied.set(
          action,
          `budget: namespace ${request.namespace ?? '(none)'} in cluster ${request.cluster} already had ${inNamespace.length} pod removal(s) in the last ${window} (limit ${limits.perNamespace.podRemovals})`,
        );
        continue;
      }
    }
    entries.push({ key: request.key, action, namespace: request.namespace, at: request.now.getTime() });
    granted.push(action);
  }
  return { granted, denied, entries };
}
