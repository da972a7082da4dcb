// Owner resolution, after containment: who owns the workload, from up to four
// sources read in parallel, each optional (policy `owners`), each bounded by
// owners.timeoutSeconds. A source that fails or runs out of time becomes a note; the
// others still count, and nothing here ever throws, so owners never cost containment
// or the summary. Values are validated and bounded by src/core/summary/owners.ts.
//
//   workload labels      the pod as the preflight read it (ClusterSnapshots.pod): no read
//   namespace            one namespace GET over containment's connection (ClusterResponder.ownerFacts)
//   cluster labels       the getCluster answer containment connected with (cached): no read on GKE
//   essential contacts   one REST call per project (projects.contacts.compute), cached per instance
import type { Plan } from '../core/plan/plan.ts';
import type { Policy } from '../core/policy/policy.ts';
import type { ClusterResponder, ClusterSnapshots, StepLogger } from '../core/ports.ts';
import { cleanOwnerText, resolveOwnersFromFacts, type RawOwnerFacts } from '../core/summary/owners.ts';
import type { SummaryOwner } from '../core/summary/document.ts';

export interface ResolveOwnersInput {
  plan: Plan;
  /** Containment's snapshots (`{}` when containment did not run or the pod was not verified). */
  snapshots: ClusterSnapshots;
}

/** The Essential Contacts port (src/adapters/essential-contacts.ts implements it). */
export interface SecurityContactsReader {
  securityContacts(project: string, options?: { signal?: AbortSignal }): Promise<{ emails: string[]; truncated: boolean }>;
}

export interface ResolveOwnersDeps {
  policy: Policy;
  /** The responder containment used (the same loader): its ownerFacts reuses its connection. Absent: no cluster sources. */
  clusterResponder?: () => Promise<ClusterResponder>;
  /** Absent: no Essential Contacts source (the lead's composition decides, e.g. no GCP credentials). */
  essentialContacts?: () => Promise<SecurityContactsReader>;
  log?: StepLogger;
  /** Resolves after `ms`: a source's deadline. Default setTimeout; tests pass one they fire, per source. */
  timer?: (ms: number, source: OwnerRead) => Promise<void>;
}

/** The reads that can fail or hang (workload labels come from the snapshot: no read). */
export type OwnerRead = 'cluster-labels' | 'namespace' | 'essential-contacts';

export interface OwnerResolution {
  owners: SummaryOwner[];
  /** Sources that failed or ran out of time, and values that were ignored. */
  notes: string[];
}

const MAX_NOTE_LENGTH = 300;
const OUT_OF_TIME = Symbol('out of time');

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A deadline that is cleared once its source settles, so no timer outlives resolution. */
function deadline(ms: number, source: OwnerRead, timer: ResolveOwnersDeps['timer']): { expired: Promise<typeof OUT_OF_TIME>; clear: () => void } {
  if (timer) return { expired: timer(ms, source).then(() => OUT_OF_TIME), clear: () => {} };
  let handle: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof OUT_OF_TIME>((resolve) => {
    handle = setTimeout(() => resolve(OUT_OF_TIME), ms);
  });
  return { expired, clear: () => clearTimeout(handle) };
}

/** The pod's labels as the preflight read them; else the finding's own copy (CTD's view at the event). */
function workloadLabels(plan: Plan, snapshots: ClusterSnapshots): unknown {
  const pod = snapshots.pod as { metadata?: { labels?: unknown } } | undefined;
  const labels = typeof pod === 'object' && pod !== null ? pod.metadata?.labels : undefined;
  return labels ?? plan.target?.podLabels;
}

/**
 * Who owns the finding's workload. Never throws and never takes longer than
 * owners.timeoutSeconds (plus scheduling): call it after containment, alongside evidence.
 */
