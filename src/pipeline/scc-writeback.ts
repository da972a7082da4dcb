// Carries out the SCC write-back that core/scc/write-back.ts decides: the marks,
// then (when allowed) the INACTIVE state. It runs after containment and before the
// summary is delivered, so the summary says how it went; it never throws and never
// waits past policy.scc.timeoutSeconds, so it can cost neither the containment nor
// the summary.
import { errorText, PermanentError } from '../core/errors.ts';
import type { Policy } from '../core/policy/policy.ts';
import type { StepLogger } from '../core/ports.ts';
import { planSccWriteBack, type SccWriteBackInput, type SccWriter } from '../core/scc/write-back.ts';
import type { SummaryScc } from '../core/summary/document.ts';
import { withDeadline } from './ledger-session.ts';

export interface SccWriteBackDeps {
  /** null: SCC_WRITEBACK is off (the summary's `scc` is then null). */
  writer: SccWriter | null;
  policy: Policy;
  log: StepLogger;
  /** The pause before the one retry of a transient failure; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Epoch ms, for the deadline; default Date.now. */
  clock?: () => number;
}

/** One retry of a transient failure, after this pause, if the deadline leaves room for it. */
export const SCC_RETRY_PAUSE_MS = 200;
const MIN_CALL_MS = 250;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/**
 * Writes the marks, then sets the finding INACTIVE when core/scc/write-back.ts allows it.
 * The state is changed only after the marks were written: an INACTIVE finding with no
 * mark would leave the analyst no trace of who closed it or why. Returns null when the
 * write-back is not configured (no writer).
 */
export async function writeBackToScc(input: SccWriteBackInput, deps: SccWriteBackDeps): Promise<SummaryScc | null> {
  if (deps.writer === null) return null;
  const writer = deps.writer;
  const clock = deps.clock ?? Date.now;
  const budgetMs = deps.policy.scc.timeoutSeconds * 1000;
  const window: CallWindow = { deadline: clock() + budgetMs, budgetMs, clock, sleep: deps.sleep ?? defaultSleep };
  const ids = { key: input.key.id };
  const result: SummaryScc = {
    marks: { status: 'skipped', values: {}, reason: '' },
    state: { status: 'unchanged', reason: '' },
  };
  try {
    const plan = planSccWriteBack(input, deps.policy.scc);
    const findingName = plan.findingName;
    const fields = { ...ids, finding: findingName };

    if (plan.marks.kind === 'skip') {
      result.marks = { status: 'skipped', values: {}, reason: plan.marks.reason };
      // A refused name is worth a look (the message named something odd); scc.marks off is a choice.
      deps.log.log(findingName === null ? 'WARNING' : 'INFO', 'scc:marks', `SCC marks not written: ${plan.marks.reason}`, { ...fields, status: 'skipped', reason: plan.marks.reason });
    } else {
      const { marks, updateMask } = plan.marks;
      const started = clock();
      const outcome = await callWithinDeadline('SCC marks', (timeoutMs) => writer.updateMarks({ findingName: findingName!, marks, updateMask, timeoutMs }), window);
      const durationMs = clock() - started;
      if (outcome.ok) {
        result.marks = { status: 'written', values: marks, reason: `written under update mask ${updateMask.join(',')}` };
        deps.log.log('INFO', 'scc:marks', 'SCC marks written', { ...fields, status: 'written', marks, updateMask, attempts: outcome.attempts, durationMs });
      } else {
        result.marks = { status: 'failed', values: marks, reason: outcome.reason };
        deps.log.log('ERROR', 'scc:marks', `SCC marks not written: ${outcome.reason}`, {
          ...fields,
          status: 'failed',
          reason: outcome.reason,
          updateMask,
          attempts: outcome.attempts,
          durationMs,
        });
      }
    }

    if (plan.state.kind === 'unchanged') {
      result.state = { status: 'unchanged', reason: plan.state.reason };
      deps.log.log('INFO', 'scc:state', `SCC finding state unchanged: ${plan.state.reason}`, { ...fields, status: 'unchanged', reason: plan.state.reason });
    } else if (result.marks.status !== 'written') {
      const reason = `the marks were not written (${result.marks.reason}): the state is changed only after marks that say why`;
      result.state = { status: 'unchanged', reason };
      deps.log.log('WARNING', 'scc:state', `SCC finding state unchanged: ${reason}`, { ...fields, status: 'unchanged', reason });
    } else {
      const started = clock();
      const outcome = await callWithinDeadline('SCC state', (timeoutMs) => writer.setInactive({ findingName: findingName!, timeoutMs }), window);
      const detail = { ...fields, attempts: outcome.attempts, durationMs: clock() - started };
      if (outcome.ok) {
        result.state = { status: 'set-inactive', reason: plan.state.reason };
        deps.log.log('NOTICE', 'scc:state', 'SCC finding set INACTIVE', { ...detail, status: 'set-inactive', reason: plan.state.reason });
      } else {
        result.state = { status: 'failed', reason: outcome.reason };
        deps.log.log('ERROR', 'scc:state', `SCC finding state not changed: ${outcome.reason}`, { ...detail, status: 'failed', reason: outcome.reason });
      }
    }
    return result;
  } catch (error) {
    // Only a defect gets here (the calls' failures are results); it must not cost the summary either.
    const reason = `write-back error: ${errorText(error)}`;
    if (result.marks.status === 'skipped' && result.marks.reason === '') result.marks = { status: 'failed', values: {}, reason };
    if (result.state.reason === '') result.state = { status: 'failed', reason };
    deps.log.log('ERROR', 'scc:state', `SCC write-back stopped: ${reason}`, { ...ids, status: 'failed', reason });
    return result;
  }
}

interface CallWindow {
  /** Epoch ms by which both calls must have answered. */
  deadline: number;
  budgetMs: number;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
}

type Attempted = { ok: true; attempts: number } | { ok: false; attempts: number; reason: string };

/** One call within what is left of the window, retried once after a transient failure if room is left; never throws. */
async function callWithinDeadline(what: string, call: (timeoutMs: number) => Promise<void>, w: CallWindow): Promise<Attempted> {
  let attempts = 0;
  let reason = `not attempted: the write-back's ${w.budgetMs} ms (scc.timeoutSeconds) were used up`;
  for (;;) {
    const remaining = w.deadline - w.clock();
    if (remaining <= 0) return { ok: false, attempts, reason };
    attempts++;
    try {
      // The call gets the same bound (gRPC deadline), so it does not run on after withDeadline gave up.
      await withDeadline(what, remaining, () => call(remaining));
      return { ok: true, attempts };
    } catch (error) {
      reason = errorText(error);
      const retry = !(error instanceof PermanentError) && attempts === 1 && w.deadline - w.clock() >= SCC_RETRY_PAUSE_MS + MIN_CALL_MS;
      if (!retry) return { ok: false, attempts, reason };
      await w.sleep(SCC_RETRY_PAUSE_MS);
    }
  }
}
