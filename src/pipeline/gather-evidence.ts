// Step 4 of the playbook, done for the analyst: the Logging queries run in
// parallel, each bounded in pages, entries and time; the links; the kept
// bundle. Evidence never blocks or undoes containment: gather() does not
// throw, a failure becomes an `incomplete` note.
import { bundleObjects, bundlePrefix, buildManifest, sha256Hex, type ManifestEntry } from '../core/evidence/bundle.ts';
import { relevanceTerms, sanitizeLine, selectExcerpts, type LogEntryView } from '../core/evidence/excerpts.ts';
import { evidenceLinks, logsExplorerUrl } from '../core/evidence/links.ts';
import { gatherQueries } from '../core/evidence/queries.ts';
import { targetOf, type EvidenceQuery, type TimeWindow } from '../core/evidence/logging-filter.ts';
import type { Plan } from '../core/plan/plan.ts';
import type { Policy } from '../core/policy/policy.ts';
import type {
  ClusterSnapshots,
  EvidenceContext,
  EvidenceGatherer,
  EvidenceQueryResult,
  EvidenceReport,
  LogPageReader,
  ObjectStore,
  StepLogger,
} from '../core/ports.ts';
import { Coalescer, loggingReadLimiter, quotaBackoffMs, type RateLimiter } from '../core/evidence/request-limits.ts';

export interface EvidenceGathererDeps {
  policy: Policy;
  log: StepLogger;
  now: () => Date;
  logging: LogPageReader;
  /** Set when EVIDENCE_BUCKET is configured. */
  storage?: ObjectStore;
  /** Injected in tests to advance a fake clock instead of waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** One entries.list call, including the client's own UNAVAILABLE retries. */
  requestTimeoutMs?: number;
  /** Queries on the same target within this span share one set of requests (see runQuery). */
  coalesceWindowMs?: number;
  /** Per-project read limiter; one per process (the factory makes one if none is given). */
  limiter?: RateLimiter;
}

const GRPC_CODE_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};
const RESOURCE_EXHAUSTED = 8;

