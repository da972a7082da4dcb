// `scc-responder plan --explain`: why the plan is what it is. Every exception
// and rule is evaluated condition by condition against the plan's view of the
// finding; the one that applied is named, and when none did, the nearest one
// (fewest conditions failing) with the conditions that failed. Pure; every
// finding value is quoted and bounded (match.ts `shown`), command lines are
// redacted, and args are never shown raw.
import { expiresAt, isExpired, isoTime } from './exceptions.ts';
import { explainMatch, inert, shown, shownCommandLine, type ConditionResult, type MatchFacts } from './match.ts';
import { suggestMuteRule, type MuteRuleSuggestion } from './mute-rule.ts';
import type { Plan } from '../plan/plan.ts';
import { isProtectedNamespace, type Policy, type PolicyMatch } from './policy.ts';
import type { ProcessInfo } from '../finding/target.ts';

export type EntryState =
  /** The exception that applied, or the first rule that matches. */
  | 'matched'
  | 'not-matched'
  /** Its conditions hold but it has expired. */
  | 'expired'
  /** A later rule whose conditions also hold: the first match wins. */
  | 'shadowed';

export interface ExplainedEntry {
  kind: 'exception' | 'rule';
  name: string;
  index: number;
  state: EntryState;
  conditions: ConditionResult[];
  failed: number;
  /** Exceptions only. */
  expires?: string;
}

export type Verdict = 'ignored' | 'excepted' | 'rule' | 'protected' | 'no-match';

export interface Explanation {
  verdict: Verdict;
  plan: Plan;
  exceptions: ExplainedEntry[];
  rules: ExplainedEntry[];
  /** When no live exception applied: the one closest to applying. */
  nearestException: ExplainedEntry | null;
  /** When no rule matched: the one closest to matching. */
  nearestRule: ExplainedEntry | null;
  /** For an excepted finding: the SCC mute rule that would mute such findings. */
  muteRule: MuteRuleSuggestion | null;
}

function evaluate(kind: ExplainedEntry['kind'], name: string, index: number, match: PolicyMatch, facts: MatchFacts): ExplainedEntry {
  const conditions = explainMatch(match, facts);
  const failed = conditions.filter((c) => !c.holds).length;
  return { kind, name, index, state: failed === 0 ? 'matched' : 'not-matched', conditions, failed };
}

/** Fewest failing conditions, then most holding; the earlier one on a tie (it is what the user reads first). */
function nearest(entries: readonly ExplainedEntry[]): ExplainedEntry | null {
  let best: ExplainedEntry | null = null;
  const holding = (e: ExplainedEntry) => e.conditions.length - e.failed;
  for (const e of entries) {
    if (e.state !== 'not-matched') continue;
    if (best === null || e.failed < best.failed || (e.failed === best.failed && holding(e) > holding(best))) best = e;
  }
  return best;
}

export function explainPlan(plan: Plan, policy: Policy, now: Date): Explanation {
  const empty = { exceptions: [], rules: [], nearestException: null, nearestRule: null, muteRule: null };
  if (plan.decision === 'ignore' || plan.target === null) return { verdict: 'ignored', plan, ...empty };
  const facts: MatchFacts = { target: plan.target, severity: plan.finding.severity, processes: plan.processes, redaction: policy.redaction };

  let applied = false;
  const exceptions = policy.exceptions.map((exception, i) => {
    const entry = evaluate('exception', exception.name, i, exception.match, facts);
    entry.expires = isoTime(expiresAt(exception));
    if (entry.state === 'matched') {
      if (isExpired(exception, now)) entry.state = 'expired';
      else if (applied) entry.state = 'shadowed';
      else applied = true;
    }
    return entry;
  });
  let matchedRule = false;
  const rules = policy.rules.map((rule, i) => {
    const entry = evaluate('rule', rule.name, i, rule.match, facts);
    if (entry.state === 'matched') {
      if (matchedRule) entry.state = 'shadowed';
      matchedRule = true;
    }
    return entry;
  });

  const exception = plan.exception === null ? undefined : policy.exceptions.find((e) => e.name === plan.exception!.name);
  const verdict: Verdict =
    plan.exception !== null
      ? 'excepted'
      : plan.rule === null
        ? 'no-match'
        : plan.target.namespace !== null && isProtectedNamespace(policy, plan.target.namespace)
          ? 'protected'
          : 'rule';
  return {
    verdict,
    plan,
    exceptions,
    rules,
    nearestException: applied ? null : nearest(exceptions),
    nearestRule: matchedRule ? null : nearest(rules),
    muteRule: exception ? suggestMuteRule(plan, exception, now) : null,
  };
}

function processLine(label: string, p: ProcessInfo | null): string {
  if (p === null) return `${label} none in the finding`;
  return `${label} ${shown(p.name)} binary ${shown(p.binaryPath)}${p.scriptPath ? ` script ${shown(p.scriptPath)}` : ''}${p.sha256 ? ` sha256 ${p.sha256.slice(0, 12)}…` : ''}`;
}

