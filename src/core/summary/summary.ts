// The ops summary: one versioned JSON document per finding, built purely from
// the plan, the containment and evidence results, the policy and the timings.
// Every sink (Pub/Sub, Slack, Google Chat, the log line) renders this document
// and nothing else, so what ops see is the same everywhere.
//
// Secrets: environment variable values never leave the finding unless the
// policy names the variable in summary.revealEnvValues; credentials in process
// args and in free text (action results, log excerpts) are redacted here
// (core/summary/redact.ts), so every sink, the ledger and the log line get the redacted
// form. Every string that came from the finding is bounded here; sinks escape
// it for their own format.
import type { Finding, FindingProcess } from '../finding/schema.ts';
import { suggestMuteRule } from '../policy/mute-rule.ts';
import { overallOutcome, type ActionOutcome, type OverallOutcome } from '../plan/outcome.ts';
import type { Plan } from '../plan/plan.ts';
import type { Policy } from '../policy/policy.ts';
import type { ContainmentResult, EvidenceReport } from '../ports.ts';
import type { FindingKey } from '../finding/key.ts';
import { redactArgs, redactText, type RedactionRules } from './redact.ts';
import { matchRoutes } from './routes.ts';
import {
  SUMMARY_SCHEMA,
  type Summary,
  type SummaryAction,
  type SummaryException,
  type SummaryLink,
  type SummaryOwner,
  type SummaryProcess,
} from './document.ts';
import type { ProcessInfo } from '../finding/target.ts';

export interface SummaryTimings {
  receivedAt: Date;
  publishTime?: string | null;
  containmentMs?: number | null;
  evidenceMs?: number | null;
}

export interface SummaryRound {
  round: number;
  update: boolean;
  retrying: boolean;
}

export interface SummaryInput {
  key: FindingKey;
  /** Which delivery built it; default: the first and only one. */
  round?: SummaryRound;
  plan: Plan;
  /** The parsed finding, read only for env values the policy opts in to. */
  finding: Finding;
  containment: ContainmentResult | null;
  evidence: EvidenceReport | null;
  policy: Policy;
  timings: SummaryTimings;
  now: Date;
  /** Who owns the workload (src/pipeline/resolve-owners.ts), when resolved: the summary shows them and routes match on them. */
  owners?: { owners: SummaryOwner[]; notes: string[] } | null;
}

const MAX_TEXT = 500;
const MAX_EXCERPT = 300;
const MAX_LIST = 20;

// ES2024 string methods (Node 20+); the project's lib is es2023.
type WellFormedString = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Lone UTF-16 surrogates replaced by U+FFFD: Pub/Sub, Firestore and the chat APIs refuse them. */
function wellFormed(value: string): string {
  const s = value as WellFormedString;
  return s.isWellFormed() ? value : s.toWellFormed();
}

/**
 * Bounds a string taken from the finding or a result; the marker shows that
 * something was cut. Never splits a surrogate pair and never returns a lone
 * surrogate, even one the input already had.
 */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return wellFormed(value);
  let end = Math.max(0, max - 1);
  const last = value.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return `${wellFormed(value.slice(0, end))}…`;
}

function bounded(value: string | null | undefined, max = MAX_TEXT): string | null {
  return value === null || value === undefined ? null : truncate(value, max);
}

// SCC's MitreAttack enum names → ATT&CK ids. Unknown names are kept without a link.
const TACTICS: Record<string, string> = {
  RECONNAISSANCE: 'TA0043',
  RESOURCE_DEVELOPMENT: 'TA0042',
  INITIAL_ACCESS: 'TA0001',
  EXECUTION: 'TA0002',
  PERSISTENCE: 'TA0003',
  PRIVILEGE_ESCALATION: 'TA0004',
  DEFENSE_EVASION: 'TA0005',
  CREDENTIAL_ACCESS: 'TA0006',
  DISCOVERY: 'TA0007',
  LATERAL_MOVEMENT: 'TA0008',
  COLLECTION: 'TA0009',
  COMMAND_AND_CONTROL: 'TA0011',
  EXFILTRATION: 'TA0010',
  IMPACT: 'TA0040',
};
const TECHNIQUES: Record<string, string> = {
  COMMAND_AND_SCRIPTING_INTERPRETER: 'T1059',
  UNIX_SHELL: 'T1059.004',
  PYTHON: 'T1059.006',
  EXPLOIT_PUBLIC_FACING_APPLICATION: 'T1190',
  INGRESS_TOOL_TRANSFER: 'T1105',
  ESCAPE_TO_HOST: 'T1611',
  CONTAINER_ADMINISTRATION_COMMAND: 'T1609',
  DEPLOY_CONTAINER: 'T1610',
  RESOURCE_HIJACKING: 'T1496',
  OBFUSCATED_FILES_OR_INFO: 'T1027',
  NATIVE_API: 'T1106',
  SHARED_MODULES: 'T1129',
  EXPLOITATION_FOR_PRIVILEGE_ESCALATION: 'T1068',
  ACCESS_TOKEN_MANIPULATION: 'T1134',
  UNSECURED_CREDENTIALS: 'T1552',
  PROCESS_DISCOVERY: 'T1057',
};