interface QueryRun {
  entries: LogEntryView[];
  truncated: boolean;
  incomplete: string | null;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function describeError(error: unknown): string {
  const code = errorCode(error);
  const name = code === undefined ? null : (GRPC_CODE_NAMES[code] ?? `code ${code}`);
  const message = error instanceof Error ? error.message : String(error);
  return sanitizeLine(name ? `${name}: ${message}` : message, 200);
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How long a read is shared with later findings on the same target. A spray of
 * shells produces dozens of findings a minute, each with its own event time and
 * so its own window; re-reading a pod's logs for each would spend the project's
 * 60 reads a minute on one pod and starve every other target (bench/: burst).
 */
export const DEFAULT_COALESCE_WINDOW_MS = 5 * 60_000;

function within(timestamp: string | null, window: TimeWindow): boolean {
  return timestamp === null || (timestamp >= window.start && timestamp <= window.end);
}

export function createEvidenceGatherer(deps: EvidenceGathererDeps): EvidenceGatherer {
  const { policy, log, logging, storage } = deps;
  const settings = policy.evidence;
  const sleep = deps.sleep ?? realSleep;
  const clock = () => deps.now().getTime();
  const limiter = deps.limiter ?? loggingReadLimiter(clock);
  const coalescer = new Coalescer<QueryRun, TimeWindow>({ ttlMs: deps.coalesceWindowMs ?? DEFAULT_COALESCE_WINDOW_MS, now: clock });
  const requestTimeoutMs = deps.requestTimeoutMs ?? 10_000;

  async function readQuery(query: EvidenceQuery, budgetEnd: number): Promise<QueryRun> {
    if (!/\btimestamp\s*[<>]=?/.test(query.filter)) {
      // Without a timestamp clause the client silently adds its own 24 h bound.
      return { entries: [], truncated: false, incomplete: 'error: filter has no explicit time window' };
    }
    const project = query.resourceNames[0] ?? '';
    const entries: LogEntryView[] = [];
    let pageToken: string | undefined;
    let quotaAttempt = 0;
    // Paging stops once the budget and one request's time are spent: evidence must not hold the summary back.
    const hardStop = budgetEnd + requestTimeoutMs;
    while (entries.length < settings.maxEntriesPerQuery) {
      if (clock() >= hardStop) return { entries, truncated: pageToken !== undefined, incomplete: 'time budget spent' };
      const wait = limiter.reserve(project, Math.max(0, budgetEnd - clock()));
      if (wait === null) return { entries, truncated: pageToken !== undefined, incomplete: 'quota' };
      if (wait > 0) await sleep(wait);
      let page;
      try {
        page = await logging.listPage({
          resourceNames: query.resourceNames,
          filter: query.filter,
          pageSize: Math.min(settings.pageSize, settings.maxEntriesPerQuery - entries.length),
          ...(pageToken ? { pageToken } : {}),
          timeoutMs: requestTimeoutMs,
        });
      } catch (error) {
        if (errorCode(error) === RESOURCE_EXHAUSTED) {
          const delay = quotaBackoffMs(quotaAttempt++);
          if (clock() + delay > budgetEnd) return { entries, truncated: pageToken !== undefined, incomplete: 'quota' };
          log.log('NOTICE', 'evidence', 'Logging read quota exhausted, backing off', { kind: query.kind, delayMs: delay });
          await sleep(delay);
          continue;
        }
        return { entries, truncated: pageToken !== undefined, incomplete: `error: ${describeError(error)}` };
      }
      entries.push(...page.entries.slice(0, settings.maxEntriesPerQuery - entries.length));
      if (page.nextPageToken === null) return { entries, truncated: false, incomplete: null };
      pageToken = page.nextPageToken;
    }
    return { entries, truncated: true, incomplete: null };
  }

  // Keyed by target (the filter without its time window), not by the exact filter: a later
  // finding on the same pod or node shares a live read whose window holds its event time,
  // and keeps only the entries inside its own window. Its summary's Logs Explorer link still
  // carries its own full window.
  function runQuery(query: EvidenceQuery, budgetEnd: number): Promise<QueryRun> {
    const key = JSON.stringify([targetOf(query), settings.pageSize, settings.maxEntriesPerQuery]);
    const eventTime = new Date(Date.parse(query.window.start) + settings.windowBeforeMinutes * 60_000).toISOString();
    const { value, shared } = coalescer.run(
      key,
      () =>
        readQuery(query, budgetEnd).catch((error: unknown) => ({
          entries: [],
          truncated: false,
          incomplete: `error: ${describeError(error)}`,
        })),
      (run) => run.incomplete === null,
      { meta: query.window, accept: (w) => w !== undefined && w.start <= eventTime && eventTime <= w.end },
    );
    if (!shared) return value;
    log.log('DEBUG', 'evidence', 'same target already being read or just read: sharing it', { kind: query.kind });
    return value.then((run) => ({ ...run, entries: run.entries.filter((e) => within(e.timestamp, query.window)) }));
  }

  async function keepBundle(
    plan: Plan,
    snapshots: ClusterSnapshots,
    context: EvidenceContext,
    logs: Array<{ query: EvidenceQuery } & QueryRun>,
    notes: string[],
  ): Promise<string | null> {
    if (!storage) return null;
    const prefix = bundlePrefix(plan);
    const location = `gs://${storage.bucket}/${prefix}`;
    try {
      const objects = bundleObjects({
        plan,
        notification: context.notification ?? { finding: plan.finding },
        snapshots,
        logs,
        revealEnvValues: policy.summary.revealEnvValues,
        redaction: policy.redaction,
      });
      const manifestEntries: ManifestEntry[] = await Promise.all(
        objects.map(async (object): Promise<ManifestEntry> => {
          const result = await storage.createIfAbsent(prefix + object.name, object.bytes, object.contentType);
          // A redelivery keeps what the first delivery wrote; the manifest describes what is stored.
          const stored = result === 'created' ? object.bytes : await storage.read(prefix + object.name);
          return { name: object.name, sha256: sha256Hex(stored), size: stored.byteLength };
        }),
      );
      const manifest = buildManifest(prefix, plan.finding.name, deps.now().toISOString(), manifestEntries);
      const written = await storage.createIfAbsent(prefix + manifest.name, manifest.bytes, manifest.contentType);
      if (written === 'exists') notes.push('evidence bundle was already kept by an earlier delivery');
      log.log('INFO', 'evidence:bundle', 'evidence bundle kept', { location, objects: manifestEntries.length, manifest: written });
      return location;
    } catch (error) {
      notes.push(`evidence bundle incomplete: ${describeError(error)}`);
      log.log('ERROR', 'evidence:bundle', 'evidence bundle not written', { location, error: describeError(error) });
      return null;
    }
  }

  async function gather(plan: Plan, snapshots: ClusterSnapshots, context: EvidenceContext = {}): Promise<EvidenceReport> {
    const { queries, notes } = gatherQueries(plan, snapshots);
    const budgetEnd = clock() + settings.quotaBudgetSeconds * 1000;
    const runs = await Promise.all(queries.map((q) => runQuery(q, budgetEnd)));
    const terms = relevanceTerms(plan.processes);

    const results: EvidenceQueryResult[] = queries.map((query, i) => {
      const run = runs[i] ?? { entries: [], truncated: false, incomplete: 'error: no result' };
      log.log(run.incomplete ? 'WARNING' : 'INFO', `evidence:${query.kind}`, run.incomplete ? `evidence incomplete: ${run.incomplete}` : 'log entries read', {
        finding: plan.finding.name,
        count: run.entries.length,
        truncated: run.truncated,
      });
      return {
        kind: query.kind,
        filter: query.filter,
        url: logsExplorerUrl(query),
        count: run.entries.length,
        excerpts: selectExcerpts(run.entries, settings.excerptLines, terms),
        incomplete: run.incomplete,
        truncated: run.truncated,
      };
    });
    const incomplete = [...new Set(runs.map((r) => r.incomplete).filter((r): r is string => r !== null))];
    for (const reason of incomplete) {
      const kinds = results.filter((r) => r.incomplete === reason).map((r) => r.kind);
      notes.push(`evidence incomplete: ${reason} (${kinds.join(', ')})`);
    }

    const links = evidenceLinks(plan, queries, { techniques: techniquesOf(context.notification) });
    const bundle = await keepBundle(plan, snapshots, context, queries.map((query, i) => ({ query, ...(runs[i] as QueryRun) })), notes);
    return { queries: results, links, bundle, notes };
  }

  return {
    async gather(plan, snapshots, context) {
      try {
        return await gather(plan, snapshots, context);
      } catch (error) {
        // A bug here must not cost the containment result or the summary.
        log.log('ERROR', 'evidence', 'evidence gathering failed', { error: describeError(error) });
        return { queries: [], links: {}, bundle: null, notes: [`evidence incomplete: ${describeError(error)}`] };
      }
    },
  };
}

function techniquesOf(notification: unknown): string[] | undefined {
  const finding = (notification as { finding?: { mitreAttack?: { primaryTechniques?: unknown } } } | null | undefined)?.finding;
  const techniques = finding?.mitreAttack?.primaryTechniques;
  return Array.isArray(techniques) ? techniques.filter((t): t is string => typeof t === 'string') : undefined;
}
