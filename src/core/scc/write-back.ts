// What the responder writes back to the SCC finding, decided purely from the
// response: security marks (always the same four keys, under an update mask
// that names exactly them, so marks set by people or other tools stay), and
// whether the finding may be set INACTIVE. How its own write-back is recognised
// when SCC notifies about it is in ./marks.ts.
import type { ActionOutcome, OverallOutcome } from '../plan/outcome.ts';
import type { Policy } from '../policy/policy.ts';
import type { ContainmentResult } from '../ports.ts';
import type { FindingKey } from '../finding/key.ts';
import { type Summary } from '../summary/document.ts';
import { SCC_MARK } from './marks.ts';


export type SccOutcomeMark = 'contained' | 'partial' | 'failed' | 'dry-run' | 'reported' | 'skipped' | 'excepted';

// A Record over OverallOutcome: a new outcome does not type-check until it has a mark.
const OUTCOME_MARKS: Record<OverallOutcome, SccOutcomeMark> = {
  contained: 'contained',
  partial: 'partial',
  failed: 'failed',
  'dry-run': 'dry-run',
  'report-only': 'reported',
  skipped: 'skipped',
  excepted: 'excepted',
};

/**
 * The outcome mark. A dry-run run is `dry-run` whatever its outcome says: an analyst
 * reading `contained` or `excepted` on the finding would take it as handled when
 * nothing was done to the cluster.
 */
export function outcomeMark(outcome: OverallOutcome, dryRun: boolean): SccOutcomeMark {
  return dryRun ? 'dry-run' : OUTCOME_MARKS[outcome];
}

// ---- Finding names (attacker-influenced: they arrive in the message) ----

const PARENT = String.raw`(?:organizations\/[1-9][0-9]{0,19}|folders\/[1-9][0-9]{0,19}|projects\/(?:[1-9][0-9]{0,19}|[a-z][a-z0-9-]{4,28}[a-z0-9]))`;
const SOURCE = String.raw`sources\/[1-9][0-9]{0,19}`;
// SCC finding ids are alphanumeric, at most 32 characters.
const FINDING = String.raw`findings\/[A-Za-z0-9]{1,32}`;
const ANY_FINDING_NAME = new RegExp(String.raw`^(${PARENT}\/${SOURCE})(?:\/locations\/([^/]{1,64}))?\/(${FINDING})$`);
const V2_FINDING_NAME = new RegExp(String.raw`^${PARENT}\/${SOURCE}\/locations\/global\/${FINDING}$`);

export type SccNameResult = { ok: true; name: string } | { ok: false; reason: string };

/** Whether `name` is a v2 finding name in the global location: the only names ever sent to the API. */
export function isV2FindingName(name: string): boolean {
  return V2_FINDING_NAME.test(name);
}

/**
 * The v2 name of the finding a notification names. v1 names
 * (`organizations/O/sources/S/findings/F`) have no location: SCC keeps such findings
 * in `global`, and v2 addresses them as `…/sources/S/locations/global/findings/F`.
 * Anything else is refused here, before any call: the name is the request's only
 * attacker-influenced part, and a name for another resource (`..`, another
 * collection, an extra segment) must never reach it. A finding in a data-residency
 * location (eu, us, …) is reachable only through that location's regional endpoint,
 * which this client does not use: refused with that reason rather than sent to the
 * global one.
 */
export function sccFindingName(name: string | null | undefined): SccNameResult {
  if (name === null || name === undefined || name === '') return { ok: false, reason: 'the finding has no name' };
  const shown = JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
  const m = ANY_FINDING_NAME.exec(name);
  if (!m) return { ok: false, reason: `finding name ${shown} is not an SCC finding name` };
  const [, sourceName = '', location, finding = ''] = m;
  if (location !== undefined && location !== 'global') {
    return { ok: false, reason: `the finding is in SCC location ${JSON.stringify(location.slice(0, 64))}: only the global endpoint is supported` };
  }
  const v2 = `${sourceName}/locations/global/${finding}`;
  return isV2FindingName(v2) ? { ok: true, name: v2 } : { ok: false, reason: `finding name ${shown} is not an SCC finding name` };
}

/** The resource an UpdateSecurityMarks request names. */
export function securityMarksName(v2FindingName: string): string {
  return `${v2FindingName}/securityMarks`;
}

/** `marks.<key>` for each key: an update mask of exactly these, so the finding's other marks are left as they are. */
export function marksUpdateMask(marks: Record<string, string>): string[] {
  return Object.keys(marks).map((key) => `marks.${key}`);
}

// ---- What to write ----

/** The port the write-back goes through (src/adapters/security-center.ts). Throws TransientError or PermanentError. */
export interface SccWriter {
  /** UpdateSecurityMarks on `<findingName>/securityMarks` with exactly this update mask. */
  updateMarks(request: { findingName: string; marks: Record<string, string>; updateMask: string[]; timeoutMs: number }): Promise<void>;
  /** SetFindingState INACTIVE. */
  setInactive(request: { findingName: string; timeoutMs: number }): Promise<void>;
  close?(): Promise<void>;
}