function mitreLinks(finding: Finding): SummaryLink[] {
  const m = finding.mitreAttack;
  if (!m) return [];
  const out: SummaryLink[] = [];
  const tactics = [m.primaryTactic, ...(m.additionalTactics ?? [])].filter((t): t is string => typeof t === 'string');
  for (const name of tactics) {
    // Object.hasOwn: the names come from the finding; `constructor` must not find Object's.
    const id = Object.hasOwn(TACTICS, name) ? TACTICS[name] : undefined;
    out.push({ id: id ?? '', name: truncate(name, 80), url: id ? `https://attack.mitre.org/tactics/${id}/` : null });
  }
  for (const name of [...(m.primaryTechniques ?? []), ...(m.additionalTechniques ?? [])]) {
    const id = Object.hasOwn(TECHNIQUES, name) ? TECHNIQUES[name] : undefined;
    out.push({
      id: id ?? '',
      name: truncate(name, 80),
      url: id ? `https://attack.mitre.org/techniques/${id.replace('.', '/')}/` : null,
    });
  }
  return out.slice(0, MAX_LIST);
}

/** Console link for the finding; the name is percent-encoded, so it cannot add path or query parts. */
export function findingConsoleUrl(name: string | null, project: string | null): string | null {
  if (name === null || !/^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+\/(locations\/[^/]+\/)?findings\/[^/]+$/.test(name)) {
    return null;
  }
  const org = /^organizations\/(\d+)\//.exec(name)?.[1];
  const scope = org ? `organizationId=${org}` : project ? `project=${encodeURIComponent(project)}` : '';
  return `https://console.cloud.google.com/security/command-center/findingsv2;name=${encodeURIComponent(name)}${scope ? `?${scope}` : ''}`;
}

function rawProcess(finding: Finding, info: ProcessInfo): FindingProcess | undefined {
  return (finding.processes ?? []).find((p) => (p.pid ?? null) === info.pid && (p.parentPid ?? null) === info.parentPid);
}

function summarizeProcess(info: ProcessInfo | null, finding: Finding, policy: Policy): SummaryProcess | null {
  if (info === null) return null;
  const { maxArgs, maxArgLength, revealEnvValues } = policy.summary;
  const reveal = new Set(revealEnvValues);
  // Redacted before they are cut: a cut can break a secret's shape, never its redaction.
  const redacted = redactArgs(info.args.slice(0, maxArgs), policy.redaction, info.binaryPath);
  const args = redacted.map((a) => truncate(a, maxArgLength));
  const shortened = info.args.length > maxArgs || redacted.some((a) => a.length > maxArgLength);
  const raw = rawProcess(finding, info);
  const env = (raw?.envVariables ?? [])
    .filter((e) => typeof e.name === 'string' && e.name !== '')
    .slice(0, 64)
    .map((e) => {
      const name = truncate(e.name as string, 128);
      const value = reveal.has(e.name as string) && typeof e.val === 'string' ? truncate(e.val, maxArgLength) : null;
      return { name, value };
    });
  return {
    name: bounded(info.name, 253),
    pid: info.pid,
    parentPid: info.parentPid,
    binary: bounded(info.binaryPath, 253),
    sha256: info.sha256,
    virusTotalUrl: info.sha256 ? `https://www.virustotal.com/gui/file/${info.sha256}` : null,
    args,
    argsTruncated: info.argumentsTruncated || shortened,
    env,
    envTruncated: info.envVariablesTruncated || (raw?.envVariables?.length ?? 0) > 64,
  };
}