export async function resolveOwners(input: ResolveOwnersInput, deps: ResolveOwnersDeps): Promise<OwnerResolution> {
  // Kept per source, so the notes come out in one order whichever source settles first.
  const sourceNotes: Record<OwnerRead, string[]> = { namespace: [], 'cluster-labels': [], 'essential-contacts': [] };
  const collected = () => [...sourceNotes.namespace, ...sourceNotes['cluster-labels'], ...sourceNotes['essential-contacts']];
  const abort = new AbortController();
  try {
    const { plan, snapshots } = input;
    const settings = deps.policy.owners;
    const target = plan.target;
    if (target === null) return { owners: [], notes: [] };
    const timeoutMs = settings.timeoutSeconds * 1000;
    const facts: RawOwnerFacts = {};

    /** One source: its value, or undefined with a note (failure or out of time). */
    const bounded = async <T>(source: OwnerRead, name: string, read: () => Promise<T>): Promise<T | undefined> => {
      const limit = deadline(timeoutMs, source, deps.timer);
      try {
        const result = await Promise.race([read(), limit.expired]);
        if (result === OUT_OF_TIME) {
          sourceNotes[source].push(`${name}: no answer within ${settings.timeoutSeconds} s`);
          return undefined;
        }
        return result as T;
      } catch (error) {
        sourceNotes[source].push(`${name}: ${messageOf(error)}`);
        return undefined;
      } finally {
        limit.clear();
      }
    };

    if (settings.workloadLabelKeys.length > 0) facts.workloadLabels = workloadLabels(plan, snapshots);

    const sources: Promise<void>[] = [];
    const wantClusterLabels = settings.clusterLabelKeys.length > 0;
    const namespace = target.namespace;
    const wantNamespace = settings.namespaceKeys.length > 0 && namespace !== null;
    if ((wantClusterLabels || wantNamespace) && deps.clusterResponder) {
      // One call for both: the responder starts each read at once and each settles on its own.
      const reads = deps
        .clusterResponder()
        .then((responder) => responder.ownerFacts?.({ plan, clusterLabels: wantClusterLabels, namespace: wantNamespace, timeoutMs }) ?? null);
      reads.catch(() => undefined); // each source below reports it
      if (wantClusterLabels) {
        sources.push(
          bounded('cluster-labels', 'cluster labels', async () => (await reads)?.clusterLabels ?? null).then((labels) => {
            if (labels) facts.clusterLabels = labels;
          }),
        );
      }
      if (wantNamespace) {
        sources.push(
          bounded('namespace', `namespace ${JSON.stringify(namespace.slice(0, 63))}`, async () => (await reads)?.namespace ?? null).then((meta) => {
            if (meta) {
              facts.namespaceLabels = meta.labels;
              facts.namespaceAnnotations = meta.annotations;
            }
          }),
        );
      }
    }
    const contacts = deps.essentialContacts;
    if (settings.essentialContacts && contacts) {
      sources.push(
        bounded('essential-contacts', 'essential contacts', async () => (await contacts()).securityContacts(target.project, { signal: abort.signal })).then((found) => {
          if (!found) return;
          facts.contactEmails = found.emails;
          if (found.truncated) sourceNotes['essential-contacts'].push('essential contacts: more security contacts than the page limit, the rest not read');
        }),
      );
    }
    await Promise.all(sources);

    const resolved = resolveOwnersFromFacts(facts, settings);
    const result = { owners: resolved.owners, notes: [...collected(), ...resolved.notes].map((n) => cleanOwnerText(n).slice(0, MAX_NOTE_LENGTH)) };
    deps.log?.log(result.notes.length > 0 ? 'WARNING' : 'INFO', 'owners', `${result.owners.length} owner(s) found`, {
      finding: plan.finding.name,
      owners: result.owners,
      notes: result.notes,
    });
    return result;
  } catch (error) {
    // A defect here must not cost the summary either.
    deps.log?.log('ERROR', 'owners', 'owner resolution failed', { error: messageOf(error).slice(0, MAX_NOTE_LENGTH) });
    return { owners: [], notes: [...collected(), `owner resolution failed: ${messageOf(error)}`].map((n) => cleanOwnerText(n).slice(0, MAX_NOTE_LENGTH)) };
  } finally {
    // Whatever is still in flight (a source past its deadline) is cancelled, not left to finish.
    abort.abort();
  }
}
