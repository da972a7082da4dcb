// The small interfaces the pipeline depends on. Adapters implement them; the
// composition root (src/wiring/compose.ts) wires them; tests hand in fakes that record.
import type { LogEntryView } from './evidence/excerpts.ts';
import type { FindingKey } from './finding/key.ts';
import type { ActionOutcome } from './plan/outcome.ts';
import type { Plan } from './plan/plan.ts';
import type { ActionType } from './policy/policy.ts';
import type { Summary } from './summary/document.ts';

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** One JSON line per step; `severity` is what Cloud Logging reads from stdout. */
export interface StepLogger {
  log(severity: Severity, step: string, message: string, fields?: Record<string, unknown>): void;
}

/** What the cluster looked like right before containment, kept as evidence. Plain JSON objects. */
export interface ClusterSnapshots {
  pod?: unknown;
  node?: unknown;
  events?: unknown[];
  /** container name → last lines of its log */
  containerLogs?: Record<string, string>;
  /** The Node annotation container.googleapis.com/instance_id, for the serial console query. */
  nodeInstanceId?: string;
  /** The node the live pod runs on (pod.spec.nodeName), which may differ from the finding's. */
  resolvedNode?: string;
}

export interface ContainmentResult {
  outcomes: ActionOutcome[];
  snapshots: ClusterSnapshots;
  warnings: string[];
}

export interface ContainmentRequest {
  plan: Plan;
  /** Actions the blast-radius budget refused: reported as skipped, never attempted. */
  deniedByBudget: ReadonlyMap<ActionType, string>;
  /** Outcomes already recorded by an earlier delivery of the same finding: not repeated. */
  previous?: ReadonlyMap<ActionType, ActionOutcome>;
  /** Called with each action's outcome as soon as it is known (the ledger records it at once). Must not throw. */
  onOutcome?: (outcome: ActionOutcome) => Promise<void>;
  /** Epoch ms: no action is started after it (reported `pending`), so the summary still goes out within the function timeout. */
  startBy?: number;
  /**
   * before-claim: the idempotent actions the pipeline runs before the ledger claim
   * (src/pipeline/respond.ts, "before the claim"): no snapshots are taken (the run after the
   * claim takes them).
   */
  stage?: 'before-claim';
  /**
   * Outcomes this same delivery's before-claim run reached: kept as they are (not
   * repeated, no second audit Event), and re-read with the rest after the writes.
   */
  carried?: ReadonlyMap<ActionType, ActionOutcome>;
}

/** Preflight + actions against the cluster (cluster-actions issue). Throws TransientError for faults that can heal. */
export interface ClusterResponder {
  contain(request: ContainmentRequest): Promise<ContainmentResult>;
  /**
   * The cluster's side of owner resolution (src/pipeline/resolve-owners.ts), over the connection
   * and the cached getCluster contain() used. Returns at once; each read settles on its own, so a
   * slow one never holds up another. Optional: a responder without it simply yields no such owners.
   */
  ownerFacts?(request: OwnerFactsRequest): OwnerFactsReads;
}

/** Which cluster reads owner resolution wants (an unconfigured source is not read at all). */
export interface OwnerFactsRequest {
  plan: Plan;
  /** The cluster's GCP resource labels (policy owners.clusterLabelKeys is not empty). */
  clusterLabels: boolean;
  /** The finding's namespace, its labels and annotations (policy owners.namespaceKeys is not empty). */
  namespace: boolean;
  /** Deadline of the namespace read (policy owners.timeoutSeconds). */
  timeoutMs: number;
}

/**
 * Raw values as the APIs returned them: src/core/summary/owners.ts validates and bounds every one.
 * null: not read (not asked, nothing to read, or no such notion: a kubeconfig-mapped cluster has
 * no resource labels). A rejection is that source's failure, with a message fit for the summary.
 */
export interface OwnerFactsReads {
  clusterLabels: Promise<Record<string, string> | null>;
  namespace: Promise<{ labels: Record<string, string>; annotations: Record<string, string> } | null>;
}

/** What the pipeline knows beyond the plan, for links and the kept bundle. */
export interface EvidenceContext {
  /** The decoded NotificationMessage (finding + resource), kept in the bundle with env values redacted. */
  notification?: unknown;
}

/** Evidence gathered after containment (evidence issue). Must never throw: failures become `incomplete` notes. */
export interface EvidenceGatherer {
  gather(plan: Plan, snapshots: ClusterSnapshots, context?: EvidenceContext): Promise<EvidenceReport>;
}

export interface EvidenceQueryResult {
  kind: string;
  filter: string;
  /** Logs Explorer URL for the same filter and window. */
  url: string | null;
  count: number;
  excerpts: string[];
  /** Set when the query did not complete: "quota", "error: …". */
  incomplete: string | null;
  /** More entries matched than policy.evidence.maxEntriesPerQuery allowed reading. */
  truncated?: boolean;
}

export interface EvidenceReport {
  queries: EvidenceQueryResult[];
  links: Record<string, string>;
  /** gs:// location of the kept bundle, when a bucket is configured. */
  bundle: string | null;
  notes: string[];
}

/** The port the evidence gatherer reads Cloud Logging through (src/adapters/cloud-logging.ts). */
export interface LogPageReader {
  listPage(request: LogPageRequest): Promise<LogPage>;
}

