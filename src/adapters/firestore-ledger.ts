// Firestore-backed ledger and blast-radius budget. Every read-modify-write is a
// transaction, so a Pub/Sub redelivery and several instances racing on the
// same finding (or the same cluster's budget) see one consistent history.
//
// One collection holds both kinds of document: `f-<sha256>` per finding
// occurrence and `b-<sha256>` per cluster budget. Both carry `expireAt`, so a
// single Firestore TTL policy on that field (terraform) cleans them up.
import { randomUUID, createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as FirestoreSdk from '@google-cloud/firestore';
import type { DocumentReference, Transaction } from '@google-cloud/firestore';
import {
  decideClaim,
  keepResult,
  withRefusal,
  type ApprovalDecisionRecord,
  type ApprovalRefusal,
  type ApprovalRequestRecord,
  type ApprovalResultRecord,
  type ApprovalStore,
  type DecisionClaim,
  type StoredApproval,
} from '../core/approval/approval.ts';
import { evaluateBudget, type BudgetEntry } from '../core/plan/budget.ts';
import {
  incidentFromDoc,
  newFindingDoc,
  nextRelease,
  type BudgetDoc as BudgetDocOf,
  type FindingDoc,
} from '../core/ledger/incident-record.ts';
import { PermanentError, TransientError } from '../core/errors.ts';
import type { ActionOutcome } from '../core/plan/outcome.ts';
import type { ActionType } from '../core/policy/policy.ts';
import type {
  Budget,
  BudgetDecision,
  BudgetRequest,
  IncidentRecord,
  IncidentStore,
  Ledger,
  LedgerClaim,
  ReleaseRecord,
  SinkDelivery,
} from '../core/ports.ts';
import type { FindingKey } from '../core/finding/key.ts';
import type { Summary } from '../core/summary/document.ts';

// require(), not import: see src/adapters/cloud-logging.ts.
const { Firestore, Timestamp } = createRequire(import.meta.url)('@google-cloud/firestore') as typeof FirestoreSdk;
type Firestore = FirestoreSdk.Firestore;
type Timestamp = FirestoreSdk.Timestamp;

export interface FirestoreLedgerOptions {
  /** Default: the library's detection (GOOGLE_CLOUD_PROJECT / metadata server). */
  projectId?: string;
  /** Default "(default)". */
  databaseId?: string;
  collection: string;
  /** How long a claim stays exclusive without a write: longer than the function timeout. */
  leaseSeconds: number;
  /** Documents expire (TTL policy on `expireAt`) this long after their last write. */
  ttlDays: number;
  /** "host:port" of the Firestore emulator; FIRESTORE_EMULATOR_HOST also works (the library reads it). */
  emulatorHost?: string;
}

// gRPC status codes that can heal by waiting: CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED (transaction contention), INTERNAL, UNAVAILABLE.
const TRANSIENT_CODES = new Set([1, 2, 4, 8, 10, 13, 14]);

function classify(error: unknown, what: string): Error {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const code = (error as { code?: unknown }).code;
  const message = `${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  if (typeof code === 'number' && !TRANSIENT_CODES.has(code)) return new PermanentError(message, { cause: error });
  return new TransientError(message, { cause: error });
}

type LedgerDoc = FindingDoc<Timestamp>;

type BudgetDoc = BudgetDocOf<Timestamp>;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function createFirestore(options: Pick<FirestoreLedgerOptions, 'projectId' | 'databaseId' | 'emulatorHost'>): Firestore {
  return new Firestore({
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(options.databaseId ? { databaseId: options.databaseId } : {}),
    // On the emulator, a universe domain keeps the client from probing the metadata server.
    ...(options.emulatorHost ? { host: options.emulatorHost, ssl: false, universeDomain: 'googleapis.com' } : {}),
    ignoreUndefinedProperties: true,
  });
}


function parseSummary(json: string | null | undefined): Summary | null {
  if (typeof json !== 'string') return null;
  try {
    return JSON.parse(json) as Summary;
  } catch {
    return null;
  }
}

export class FirestoreLedger implements Ledger, Budget, IncidentStore, ApprovalStore {
  readonly db: Firestore;
  readonly #collection: string;
  readonly #leaseMs: number;
  readonly #ttlMs: number;

  constructor(options: FirestoreLedgerOptions, db?: Firestore) {
    this.db = db ?? createFirestore(options);
    this.#collection = options.collection;
    this.#leaseMs = options.leaseSeconds * 1000;
    this.#ttlMs = options.ttlDays * 86_400_000;
  }

  #findingDoc(key: FindingKey | string): DocumentReference {
    const id = typeof key === 'string' ? key : key.id;
    // The id is a hash, never the attacker-chosen finding name.
    if (!/^[a-f0-9]{64}$/.test(id)) throw new PermanentError('ledger: finding key id must be a sha256 hex digest');
    return this.db.collection(this.#collection).doc(`f-${id}`);
  }

  #budgetDoc(cluster: string): DocumentReference {
    return this.db.collection(this.#collection).doc(`b-${sha256(cluster)}`);
  }

  #expireAt(now: Date, extraMs = 0): Timestamp {
    return Timestamp.fromMillis(now.getTime() + this.#ttlMs + extraMs);
  }

  async #run<T>(what: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    try {
      return await this.db.runTransaction(fn, { maxAttempts: 5 });
    } catch (error) {
      throw classify(error, what);
    }
  }

  async claim(key: FindingKey, now: Date): Promise<LedgerClaim> {
    const ref = this.#findingDoc(key);
    const token = randomUUID();
    return this.#run('ledger claim', async (tx) => {
      const snap = await tx.get(ref);
      const lease = Timestamp.fromMillis(now.getTime() + this.#leaseMs);
      const stamp = Timestamp.fromDate(now);
      if (!snap.exists) {
        const doc: LedgerDoc = newFindingDoc(key, token, { lease, now: stamp, expireAt: this.#expireAt(now) });
        tx.create(ref, doc);
        return { kind: 'acquired', token, attempt: 1, previous: new Map(), summary: null, deliveries: {} };
      }
      const doc = snap.data() as LedgerDoc;
      if (doc.state === 'completed') {
        return { kind: 'completed', completedAt: doc.completedAt?.toDate().toISOString() ?? null };
      }
      if (doc.owner !== null && doc.leaseExpiresAt !== null && doc.leaseExpiresAt.toMillis() > now.getTime()) {
        return { kind: 'busy', leaseExpiresAt: doc.leaseExpiresAt.toDate().toISOString() };
      }
      // Released after a transient failure, or the holder died: take over and resume.
      const attempt = (doc.attempt ?? 0) + 1;
      tx.update(ref, { owner: token, leaseExpiresAt: lease, attempt, updatedAt: stamp, expireAt: this.#expireAt(now) });
      let summary: Summary | null = null;
      if (typeof doc.summaryJson === 'string') {
        try {
          summary = JSON.parse(doc.summaryJson) as Summary;
        } catch {
          summary = null; // rebuilt from the recorded outcomes
        }
      }
      const previous = new Map(Object.entries(doc.outcomes ?? {}) as [ActionType, ActionOutcome][]);
      return { kind: 'acquired', token, attempt, previous, summary, deliveries: doc.deliveries ?? {} };
    });
  }

  /** Reads the document, checks the lease is still ours, then applies `fields` and extends the lease. */
  async #write(what: string, key: FindingKey, token: string, now: Date, fields: Record<string, unknown>): Promise<void> {
    const ref = this.#findingDoc(key);
    await this.#run(what, async (tx) => {
      const snap = await tx.get(ref);
      const doc = snap.data() as LedgerDoc | undefined;
      if (!doc || doc.owner !== token || doc.state !== 'in-progress') {
        throw new TransientError(`${what}: lease lost (another instance took the finding over)`);
      }
      tx.update(ref, {
        leaseExpiresAt: Timestamp.fromMillis(now.getTime() + this.#leaseMs),
        updatedAt: Timestamp.fromDate(now),
        expireAt: this.#expireAt(now),
        ...fields,
      });
    });
  }

  async recordOutcomes(key: FindingKey, token: string, outcomes: ActionOutcome[], now: Date): Promise<void> {
    const fields: Record<string, unknown> = {};
    for (const o of outcomes) fields[`outcomes.${o.type}`] = o;
    await this.#write('ledger record outcomes', key, token, now, fields);
  }

  async recordSummary(key: FindingKey, token: string, summary: Summary, now: Date): Promise<void> {
    const json = JSON.stringify(summary);
    // Firestore documents are capped at 1 MiB; a summary is far below that, but never fail the run over it.
    await this.#write('ledger record summary', key, token, now, { summaryJson: json.length < 800_000 ? json : null });
  }

  async recordDelivery(key: FindingKey, token: string, sink: string, delivery: SinkDelivery, now: Date): Promise<void> {
    await this.#write('ledger record delivery', key, token, now, { [`deliveries.${sink}`]: delivery });
  }

  async complete(key: FindingKey, token: string, now: Date): Promise<void> {
    await this.#write('ledger complete', key, token, now, {
      state: 'completed',
      completedAt: Timestamp.fromDate(now),
      owner: null,
      leaseExpiresAt: null,
    });
  }

  async release(key: FindingKey, token: string, now: Date): Promise<void> {
    const ref = this.#findingDoc(key);
    await this.#run('ledger release', async (tx) => {
      const snap = await tx.get(ref);
      const doc = snap.data() as LedgerDoc | undefined;
      if (!doc || doc.owner !== token) return;
      tx.update(ref, { owner: null, leaseExpiresAt: null, updatedAt: Timestamp.fromDate(now) });
    });
  }

  async reserve(request: BudgetRequest): Promise<BudgetDecision> {
    const ref = this.#budgetDoc(request.cluster);
    const windowMs = request.limits.windowMinutes * 60_000;
    return this.#run('budget reserve', async (tx) => {
      const snap = await tx.get(ref);
      const stored = ((snap.data() as BudgetDoc | undefined)?.entries ?? []) as BudgetEntry[];
      const result = evaluateBudget(stored, request);
      const doc: BudgetDoc = {
        kind: 'budget',
        cluster: request.cluster,
        entries: result.entries,
        updatedAt: Timestamp.fromDate(request.now),
        expireAt: this.#expireAt(request.now, windowMs),
      };
      tx.set(ref, doc);
      return { granted: result.granted, denied: result.denied };
    });
  }

  async refund(request: Omit<BudgetRequest, 'limits'>): Promise<void> {
    const ref = this.#budgetDoc(request.cluster);
    await this.#run('budget refund', async (tx) => {
      const snap = await tx.get(ref);
      const doc = snap.data() as BudgetDoc | undefined;
      if (!doc) return;
      const drop = new Set(request.actions);
      const entries = doc.entries.filter((e) => !(e.key === request.key && drop.has(e.action)));
      if (entries.length !== doc.entries.length) tx.update(ref, { entries, updatedAt: Timestamp.fromDate(request.now) });
    });
  }

  async listIncidents(since: Date): Promise<IncidentRecord[]> {
    let docs: FirestoreSdk.QueryDocumentSnapshot[];
    try {
      // One range filter on one field: served by Firestore's automatic single-field index. Filtering
      // on `kind` as well would need a composite index (terraform), so budget documents are dropped here.
      const snap = await this.db.collection(this.#collection).where('updatedAt', '>=', Timestamp.fromDate(since)).get();
      docs = snap.docs;
    } catch (error) {
      throw classify(error, 'ledger list incidents');
    }
    const incidents: IncidentRecord[] = [];
    for (const snap of docs) {
      const doc = snap.data() as LedgerDoc | BudgetDoc;
      if (doc.kind !== 'finding' || !snap.id.startsWith('f-')) continue;
      incidents.push(
        incidentFromDoc(snap.id.slice(2), doc, {
          createdAt: doc.createdAt.toDate().toISOString(),
          updatedAt: doc.updatedAt.toDate().toISOString(),
          completedAt: doc.completedAt?.toDate().toISOString() ?? null,
        }),
      );
    }
    return incidents.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id));
  }

  async recordRelease(key: FindingKey, release: ReleaseRecord, now: Date): Promise<void> {
    const ref = this.#findingDoc(key);
    await this.#run('ledger record release', async (tx) => {
      const snap = await tx.get(ref);
      const doc = snap.data() as LedgerDoc | undefined;
      if (!doc) throw new PermanentError(`ledger: no incident ${key.id}`);
      const next = nextRelease(doc.release, release);
      if (next === null) return;
      // Only these fields: the claim (owner, lease, state) belongs to whichever delivery holds it.
      tx.update(ref, { release: next, updatedAt: Timestamp.fromDate(now), expireAt: this.#expireAt(now) });
    });
  }

  // ---- ApprovalStore: the `approval` field of the finding's document. None of these touch the
  // claim (owner, lease, state): the dry run that records the request holds it, and the decision
  // comes long after it completed.

  async recordRequest(key: FindingKey, request: ApprovalRequestRecord, now: Date): Promise<ApprovalRequestRecord> {
    const ref = this.#findingDoc(key);
    return this.#run('ledger record approval request', async (tx) => {
      const snap = await tx.get(ref);
      const doc = snap.data() as LedgerDoc | undefined;
      if (!doc) throw new PermanentError(`ledger: no incident ${key.id}`);
      if (doc.approval?.request) return doc.approval.request;
      tx.update(ref, { approval: { request, decision: null, result: null, refusals: [] }, updatedAt: Timestamp.fromDate(now), expireAt: this.#expireAt(now) });
      return request;
    });
  }

  async getRequest(id: string, _now: Date): Promise<StoredApproval | null> {
    const ref = this.#findingDoc(id);
    let doc: LedgerDoc | undefined;
    try {
      doc = (await ref.get()).data() as LedgerDoc | undefined;
    } catch (error) {
      throw classify(error, 'ledger read approval');
    }
    if (!doc?.approval?.request) return null;
    return { state: { ...doc.approval, refusals: doc.approval.refusals ?? [] }, summary: parseSummary(doc.summaryJson) };
  }

  async claimDecision(id: string, decision: ApprovalDecisionRecord, now: Date): Promise<DecisionClaim> {
    const ref = this.#findingDoc(id);
    return this.#run('ledger claim approval decision', async (tx) => {
      const doc = (await tx.get(ref)).data() as LedgerDoc | undefined;
      const { claim, next } = decideClaim(doc?.approval, decision);
      if (next) tx.update(ref, { approval: next, updatedAt: Timestamp.fromDate(now), expireAt: this.#expireAt(now) });
      return claim;
    });
  }

  async recordDecision(id: string, result: ApprovalResultRecord, now: Date): Promise<ApprovalResultRecord> {
    const ref = this.#findingDoc(id);
    return this.#run('ledger record approval result', async (tx) => {
      const doc = (await tx.get(ref)).data() as LedgerDoc | undefined;
      if (!doc?.approval) throw new PermanentError(`ledger: no approval request for incident ${id}`);
      const { kept, next } = keepResult(doc.approval, result);
      if (next) tx.update(ref, { 'approval.result': result, updatedAt: Timestamp.fromDate(now), expireAt: this.#expireAt(now) });
      return kept;
    });
  }

  async recordRefusal(id: string, refusal: ApprovalRefusal, now: Date): Promise<void> {
    const ref = this.#findingDoc(id);
    await this.#run('ledger record approval refusal', async (tx) => {
      const doc = (await tx.get(ref)).data() as LedgerDoc | undefined;
      if (!doc?.approval) return; // nothing to attach it to: the log line is the record
      tx.update(ref, { approval: withRefusal(doc.approval, refusal), updatedAt: Timestamp.fromDate(now), expireAt: this.#expireAt(now) });
    });
  }

  async close(): Promise<void> {
    await this.db.terminate();
  }
}