function summarizeEvidence(evidence: EvidenceReport | null, policy: Policy): Summary['evidence'] {
  if (evidence === null) return null;
  const rules = policy.redaction;
  const links: Record<string, string> = {};
  for (const [k, v] of Object.entries(evidence.links).slice(0, MAX_LIST)) links[truncate(k, 80)] = truncate(v, 2000);
  return {
    queries: evidence.queries.slice(0, MAX_LIST).map((q) => ({
      kind: truncate(q.kind, 80),
      count: q.count,
      url: q.url === null ? null : truncate(q.url, 4000),
      excerpts: q.excerpts.slice(0, policy.evidence.excerptLines).map((e) => truncate(redactText(e, rules), MAX_EXCERPT)),
      incomplete: q.incomplete === null ? null : truncate(redactText(q.incomplete, rules), MAX_TEXT),
    })),
    links,
    bundle: bounded(evidence.bundle, 1000),
    notes: evidence.notes.slice(0, MAX_LIST).map((n) => truncate(redactText(n, rules), MAX_TEXT)),
  };
}

/** The isolation verdict ops must not miss: an "isolated" pod that is not, said in the headline. */
function isolationVerdict(outcomes: readonly ActionOutcome[], dryRun: boolean): string {
  const isolate = outcomes.find((o) => o.type === 'isolate-pod');
  if (isolate === undefined) return '';
  if (isolate.status === 'would') return /NOT isolated|would refuse/.test(isolate.reason) ? '; pod would NOT be isolated' : '';
  if (dryRun || isolate.status === 'done' || isolate.status === 'already' || isolate.status === 'skipped') return '';
  return '; pod NOT isolated';
}

function headlineFor(outcome: OverallOutcome, plan: Plan, budgetExceeded: boolean, outcomes: readonly ActionOutcome[] = [], round?: SummaryRound): string {
  const t = plan.target;
  const where = t
    ? [t.cluster, t.namespace, t.pod].filter((p): p is string => p !== null).map((p) => truncate(p, 63)).join('/')
    : 'unknown target';
  const verdict: Record<OverallOutcome, string> = {
    contained: 'contained',
    partial: 'partially contained',
    failed: 'containment FAILED',
    'dry-run': 'dry-run (nothing changed)',
    'report-only': 'reported (no action)',
    skipped: 'actions skipped',
    excepted: plan.exception ? `excepted by ${plan.exception.name} (expected until ${plan.exception.expires}; no action)` : 'excepted (no action)',
  };
  const prefix = `${round?.update ? 'UPDATE — ' : ''}${budgetExceeded ? 'BUDGET EXCEEDED — ' : ''}`;
  const retrying = round?.retrying ? ' — some actions pending, retrying' : '';
  return `${prefix}Unexpected Child Shell in ${where}: ${verdict[outcome]}${isolationVerdict(outcomes, plan.dryRun)}${retrying}`;
}

/** Free text from a result, redacted, then bounded. */
function redactedText(value: string, rules: RedactionRules, max = MAX_TEXT): string {
  return truncate(redactText(value, rules), max);
}

/** Action details are results (e.g. the captured process list): string values redacted and bounded. */
function redactedDetails(details: NonNullable<ActionOutcome['details']>, rules: RedactionRules): NonNullable<SummaryAction['details']> {
  const out: NonNullable<SummaryAction['details']> = {};
  for (const [k, v] of Object.entries(details)) out[k] = typeof v === 'string' ? redactedText(v, rules, 16_000) : v;
  return out;
}

function summaryException(plan: Plan, policy: Policy, now: Date): SummaryException | null {
  if (plan.exception === null) return null;
  const name = plan.exception.name;
  const exception = policy.exceptions.find((e) => e.name === name);
  return {
    ...plan.exception,
    reason: truncate(plan.exception.reason, MAX_TEXT),
    owner: bounded(plan.exception.owner, 200),
    muteRule: exception ? suggestMuteRule(plan, exception, now) : null,
  };
}