function entryLines(e: ExplainedEntry, all: boolean): string[] {
  const mark = e.state === 'matched' ? '✔' : e.state === 'shadowed' ? '·' : '✗';
  const state: Record<EntryState, string> = {
    matched: e.kind === 'exception' ? 'applies' : 'matches',
    'not-matched': `does not ${e.kind === 'exception' ? 'apply' : 'match'}: ${e.failed} of ${e.conditions.length} condition${e.conditions.length === 1 ? '' : 's'} ${e.failed === 1 ? 'fails' : 'fail'}`,
    expired: `expired at ${e.expires}: not applied (its conditions hold)`,
    shadowed: e.kind === 'exception' ? 'also matches (an earlier exception applies)' : 'also matches (an earlier rule wins)',
  };
  const head = `  ${mark} ${e.name}  ${state[e.state]}${e.kind === 'exception' && e.state !== 'expired' ? ` (expires ${e.expires})` : ''}`;
  if (e.conditions.length === 0) return [`${head}; no conditions: matches every finding`];
  const shownConditions = all ? e.conditions : e.conditions.filter((c) => !c.holds);
  return [head, ...shownConditions.map((c) => `      ${c.holds ? '✔' : '✗'} ${c.field}: ${c.detail}`)];
}

/** Who may approve, as the policy names them (Slack ids are not secrets and are shown as is). */
function approvalLines(a: NonNullable<Plan['approval']>): string[] {
  const who = [...a.approvers.users.map((u) => `user ${u}`), ...a.approvers.groups.map((g) => `group ${g}`)];
  if (a.approved) return ['           approval required: this plan is the approved run (enforced unless the kill switch is on)'];
  return [
    `           approval required: the Slack summary offers Contain / Dismiss for ${a.expiresMinutes} min; Contain runs the actions above for real`,
    `           approvers: ${who.length ? who.join(', ') : 'nobody (the policy is refused)'}${a.approvers.groups.length ? ' (groups need SLACK_BOT_TOKEN on the approval consumer)' : ''}`,
  ];
}

/** The explanation as text for a terminal. */
export function renderExplanation(x: Explanation, policy: Policy): string {
  const p = x.plan;
  const out: string[] = [];
  out.push(`finding    ${shown(p.finding.name)}`);
  out.push(`           ${shown(p.finding.category)} · severity ${shown(p.finding.severity)}`);
  if (x.verdict === 'ignored' || p.target === null) {
    out.push(`decision   ignore: ${inert(p.reason)}`, '           (out of scope: no exception or rule is evaluated)');
    return out.join('\n') + '\n';
  }
  const t = p.target;
  out.push(`target     cluster ${shown(t.cluster)} namespace ${shown(t.namespace)} pod ${shown(t.pod)}`);
  out.push(`           project ${shown(t.project)} location ${shown(t.location)} image ${shown(t.image)}`);
  if (p.processes) {
    out.push(`processes  ${processLine('parent', p.processes.parent)}`);
    out.push(`           ${processLine('child ', p.processes.child)}`);
    const child = p.processes.child;
    if (child) out.push(`           child command line ${shownCommandLine(child, policy.redaction)}${child.argumentsTruncated ? ' (TRUNCATED by SCC: args conditions never match it)' : ''}`);
  }
  const actions = p.actions.length ? p.actions.map((a) => a.type).join(', ') : 'none';
  switch (x.verdict) {
    case 'excepted':
      out.push(`decision   respond · EXCEPTED by ${p.exception!.name} (expires ${p.exception!.expires}${p.exception!.owner ? `, owner ${shown(p.exception!.owner)}` : ''})`);
      out.push(`           reason: ${shown(p.exception!.reason, 500)}`);
      break;
    case 'rule':
      out.push(`decision   respond · rule ${p.rule} matched · ${p.dryRun ? 'dry-run' : 'enforced'}`);
      if (p.approval) out.push(...approvalLines(p.approval));
      break;
    case 'protected':
      out.push(`decision   respond · rule ${p.rule} matched, but the namespace is protected: report only`);
      break;
    case 'no-match':
      out.push('decision   respond · no rule matched: report only');
      break;
  }
  out.push(`           actions: ${actions}`, `           plan reason: ${inert(p.reason)}`);
  if (p.targetProblems.length) out.push(`           target problems: ${inert(p.targetProblems.join('; '))}`);

  out.push('', x.exceptions.length ? 'exceptions (checked first; the first live one that matches applies)' : 'exceptions: none in the policy');
  for (const e of x.exceptions) out.push(...entryLines(e, e.state === 'matched' || e.state === 'expired'));
  if (x.nearestException) {
    out.push(`  nearest exception: ${x.nearestException.name} (${x.nearestException.failed} failing: ${x.nearestException.conditions.filter((c) => !c.holds).map((c) => c.field).join(', ')})`);
  }

  const ruleHeading =
    x.verdict === 'excepted' ? 'rules (first match wins; not applied: the exception comes first. Without it:)' : 'rules (first match wins)';
  out.push('', x.rules.length ? ruleHeading : 'rules: none in the policy (every finding is reported only)');
  for (const r of x.rules) out.push(...entryLines(r, r.state === 'matched'));
  if (x.nearestRule) {
    out.push(`  nearest rule: ${x.nearestRule.name} (${x.nearestRule.failed} failing: ${x.nearestRule.conditions.filter((c) => !c.holds).map((c) => c.field).join(', ')})`);
  }

  if (x.muteRule) {
    out.push('', 'suggested SCC mute rule (scc-responder never creates it)');
    out.push(`  filter  ${x.muteRule.filter}`, `  fields  ${x.muteRule.fields.join(', ')}`, `  gcloud  ${x.muteRule.gcloud}`, `  note    ${x.muteRule.note}`);
  }
  return out.join('\n') + '\n';
}
