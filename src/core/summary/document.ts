// The ops summary document, `scc-responder.summary/v1`: what every sink renders
// and what consumers of the ops topic read. Types only (plus the schema name):
// ./summary.ts builds it, ./schema.ts is its zod schema, from which
// npm run summary-schema writes the JSON Schema consumers validate with.
// Within v1 fields are only ever added (optional); a breaking change gets a new version.
import type { MuteRuleSuggestion } from '../policy/mute-rule.ts';
import type { ActionOutcome, OverallOutcome } from '../plan/outcome.ts';
import type { Plan, PlanException } from '../plan/plan.ts';
import type { ActionType } from '../policy/policy.ts';

export const SUMMARY_SCHEMA = 'scc-responder.summary/v1';

export type { OverallOutcome };

/** The exception that matched, as the summary reports it. */
export interface SummaryException extends PlanException {
  /** The SCC mute rule that would mute such findings at the source: suggested, never applied. */
  muteRule: MuteRuleSuggestion | null;
}

export interface SummaryProcess {
  name: string | null;
  pid: string | null;
  parentPid: string | null;
  binary: string | null;
  sha256: string | null;
  virusTotalUrl: string | null;
  args: string[];
  /** True when SCC truncated the args, or this summary shortened or dropped some. */
  argsTruncated: boolean;
  /** Names always; `value` is null (redacted) unless policy.summary.revealEnvValues lists the name. */
  env: { name: string; value: string | null }[];
  envTruncated: boolean;
}

export interface SummaryAction {
  type: ActionType;
  status: ActionOutcome['status'];
  reason: string;
  details?: Record<string, string | number | boolean | null>;
}

export interface SummaryLink {
  id: string;
  name: string;
  url: string | null;
}

/** Where an owner was found (src/pipeline/resolve-owners.ts): each source is optional and bounded in time. */
export type OwnerSource = 'essential-contacts' | 'cluster-label' | 'namespace-label' | 'namespace-annotation' | 'workload-label';

export interface SummaryOwner {
  /** An e-mail address, a team or a contact, as the source gives it (bounded; escaped by each sink). */
  who: string;
  source: OwnerSource;
  /** The label or annotation key it came from; null for Essential Contacts. */
  key: string | null;
}

/** The write-back to the SCC finding (security marks, state). A dry-run writes only the `dry-run` outcome mark. */
export interface SummaryScc {
  marks: { status: 'written' | 'skipped' | 'failed'; values: Record<string, string>; reason: string };
  state: { status: 'set-inactive' | 'unchanged' | 'failed'; reason: string };
}

/** approval: required rules: where the person's decision stands. */
export interface SummaryApproval {
  /** awaiting: the dry-run summary offers Contain / Dismiss; the others end it. */
  status: 'awaiting' | 'approved' | 'dismissed' | 'expired' | 'refused';
  /** Until when Contain is accepted (awaiting), as RFC 3339. */
  expiresAt: string | null;
  /** The Slack user who decided, as Slack identified them (never a name the message carried). */
  by: { user: string; name: string | null } | null;
  reason: string | null;
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  /** Absent: the response to a finding; `release`: a release of its quarantine by hand (src/core/summary/release-summary.ts). */
  kind?: 'release';
  /** The ledger key: the same id for every delivery of the same finding. */
  id: string;
  headline: string;
  outcome: OverallOutcome;
  /** The delivery of the message (ledger attempt) that built it: a later round's summary supersedes an earlier one. */
  round: number;
  /** An earlier round already sent a summary for this finding (actions were pending): this one is the update. */
  update: boolean;
  /** Actions are pending a retry: the message is redelivered and another summary follows. */
  retrying: boolean;
  finding: {
    name: string | null;
    category: string | null;
    severity: string | null;
    state: string | null;
    eventTime: string | null;
    description: string | null;
    consoleUrl: string | null;
  };
  target: {
    project: string | null;
    location: string | null;
    cluster: string | null;
    namespace: string | null;
    pod: string | null;
    container: string | null;
    image: string | null;
    imageId: string | null;
    node: string | null;
    /** Why part of the target could not be acted on. */
    problems: string[];
  };
  processes: { parent: SummaryProcess | null; child: SummaryProcess | null; count: number };
  decision: { decision: Plan['decision']; reason: string; rule: string | null; dryRun: boolean };
  /** Set when a policy exception matched (outcome `excepted`); absent from summaries built before exceptions existed. */
  exception?: SummaryException | null;
  actions: SummaryAction[];
  budget: { exceeded: boolean; denied: { action: ActionType; reason: string }[] };
  warnings: string[];
  /** Who owns the workload; absent from summaries built before owner resolution existed. */
  owners?: SummaryOwner[];
  /** Owner sources that failed or ran out of time (they never hold up containment or the summary). */
  ownerNotes?: string[];
  /** The SCC write-back; null when it is not configured. */
  scc?: SummaryScc | null;
  /** Set for approval: required rules. */
  approval?: SummaryApproval | null;
  /** The policy routes (by name) this summary goes to besides the ops sinks. */
  routes?: string[];
  evidence: {
    queries: { kind: string; count: number; url: string | null; excerpts: string[]; incomplete: string | null }[];
    links: Record<string, string>;
    bundle: string | null;
    notes: string[];
  } | null;
  links: { mitre: SummaryLink[]; virusTotal: string[] };
  timings: {
    eventTime: string | null;
    publishTime: string | null;
    receivedAt: string;
    summarizedAt: string;
    /** eventTime → summarizedAt, when eventTime parses. */
    eventToSummaryMs: number | null;
    containmentMs: number | null;
    evidenceMs: number | null;
  };
}