export interface SccWriteBackInput {
  /** The occurrence: its id becomes the incident mark; findingName is the name to write to (validated here). */
  key: FindingKey;
  summary: Pick<Summary, 'id' | 'outcome' | 'decision'>;
  /**
   * The outcomes after the read-back, unabridged: the summary's copies of reasons and
   * warnings are bounded, and a cut could drop what says the pod was not re-read.
   */
  containment: Pick<ContainmentResult, 'outcomes' | 'warnings'> | null;
  now: Date;
}

export type SccMarksPlan =
  | { kind: 'write'; marks: Record<string, string>; updateMask: string[] }
  | { kind: 'skip'; reason: string };

export type SccStatePlan = { kind: 'set-inactive'; reason: string } | { kind: 'unchanged'; reason: string };

export interface SccWriteBackPlan {
  /** The validated v2 finding name; null when the name was refused (marks and state are then skipped). */
  findingName: string | null;
  marks: SccMarksPlan;
  state: SccStatePlan;
}

const REMOVALS = new Set<ActionOutcome['type']>(['delete-pod', 'evict-pod']);
// src/actions/read-back.ts appends this to an outcome it could not re-read, and warns "read-back incomplete".
const NOT_RE_READ = '(not re-read:';
const READ_BACK_INCOMPLETE = 'read-back incomplete';

/**
 * Whether a delete-pod or evict-pod outcome proves the pod gone. `done` and `already`
 * survive the read-back only when the re-read pod is gone, replaced (another UID) or
 * terminating (a deletionTimestamp cannot be taken back), or when the API answered 404;
 * a still-running pod lowers them to `failed`. The read-back may also fail, and then
 * the outcome keeps its status unverified: not proof.
 */
function podGoneConfirmed(outcomes: readonly ActionOutcome[], warnings: readonly string[]): { removal: ActionOutcome | null; confirmed: boolean } {
  const removal = outcomes.find((o) => REMOVALS.has(o.type) && (o.status === 'done' || o.status === 'already')) ?? null;
  if (removal === null) return { removal, confirmed: false };
  const incomplete = removal.reason.includes(NOT_RE_READ) || warnings.some((w) => w.startsWith(READ_BACK_INCOMPLETE));
  return { removal, confirmed: !incomplete };
}

function stateRule(input: SccWriteBackInput, policy: Policy['scc']): SccStatePlan {
  if (policy.setInactive === 'never') return { kind: 'unchanged', reason: 'scc.setInactive is never' };
  if (input.summary.decision.dryRun) return { kind: 'unchanged', reason: 'dry-run: the state is never changed' };
  if (input.summary.outcome !== 'contained') {
    return { kind: 'unchanged', reason: `the outcome is ${input.summary.outcome}, not contained: left ACTIVE for an analyst` };
  }
  const { removal, confirmed } = podGoneConfirmed(input.containment?.outcomes ?? [], input.containment?.warnings ?? []);
  if (removal === null) return { kind: 'unchanged', reason: 'no delete-pod or evict-pod removed the pod' };
  if (!confirmed) return { kind: 'unchanged', reason: `${removal.type} ${removal.status}, but the read-back could not confirm the pod gone` };
  return { kind: 'set-inactive', reason: `${removal.type} ${removal.status} and the read-back confirmed the pod gone` };
}

/** What to write for this response. Pure: the orchestration (src/pipeline/scc-writeback.ts) carries it out. */
export function planSccWriteBack(input: SccWriteBackInput, policy: Policy['scc']): SccWriteBackPlan {
  const named = sccFindingName(input.key.findingName);
  if (!named.ok) {
    const reason = `${named.reason}: nothing written`;
    return { findingName: null, marks: { kind: 'skip', reason }, state: { kind: 'unchanged', reason } };
  }
  const state = stateRule(input, policy);
  if (!policy.marks) {
    // Marks say why the finding went INACTIVE; without them the state is not changed either.
    const off = 'scc.marks is off';
    return {
      findingName: named.name,
      marks: { kind: 'skip', reason: off },
      state: state.kind === 'set-inactive' ? { kind: 'unchanged', reason: `${off}: the state is changed only together with marks that say why` } : state,
    };
  }
  const marks: Record<string, string> = {
    [SCC_MARK.outcome]: outcomeMark(input.summary.outcome, input.summary.decision.dryRun),
    [SCC_MARK.incident]: input.key.id,
    [SCC_MARK.at]: input.now.toISOString(),
    [SCC_MARK.summary]: input.summary.id,
  };
  return { findingName: named.name, marks: { kind: 'write', marks, updateMask: marksUpdateMask(marks) }, state };
}