export function buildSummary(input: SummaryInput): Summary {
  const { plan, finding, containment, evidence, policy, timings, now } = input;
  const rules = policy.redaction;
  const outcomes = containment?.outcomes ?? [];
  const outcome = overallOutcome(outcomes, plan.dryRun, plan.exception !== null);
  const denied = outcomes
    .filter((o) => o.status === 'skipped' && o.reason.startsWith('budget:'))
    .map((o) => ({ action: o.type, reason: truncate(o.reason, MAX_TEXT) }));
  // Refused because no budget store could be asked: said in the warnings, never as "BUDGET EXCEEDED".
  const unbudgeted = outcomes.filter((o) => o.status === 'skipped' && o.reason.startsWith('no budget:'));
  const t = plan.target;
  const eventMs = plan.finding.eventTime ? Date.parse(plan.finding.eventTime) : Number.NaN;
  const processes = plan.processes;
  const child = summarizeProcess(processes?.child ?? null, finding, policy);
  const parent = summarizeProcess(processes?.parent ?? null, finding, policy);
  const warnings = [
    ...denied.map((d) => `${d.action} not run: ${d.reason}`),
    ...unbudgeted.map((o) => `${o.type} not run: ${truncate(o.reason, MAX_TEXT)}`),
    ...(containment?.warnings ?? []).map((w) => redactedText(w, rules)),
  ].slice(0, MAX_LIST);

  const summary: Summary = {
    schema: SUMMARY_SCHEMA,
    id: input.key.id,
    headline: headlineFor(outcome, plan, denied.length > 0, outcomes, input.round),
    outcome,
    round: input.round?.round ?? 1,
    update: input.round?.update ?? false,
    retrying: input.round?.retrying ?? false,
    finding: {
      name: bounded(plan.finding.name),
      category: bounded(plan.finding.category, 120),
      severity: bounded(plan.finding.severity, 40),
      state: bounded(plan.finding.state, 40),
      eventTime: bounded(plan.finding.eventTime, 64),
      description: finding.description === undefined ? null : redactedText(finding.description, rules),
      consoleUrl: findingConsoleUrl(plan.finding.name, t?.project ?? null),
    },
    target: {
      project: t?.project ?? null,
      location: t?.location ?? null,
      cluster: t?.cluster ?? null,
      namespace: t?.namespace ?? null,
      pod: t?.pod ?? null,
      container: t?.container ?? null,
      image: t?.image ?? null,
      imageId: t?.imageId ?? null,
      node: t?.node ?? null,
      problems: plan.targetProblems.slice(0, MAX_LIST).map((p) => redactedText(p, rules)),
    },
    processes: { parent, child, count: processes?.count ?? 0 },
    decision: { decision: plan.decision, reason: truncate(plan.reason, MAX_TEXT), rule: plan.rule, dryRun: plan.dryRun },
    exception: summaryException(plan, policy, now),
    actions: outcomes.map((o) => ({
      type: o.type,
      status: o.status,
      reason: redactedText(o.reason, rules),
      ...(o.details ? { details: redactedDetails(o.details, rules) } : {}),
    })),
    budget: { exceeded: denied.length > 0, denied },
    warnings,
    ...(input.owners ? { owners: input.owners.owners, ownerNotes: input.owners.notes.map((n) => truncate(n, MAX_TEXT)) } : {}),
    evidence: summarizeEvidence(evidence, policy),
    links: {
      mitre: mitreLinks(finding),
      virusTotal: [child?.virusTotalUrl, parent?.virusTotalUrl].filter((u): u is string => typeof u === 'string'),
    },
    timings: {
      eventTime: bounded(plan.finding.eventTime, 64),
      publishTime: bounded(timings.publishTime ?? null, 64),
      receivedAt: timings.receivedAt.toISOString(),
      summarizedAt: now.toISOString(),
      eventToSummaryMs: Number.isNaN(eventMs) ? null : now.getTime() - eventMs,
      containmentMs: timings.containmentMs ?? null,
      evidenceMs: timings.evidenceMs ?? null,
    },
  };
  // The routes are part of the record (the ledger keeps the summary), so a retry goes to the same ones.
  summary.routes = matchRoutes(policy.routes, summary).map((r) => r.name);
  return summary;
}

/** Pub/Sub attributes for subscription filters. Values are bounded (attribute values max 1024 bytes). */
export function summaryAttributes(summary: Summary): Record<string, string> {
  const attr = (v: string | null) => truncate(v ?? 'unknown', 256);
  return {
    schema: SUMMARY_SCHEMA,
    category: attr(summary.finding.category),
    severity: attr(summary.finding.severity),
    cluster: attr(summary.target.cluster),
    outcome: summary.outcome,
    budgetExceeded: String(summary.budget.exceeded),
    dryRun: String(summary.decision.dryRun),
  };
}
