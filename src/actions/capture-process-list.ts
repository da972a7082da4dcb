// capture-process-list (off unless a rule lists it): runs `ps axjf` in the
// finding's container through the exec subresource. Caveats, on purpose:
//   - it runs INSIDE the attacker's container, with whatever `ps` binary is
//     there (which the attacker may have replaced), and
//   - an exec is itself a new process in the container: Container Threat
//     Detection may raise a new finding for it.
// The command is an argv (no shell, nothing interpolated), the session has a
// timeout (actionSettings.captureTimeoutSeconds), and its failure never blocks
// containment. The output is returned in the outcome's details, bounded and
// with credentials redacted at source: `ps` shows every process's full command
// line, and outcomes go to the ledger, the summary and every sink.
import type { AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { AUDIT_EVENTS_RBAC } from './audit-events.ts';
import { podRef } from './action.ts';
import { describeKubeError } from './errors.ts';
import { KubeApiError } from './kube-api.ts';
import type { Policy } from '../core/policy/policy.ts';
import { redactText } from '../core/summary/redact.ts';
import { truncate } from '../core/summary/summary.ts';

export const CAPTURE_COMMAND = ['ps', 'axjf'] as const;
const MAX_OUTPUT_CHARS = 16_000;

/** Redacted, then cut: redaction sees more than is kept, so a secret at the cut is recognised whole. */
function redactedOutput(text: string, max: number, rules: Policy['redaction']): string {
  return truncate(redactText(text.slice(0, max * 2), rules), max + 1);
}

function containerName(ctx: Parameters<ClusterAction['apply']>[0]): string | null {
  return ctx.plan.target?.container ?? ctx.pod?.spec?.containers?.[0]?.name ?? null;
}

export const captureProcessList: ClusterAction = {
  type: 'capture-process-list',
  // GET on the WebSocket upgrade used to need `get`; clusters from 1.30/1.31 check `create`: both are needed across versions.
  rbac: [...AUDIT_EVENTS_RBAC, { apiGroup: '', resource: 'pods/exec', verbs: ['create', 'get'] }],
  removesPod: false,
  podScoped: true,

  async inspect(ctx): Promise<Inspection> {
    const container = containerName(ctx);
    return {
      already: null,
      intent: `would run ${CAPTURE_COMMAND.join(' ')} in container ${container} of pod ${podRef(ctx.pod!)} (inside the attacker's container; may raise a new finding)`,
      checks: [`container ${container}`],
    };
  },

  async apply(ctx): Promise<AppliedOutcome> {
    const pod = ctx.pod!;
    const container = containerName(ctx);
    if (container === null) return { status: 'skipped', reason: 'no container to run in' };
    const timeoutMs = ctx.policy.actionSettings.captureTimeoutSeconds * 1000;
    try {
      const result = await ctx.kube.exec(pod.metadata.namespace!, pod.metadata.name!, container, [...CAPTURE_COMMAND], timeoutMs);
      const ok = result.status?.status === 'Success';
      const rules = ctx.policy.redaction;
      const output = redactedOutput(result.stdout, MAX_OUTPUT_CHARS, rules);
      if (!ok) {
        return {
          status: 'failed',
          reason: `${CAPTURE_COMMAND.join(' ')} failed: ${redactText(result.status?.message ?? 'no status from the API server', rules)}`,
          details: { stderr: redactedOutput(result.stderr, 2000, rules), processList: output },
        };
      }
      return { status: 'done', reason: `captured the process list of ${podRef(pod)}/${container}`, details: { processList: output } };
    } catch (error) {
      // Evidence capture never makes Pub/Sub retry the whole containment.
      if (error instanceof KubeApiError) return { status: 'failed', reason: `exec: ${describeKubeError(error)}` };
      throw error;
    }
  },
};
