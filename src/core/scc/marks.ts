// The security marks the responder writes to a finding, and how its own write-back
// is recognised when SCC notifies about it: a marks update is a finding change, and
// SCC publishes the finding again with the same eventTime. Scope reads this before
// anything else, so it depends on nothing but the finding.
import type { Finding } from '../finding/schema.ts';
import { findingKey } from '../finding/key.ts';

/** Mark keys: SCC allows 1-256 letters, digits, underscores or dashes, compared case-insensitively. */
export const SCC_MARK = {
  outcome: 'scc_responder_outcome',
  /** The ledger key of the occurrence (FindingKey.id): what isOwnEcho compares. */
  incident: 'scc_responder_incident',
  /** RFC 3339, when the marks were written. */
  at: 'scc_responder_at',
  /** Summary.id: find the summary in the ops topic, the log and the ledger. */
  summary: 'scc_responder_summary',
} as const;

// ---- Loop safety ----

/**
 * Whether this finding is SCC's notification of the responder's own write-back:
 * it carries our incident mark for this very occurrence (finding name + eventTime).
 * A new occurrence of the same finding (a new eventTime) has another key, so it is
 * handled even though the finding still carries the marks of the earlier one.
 *
 * Trust: the mark is only as trustworthy as SCC's IAM. Only a principal with
 * `securitycenter.findingsecuritymarks.update` on the finding (the responder, an
 * analyst, another SCC integration) can set it; the workload the finding is about
 * cannot (unless it holds that permission, which a GKE workload has no reason to).
 * Whoever can set it can make the responder ignore that one occurrence.
 */
export function isOwnEcho(finding: Finding, keyId: string): boolean {
  const marks = finding.securityMarks?.marks;
  if (marks === undefined) return false;
  // SCC compares mark keys and values case-insensitively and trims values.
  for (const [key, value] of Object.entries(marks)) {
    if (key.toLowerCase() === SCC_MARK.incident && value.trim().toLowerCase() === keyId.toLowerCase()) return true;
  }
  return false;
}

/** isOwnEcho for the occurrence the finding itself names (its ledger key). */
export function isOwnEchoOf(finding: Finding): boolean {
  // A finding without a name is never written back to, so it has no echo.
  if (finding.securityMarks?.marks === undefined || (finding.name ?? finding.canonicalName) === undefined) return false;
  return isOwnEcho(finding, findingKey(finding).id);
}
