// The ledger and blast-radius budget for one machine: what the CLI (`respond`,
// `release`, `incidents`) uses when FIRESTORE_DATABASE is unset, so a terminal
// enforces with the same claim and the same limits as the function. The
// function never uses it: its instances run on many machines and a file on
// one of them would share nothing (composition must not fall back to it).
//
// Same semantics and the same document content as FirestoreLedger
// (firestore-ledger.ts): one row per document, keyed by the same ids
// (`f-<sha256>` per finding, `b-<sha256(cluster)>` per cluster budget), the
// document stored as JSON with timestamps as ISO strings. Every
// read-modify-write runs in one `BEGIN IMMEDIATE` transaction, which takes
// the database's write lock before the read: a second CLI process waits (busy
// timeout) and then reads what the first committed, exactly as a second
// function instance's Firestore transaction would. Expired documents (the TTL
// on `expireAt`) count as gone and are deleted by claim and reserve, against
// the caller's clock.
//
// Why node:sqlite: it ships with Node 22 (no dependency, no native build, no
// install script), and SQLite gives cross-process transactions over one
// file with locking that is well understood and tested for decades. The
// alternatives were a JSON file with a lock file (we would be writing the
// locking, crash recovery and atomic rename ourselves), better-sqlite3 (the
// same engine, but a native addon built at install time for each Node ABI),
// and LMDB/LevelDB bindings (native too, and LevelDB allows one process at a
// time, which is the very case this store exists for). The price: node:sqlite
// is marked experimental and prints an ExperimentalWarning when it loads;
// loadSqlite() below swallows exactly that one warning, so the CLI needs no
// special Node flags whichever way it is started.
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type * as SqliteModule from 'node:sqlite';
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
import { evaluateBudget } from '../core/plan/budget.ts';
import {
  incidentFromDoc as incidentFromStoredDoc,
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

type DatabaseSync = SqliteModule.DatabaseSync;
type StatementSync = SqliteModule.StatementSync;

export interface LocalLedgerOptions {
  /** The SQLite file; its directory is created (0700) if missing, the file is kept 0600. */
  path: string;
  /** How long a claim stays exclusive without a write (LEDGER_LEASE_SECONDS). */
  leaseSeconds: number;
  /** Documents expire this long after their last write. */
  ttlDays: number;
  /**
   * How long to wait for another process's transaction before giving up with a TransientError.
   * SQLite waits synchronously (the event loop is blocked meanwhile), so this stays below the
   * report's per-call deadline (LEDGER_TIMEOUT_SECONDS, 5 s). Transactions here last microseconds.
   */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 3_000;
const SCHEMA_VERSION = 1;

type LedgerDoc = FindingDoc<string>;

type BudgetDoc = BudgetDocOf<string>;

type Doc = LedgerDoc | BudgetDoc;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `$SCC_RESPONDER_LOCAL_LEDGER`, else `$XDG_STATE_HOME/scc-responder/ledger.sqlite`, else `~/.local/state/scc-responder/ledger.sqlite`. */
export function localLedgerPath(env: Record<string, string | undefined>): string {
  const explicit = env.SCC_RESPONDER_LOCAL_LEDGER;
  // resolve(): also keeps SQLite's special names (":memory:", "") from meaning anything but a file.
  if (explicit) return resolve(explicit);
  // The XDG spec: a relative XDG_STATE_HOME is invalid and must be ignored.
  const stateHome = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(stateHome, 'scc-responder', 'ledger.sqlite');
}

/**
 * The local store the CLI uses when FIRESTORE_DATABASE is unset. Only for the CLI: the function
 * requires Firestore, because a file on one instance is not shared with the others.
 */
export function localLedgerFromEnv(
  env: Record<string, string | undefined>,
  options: { leaseSeconds?: number; ttlDays?: number; busyTimeoutMs?: number } = {},
): LocalLedger {
  return new LocalLedger({
    path: localLedgerPath(env),
    leaseSeconds: options.leaseSeconds ?? 600,
    ttlDays: options.ttlDays ?? 30,
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
  });
}

let sqlite: typeof SqliteModule | undefined;

/** Loads node:sqlite once, without the ExperimentalWarning it prints (every other warning goes through). */
function loadSqlite(): typeof SqliteModule {
  if (sqlite) return sqlite;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    const text = typeof warning === 'string' ? warning : warning.message;
    if (type === 'ExperimentalWarning' && text.startsWith('SQLite ')) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    sqlite = createRequire(import.meta.url)('node:sqlite') as typeof SqliteModule;
    return sqlite;
  } catch (error) {
    throw new PermanentError('local ledger: node:sqlite is not available (it needs Node 22.13 or later)', { cause: error });
  } finally {
    process.emitWarning = emitWarning;
  }
}

// SQLite primary result codes that can heal by waiting: BUSY, LOCKED, IOERR, FULL, PROTOCOL.
const TRANSIENT_SQLITE = new Set([5, 6, 10, 13, 15]);

function classify(error: unknown, what: string): Error {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const message = `${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  const errcode = (error as { errcode?: unknown }).errcode;
  // Extended result codes carry the primary code in the low byte.
  if (typeof errcode === 'number' && TRANSIENT_SQLITE.has(errcode & 0xff)) return new TransientError(message, { cause: error });
  // Cannot open, read-only, corrupt, not a database, permission: waiting will not help.
  return new PermanentError(message, { cause: error });
}

/** Creates the file 0600 (and its directory 0700) before SQLite opens it, and tightens a file that is wider. */
function prepareFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new PermanentError(`local ledger: ${path} is not a regular file`);
    // It holds finding names, targets and summaries. SQLite gives its journal the same mode.
    if ((stat.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}


export class LocalLedger implements Ledger, Budget, IncidentStore, ApprovalStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #leaseMs: number;
  readonly #ttlMs: number;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #purge: StatementSync;
  readonly #since: StatementSync;

  constructor(options: LocalLedgerOptions) {
    this.path = resolve(options.path);
    this.#leaseMs = options.leaseSeconds * 1000;
    this.#ttlMs = options.ttlDays * 86_400_000;
    const { DatabaseSync } = loadSqlite();
    try {
      prepareFile(this.path);
      this.#db = new DatabaseSync(this.path);
    } catch (error) {
      throw classify(error, `local ledger: cannot open ${this.path}`);
    }
    try {
      // Set before anything else touches the file: the schema setup below may already contend.
      this.#db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
      this.#transaction('local ledger: schema', () => {
        const version = (this.#db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
        if (version > SCHEMA_VERSION) {
          throw new PermanentError(`local ledger: ${this.path} was written by a newer scc-responder (schema ${version})`);
        }
        // updated_at and expire_at (epoch ms) mirror the document's fields, for the listing and the TTL.
        this.#db.exec(`
          CREATE TABLE IF NOT EXISTS documents (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            expire_at INTEGER NOT NULL,
            body TEXT NOT NULL
          ) STRICT;
          CREATE INDEX IF NOT EXISTS documents_updated_at ON documents (updated_at);
          CREATE INDEX IF NOT EXISTS documents_expire_at ON documents (expire_at);
          PRAGMA user_version = ${SCHEMA_VERSION};
        `);
      });
      this.#get = this.#db.prepare('SELECT body FROM documents WHERE id = ?');
      this.#put = this.#db.prepare(
        `INSERT INTO documents (id, kind, updated_at, expire_at, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, updated_at = excluded.updated_at, expire_at = excluded.expire_at, body = excluded.body`,
      );
      this.#purge = this.#db.prepare('DELETE FROM documents WHERE expire_at <= ?');
      this.#since = this.#db.prepare("SELECT id, body FROM documents WHERE kind = 'finding' AND updated_at >= ? ORDER BY updated_at DESC, id");
    } catch (error) {
      this.#db.close();
      throw classify(error, `local ledger: cannot open ${this.path}`);
    }
  }

  /** Runs `work` holding the write lock from the first read to the commit; rolls back on any throw. */
  #transaction<T>(what: string, work: () => T): T {
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw classify(error, what);
    }
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw classify(error, what);
    }
  }

  #read<T extends Doc>(id: string): T | undefined {
    const row = this.#get.get(id) as { body: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.body) as T;
    } catch (error) {
      throw new PermanentError(`local ledger: document ${id} in ${this.path} is not valid JSON`, { cause: error });
    }
  }

  /**
   * Reads as of `now`: a document past its expireAt counts as gone, and every expired document is
   * deleted, which is what Firestore's TTL policy does in the background, here against the caller's clock.
   */
  #readLive<T extends Doc>(id: string, now: Date): T | undefined {
    const doc = this.#read<T>(id);
    this.#purge.run(now.getTime());
    return doc !== undefined && Date.parse(doc.expireAt) > now.getTime() ? doc : undefined;
  }

  #store(id: string, doc: Doc): void {
    this.#put.run(id, doc.kind, Date.parse(doc.updatedAt), Date.parse(doc.expireAt), JSON.stringify(doc));
  }

  #findingId(key: FindingKey | string): string {
    const id = typeof key === 'string' ? key : key.id;
    // The id is a hash, never the attacker-chosen finding name.
    if (!/^[a-f0-9]{64}$/.test(id)) throw new PermanentError('ledger: finding key id must be a sha256 hex digest');
    return `f-${id}`;
  }

  #budgetId(cluster: string): string {
    return `b-${sha256(cluster)}`;
  }

  #expireAt(now: Date, extraMs = 0): string {
    return iso(now.getTime() + this.#ttlMs + extraMs);
  }

  async claim(key: FindingKey, now: Date): Promise<LedgerClaim> {
    const id = this.#findingId(key);
    const token = randomUUID();
    return this.#transaction('ledger claim', () => {
      const doc = this.#readLive<LedgerDoc>(id, now);
      const lease = iso(now.getTime() + this.#leaseMs);
      const stamp = now.toISOString();
      if (!doc) {
        this.#store(id, newFindingDoc(key, token, { lease, now: stamp, expireAt: this.#expireAt(now) }));
        return { kind: 'acquired', token, attempt: 1, previous: new Map(), summary: null, deliveries: {} };
      }
      if (doc.state === 'completed') return { kind: 'completed', completedAt: doc.completedAt ?? null };
      if (doc.owner !== null && doc.leaseExpiresAt !== null && Date.parse(doc.leaseExpiresAt) > now.getTime()) {
        return { kind: 'busy', leaseExpiresAt: doc.leaseExpiresAt };
      }
      // Released after a transient failure, or the holder died: take over and resume.
      const attempt = (doc.attempt ?? 0) + 1;
      this.#store(id, { ...doc, owner: token, leaseExpiresAt: lease, attempt, updatedAt: stamp, expireAt: this.#expireAt(now) });
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

  /** Reads the document, checks the lease is still ours, then applies `change` and extends the lease. */
  #write(what: string, key: FindingKey, token: string, now: Date, change: (doc: LedgerDoc) => Partial<LedgerDoc>): void {
    const id = this.#findingId(key);
    this.#transaction(what, () => {
      const doc = this.#read<LedgerDoc>(id);
      if (!doc || doc.owner !== token || doc.state !== 'in-progress') {
        throw new TransientError(`${what}: lease lost (another instance took the finding over)`);
      }
      this.#store(id, {
        ...doc,
        leaseExpiresAt: iso(now.getTime() + this.#leaseMs),
        updatedAt: now.toISOString(),
        expireAt: this.#expireAt(now),
        ...change(doc),
      });
    });
  }

  async recordOutcomes(key: FindingKey, token: string, outcomes: ActionOutcome[], now: Date): Promise<void> {
    this.#write('ledger record outcomes', key, token, now, (doc) => {
      const merged = { ...doc.outcomes };
      for (const o of outcomes) merged[o.type] = o;
      return { outcomes: merged };
    });
  }

  async recordSummary(key: FindingKey, token: string, summary: Summary, now: Date): Promise<void> {
    const json = JSON.stringify(summary);
    // The same cap as Firestore's (1 MiB documents), so both stores keep the same records.
    this.#write('ledger record summary', key, token, now, () => ({ summaryJson: json.length < 800_000 ? json : null }));
  }

  async recordDelivery(key: FindingKey, token: string, sink: string, delivery: SinkDelivery, now: Date): Promise<void> {
    this.#write('ledger record delivery', key, token, now, (doc) => ({ deliveries: { ...doc.deliveries, [sink]: delivery } }));
  }

  async complete(key: FindingKey, token: string, now: Date): Promise<void> {
    this.#write('ledger complete', key, token, now, () => ({
      state: 'completed',
      completedAt: now.toISOString(),
      owner: null,
      leaseExpiresAt: null,
    }));
  }

  async release(key: FindingKey, token: string, now: Date): Promise<void> {
    const id = this.#findingId(key);
    this.#transaction('ledger release', () => {
      const doc = this.#read<LedgerDoc>(id);
      if (!doc || doc.owner !== token) return;
      this.#store(id, { ...doc, owner: null, leaseExpiresAt: null, updatedAt: now.toISOString() });
    });
  }

  async reserve(request: BudgetRequest): Promise<BudgetDecision> {
    const id = this.#budgetId(request.cluster);
    const windowMs = request.limits.windowMinutes * 60_000;
    return this.#transaction('budget reserve', () => {
      const stored = this.#readLive<BudgetDoc>(id, request.now)?.entries ?? [];
      const result = evaluateBudget(stored, request);
      this.#store(id, {
        kind: 'budget',
        cluster: request.cluster,
        entries: result.entries,
        updatedAt: request.now.toISOString(),
        expireAt: this.#expireAt(request.now, windowMs),
      });
      return { granted: result.granted, denied: result.denied };
    });
  }

  async refund(request: Omit<BudgetRequest, 'limits'>): Promise<void> {
    const id = this.#budgetId(request.cluster);
    this.#transaction('budget refund', () => {
      const doc = this.#read<BudgetDoc>(id);
      if (!doc) return;
      const drop = new Set(request.actions);
      const entries = doc.entries.filter((e) => !(e.key === request.key && drop.has(e.action)));
      if (entries.length !== doc.entries.length) this.#store(id, { ...doc, entries, updatedAt: request.now.toISOString() });
    });
  }

  async listIncidents(since: Date): Promise<IncidentRecord[]> {
    let rows: { id: string; body: string }[];
    try {
      rows = this.#since.all(since.getTime()) as { id: string; body: string }[];
    } catch (error) {
      throw classify(error, 'ledger list incidents');
    }
    return rows.map((row) => {
      let doc: LedgerDoc;
      try {
        doc = JSON.parse(row.body) as LedgerDoc;
      } catch (error) {
        throw new PermanentError(`local ledger: document ${row.id} in ${this.path} is not valid JSON`, { cause: error });
      }
      return incidentFromStoredDoc(row.id.slice(2), doc, { createdAt: doc.createdAt, updatedAt: doc.updatedAt, completedAt: doc.completedAt });
    });
  }

  async recordRelease(key: FindingKey, release: ReleaseRecord, now: Date): Promise<void> {
    const id = this.#findingId(key);
    this.#transaction('ledger record release', () => {
      const doc = this.#read<LedgerDoc>(id);
      if (!doc) throw new PermanentError(`ledger: no incident ${key.id}`);
      const next = nextRelease(doc.release, release);
      if (next === null) return;
      // Only these fields: the claim (owner, lease, state) belongs to whichever delivery holds it.
      this.#store(id, { ...doc, release: next, updatedAt: now.toISOString(), expireAt: this.#expireAt(now) });
    });
  }

  // ---- ApprovalStore: the `approval` field of the finding's document, as FirestoreLedger keeps it.
  // None of these touch the claim (owner, lease, state).

  async recordRequest(key: FindingKey, request: ApprovalRequestRecord, now: Date): Promise<ApprovalRequestRecord> {
    const id = this.#findingId(key);
    return this.#transaction('ledger record approval request', () => {
      const doc = this.#readLive<LedgerDoc>(id, now);
      if (!doc) throw new PermanentError(`ledger: no incident ${key.id}`);
      if (doc.approval?.request) return doc.approval.request;
      this.#store(id, { ...doc, approval: { request, decision: null, result: null, refusals: [] }, updatedAt: now.toISOString(), expireAt: this.#expireAt(now) });
      return request;
    });
  }

  async getRequest(key: string, now: Date): Promise<StoredApproval | null> {
    const id = this.#findingId(key);
    const doc = this.#transaction('ledger read approval', () => this.#readLive<LedgerDoc>(id, now));
    if (!doc?.approval?.request) return null;
    let summary: Summary | null = null;
    try {
      summary = typeof doc.summaryJson === 'string' ? (JSON.parse(doc.summaryJson) as Summary) : null;
    } catch {
      summary = null;
    }
    return { state: { ...doc.approval, refusals: doc.approval.refusals ?? [] }, summary };
  }

  async claimDecision(key: string, decision: ApprovalDecisionRecord, now: Date): Promise<DecisionClaim> {
    const id = this.#findingId(key);
    return this.#transaction('ledger claim approval decision', () => {
      const doc = this.#readLive<LedgerDoc>(id, now);
      const { claim, next } = decideClaim(doc?.approval, decision);
      if (doc && next) this.#store(id, { ...doc, approval: next, updatedAt: now.toISOString(), expireAt: this.#expireAt(now) });
      return claim;
    });
  }

  async recordDecision(key: string, result: ApprovalResultRecord, now: Date): Promise<ApprovalResultRecord> {
    const id = this.#findingId(key);
    return this.#transaction('ledger record approval result', () => {
      const doc = this.#readLive<LedgerDoc>(id, now);
      if (!doc?.approval) throw new PermanentError(`ledger: no approval request for incident ${key}`);
      const { kept, next } = keepResult(doc.approval, result);
      if (next) this.#store(id, { ...doc, approval: next, updatedAt: now.toISOString(), expireAt: this.#expireAt(now) });
      return kept;
    });
  }

  async recordRefusal(key: string, refusal: ApprovalRefusal, now: Date): Promise<void> {
    const id = this.#findingId(key);
    this.#transaction('ledger record approval refusal', () => {
      const doc = this.#readLive<LedgerDoc>(id, now);
      if (!doc?.approval) return; // nothing to attach it to: the log line is the record
      this.#store(id, { ...doc, approval: withRefusal(doc.approval, refusal), updatedAt: now.toISOString(), expireAt: this.#expireAt(now) });
    });
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