export interface LogPageRequest {
  /** Always explicit: the client would otherwise default to the function's own project. */
  resourceNames: string[];
  /** Carries its own `timestamp` window (src/core/evidence/logging-filter.ts): the API reads only the last 24 h without one. */
  filter: string;
  pageSize: number;
  pageToken?: string;
  /** Total time for this call including the client's own UNAVAILABLE retries. */
  timeoutMs: number;
}

export interface LogPage {
  entries: LogEntryView[];
  nextPageToken: string | null;
}

/** The port the evidence gatherer keeps the bundle through (src/adapters/cloud-storage.ts). */
export interface ObjectStore {
  readonly bucket: string;
  /** 'exists' when an object of that name is already there (HTTP 412 on ifGenerationMatch: 0). */
  createIfAbsent(name: string, bytes: Uint8Array, contentType: string): Promise<'created' | 'exists'>;
  read(name: string): Promise<Uint8Array>;
}

// ---- Ledger, blast-radius budget and summary sinks (issue 5) ----

/** How one sink fared with one summary. */
export interface SinkDelivery {
  status: 'sent' | 'failed';
  /** Attempts so far, across redeliveries. */
  attempts: number;
  at: string;
  error?: string;
  /** Summary.round of the summary this was about (absent in records from before rounds existed). */
  round?: number;
}

export type LedgerClaim =
  | {
      kind: 'acquired';
      /** Fences every later write: a holder whose lease was taken over can no longer write. */
      token: string;
      /** 1 for the first delivery; higher after a takeover or a retry. */
      attempt: number;
      /** Outcomes recorded by an earlier attempt: passed on as ContainmentRequest.previous. */
      previous: ReadonlyMap<ActionType, ActionOutcome>;
      /** The summary an earlier attempt built, re-sent as is to the sinks it did not reach. */
      summary: Summary | null;
      deliveries: Readonly<Record<string, SinkDelivery>>;
    }
  | { kind: 'completed'; completedAt: string | null }
  /** Another instance holds a live lease: retry later (TransientError → Pub/Sub redelivers). */
  | { kind: 'busy'; leaseExpiresAt: string };

/**
 * Remembers which findings were handled, so that a Pub/Sub redelivery or a
 * concurrent instance never repeats actions or the summary. Writes after
 * `claim` throw TransientError when the lease was lost.
 */
export interface Ledger {
  claim(key: FindingKey, now: Date): Promise<LedgerClaim>;
  recordOutcomes(key: FindingKey, token: string, outcomes: ActionOutcome[], now: Date): Promise<void>;
  recordSummary(key: FindingKey, token: string, summary: Summary, now: Date): Promise<void>;
  recordDelivery(key: FindingKey, token: string, sink: string, delivery: SinkDelivery, now: Date): Promise<void>;
  complete(key: FindingKey, token: string, now: Date): Promise<void>;
  /** Gives the lease up early after a transient failure, so the redelivery can take over at once. */
  release(key: FindingKey, token: string, now: Date): Promise<void>;
}

export interface BudgetLimits {
  windowMinutes: number;
  perCluster: { podRemovals: number; cordons: number };
  perNamespace: { podRemovals: number };
}

export interface BudgetRequest {
  /** The finding key id: reserving twice for the same key is idempotent. */
  key: string;
  /** `projects/P/locations/L/clusters/C` */
  cluster: string;
  namespace: string | null;
  /** Only destructive actions (see budgetedActions in core/plan/budget.ts). */
  actions: ActionType[];
  limits: BudgetLimits;
  now: Date;
}

export interface BudgetDecision {
  granted: ActionType[];
  /** action → "budget: …" reason */
  denied: Map<ActionType, string>;
}

/** Blast-radius budget shared by every instance: reserve before acting. */
export interface Budget {
  reserve(request: BudgetRequest): Promise<BudgetDecision>;
  /** Returns reservations for actions that did not run (skipped by a guard), so they do not count. */
  refund(request: Omit<BudgetRequest, 'limits'>): Promise<void>;
}

/** One destination of the ops summary. Throws TransientError (may heal) or PermanentError. */
export interface SummarySink {
  readonly name: string;
  deliver(summary: Summary): Promise<void>;
}

// ---- Incidents: listing and release (issue 16) ----

/** One `scc-responder release` run for an incident, as recorded in the ledger. */
export interface ReleaseRecord {
  at: string;
  /** Who ran it (the CLI user or principal), when known. */
  by: string | null;
  dryRun: boolean;
  outcomes: ActionOutcome[];
}

/** A finding the ledger remembers, as `incidents` lists it and `release` reads it. */
export interface IncidentRecord {
  /** The finding key id (FindingKey.id). */
  id: string;
  findingName: string | null;
  eventTime: string | null;
  state: 'in-progress' | 'completed';
  attempt: number;
  /** Recorded action outcomes, in ACTION_ORDER. */
  outcomes: ActionOutcome[];
  /** From the recorded summary; null until one was built (or when it could not be read back). */
  summary: { headline: string; outcome: Summary['outcome']; target: Summary['target'] } | null;
  /** The latest release that was not a dry run, else the latest dry run; null if never released. */
  release: ReleaseRecord | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

/** Read side of the ledger for operators, and the record of releases. */
export interface IncidentStore {
  /** Incidents whose record changed at or after `since`, most recently changed first. */
  listIncidents(since: Date): Promise<IncidentRecord[]>;
  /**
   * Records a release on the finding's record. Needs no claim and never changes its state or
   * owner: a release runs by hand, possibly while a delivery still holds the finding.
   * Throws PermanentError when the ledger has no record of the key.
   */
  recordRelease(key: FindingKey, release: ReleaseRecord, now: Date): Promise<void>;
}
