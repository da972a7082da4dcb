// The summary of a release, in the same document shape as a response summary,
// so every sink (log line, ops topic, Slack, Chat) renders it unchanged and a
// subscriber tells it apart by `kind: "release"` (and the headline).
import { overallOutcome, type ActionOutcome } from '../plan/outcome.ts';
import type { FindingKey } from '../finding/key.ts';
import { redactText, type RedactionRules } from './redact.ts';
import { findingConsoleUrl, truncate } from './summary.ts';
import { SUMMARY_SCHEMA, type Summary } from './document.ts';

export interface ReleaseSummaryInput {
  key: FindingKey;
  target: Summary['target'];
  outcomes: readonly ActionOutcome[];
  warnings: readonly string[];
  dryRun: boolean;
  rules: RedactionRules;
  now: Date;
}

const MAX_TEXT = 500;
const MAX_LIST = 20;

export function buildReleaseSummary(input: ReleaseSummaryInput): Summary {
  const { key, target, outcomes, dryRun, now } = input;
  const text = (value: string) => truncate(redactText(value, input.rules), MAX_TEXT);
  // Skipped steps are mostly nothing-to-undo (a pod gone, a node another incident holds); only a step
  // that left this incident's own change in force makes the release incomplete.
  const leftInPlace = outcomes.some((o) => o.details?.leftInPlace === true);
  const failed = outcomes.some((o) => o.status === 'failed');
  const outcome: Summary['outcome'] = dryRun
    ? overallOutcome([...outcomes], true)
    : failed
      ? overallOutcome([...outcomes], false)
      : leftInPlace
        ? 'partial'
        : 'contained';
  const where = [target.cluster, target.namespace, target.pod].filter((p): p is string => p !== null).map((p) => truncate(p, 63)).join('/') || 'unknown target';
  const verdict =
    outcome === 'dry-run'
      ? 'release dry-run (nothing changed)'
      : outcome === 'contained'
        ? 'quarantine released'
        : outcome === 'partial'
          ? `release PARTIAL${leftInPlace && !failed ? ' (left in place: see the actions)' : ''}`
          : 'release FAILED';
  const eventMs = key.eventTime ? Date.parse(key.eventTime) : Number.NaN;
  return {
    schema: SUMMARY_SCHEMA,
    kind: 'release',
    id: key.id,
    headline: `Unexpected Child Shell in ${where}: ${verdict}`,
    outcome,
    round: 1,
    update: false,
    retrying: false,
    finding: {
      name: key.findingName === null ? null : truncate(key.findingName, MAX_TEXT),
      category: 'Unexpected Child Shell',
      severity: null,
      state: null,
      eventTime: key.eventTime,
      description: null,
      consoleUrl: findingConsoleUrl(key.findingName, target.project),
    },
    target,
    processes: { parent: null, child: null, count: 0 },
    decision: { decision: 'respond', reason: 'release by hand (scc-responder release)', rule: null, dryRun },
    actions: outcomes.map((o) => ({ type: o.type, status: o.status, reason: text(o.reason), ...(o.details ? { details: o.details } : {}) })),
    budget: { exceeded: false, denied: [] },
    warnings: input.warnings.slice(0, MAX_LIST).map(text),
    evidence: null,
    links: { mitre: [], virusTotal: [] },
    timings: {
      eventTime: key.eventTime,
      publishTime: null,
      receivedAt: now.toISOString(),
      summarizedAt: now.toISOString(),
      eventToSummaryMs: Number.isNaN(eventMs) ? null : now.getTime() - eventMs,
      containmentMs: null,
      evidenceMs: null,
    },
  };
}
