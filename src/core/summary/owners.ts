// Who owns the workload, from the raw answers of each owner source (src/pipeline/resolve-owners.ts):
// validated, bounded, deduplicated, most specific first. Pure.
//
// Every value here can be set by someone other than the owner: pod labels by anyone
// who may create pods in the namespace (an attacker inside the cluster, with API
// rights), namespace labels and annotations by whoever may edit the namespace,
// cluster labels and contacts by the project's admins. An owner only decides who
// *else* is told (routes add destinations; the ops sinks always get every summary),
// so a forged value can add a recipient but never hide a finding from ops. Still,
// nothing that is not a plausible owner value gets through: label values must be
// valid label values, contacts valid e-mail addresses, annotations free of control
// and formatting characters and at most 200 characters; an over-long value is
// dropped, never cut (a cut value could be someone else's name).
import { isLabelValue } from '../finding/k8s-names.ts';
import type { OwnerSource, SummaryOwner } from './document.ts';

export const MAX_OWNERS = 20;
export const MAX_OWNER_LENGTH = 200;
/** Problems reported per resolution at most: a hostile namespace must not flood the summary with notes. */
const MAX_VALUE_NOTES = 5;

export interface OwnerKeys {
  clusterLabelKeys: readonly string[];
  namespaceKeys: readonly string[];
  workloadLabelKeys: readonly string[];
}

/** What each source returned, unvalidated. Absent: the source was not read or failed (its note is the caller's). */
export interface RawOwnerFacts {
  /** The pod's labels (a label map). */
  workloadLabels?: unknown;
  namespaceLabels?: unknown;
  namespaceAnnotations?: unknown;
  /** The cluster's GCP resource labels. */
  clusterLabels?: unknown;
  /** E-mail addresses of the project's SECURITY contacts. */
  contactEmails?: unknown;
}

export interface ResolvedOwners {
  owners: SummaryOwner[];
  notes: string[];
}

/** Line breaks and tabs become spaces; other control, format (bidi overrides, zero-width) and lone-surrogate characters go. */
export function cleanOwnerText(value: string): string {
  return value
    .replace(/[\t\n\v\f\r\u0085\u2028\u2029]/g, ' ')
    .replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}

// A practical address shape (what mail systems accept and Essential Contacts stores), not
// all of RFC 5322: quoted local parts and IP literals are not owner addresses.
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value) && !value.startsWith('.') && !value.includes('..');
}

/** GCP resource label values: lowercase letters (international too), digits, `_` and `-`, at most 63. */
export function isGcpLabelValue(value: string): boolean {
  return /^[\p{Ll}\p{Lo}\p{N}_-]{1,63}$/u.test(value);
}

/** A string value under an own key of a plain object; anything else (a prototype's `constructor`, a number) is nothing. */
function ownString(record: unknown, key: string): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  if (!Object.hasOwn(record, key)) return undefined;
  const value = (record as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

const SOURCE_TEXT: Record<OwnerSource, string> = {
  'workload-label': 'workload label',
  'namespace-label': 'namespace label',
  'namespace-annotation': 'namespace annotation',
  'cluster-label': 'cluster label',
  'essential-contacts': 'essential contact',
};

/**
 * The owners the raw facts name, most specific first (the workload, its namespace, its
 * cluster, its project's security contacts), each source in the order of the policy's
 * keys; the same value from two places is listed once (the more specific place), e-mail
 * addresses compared case-insensitively and everything else exactly; at most MAX_OWNERS.
 */
export function resolveOwnersFromFacts(facts: RawOwnerFacts, keys: OwnerKeys): ResolvedOwners {
  const owners: SummaryOwner[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  let dropped = 0;
  let invalidEmails = 0;

  const add = (who: string, source: OwnerSource, key: string | null) => {
    // Only addresses compare case-insensitively. Routes and mentions match a team exactly: a workload
    // label "PAYMENTS" must not hide the namespace's "payments" (and its route and mention) as a duplicate.
    const dedupeKey = who.includes('@') ? who.toLowerCase() : who;
    if (seen.has(dedupeKey)) return;
    seen.add(dedupeKey);
    if (owners.length >= MAX_OWNERS) {
      dropped += 1;
      return;
    }
    owners.push({ who, source, key });
  };
  const problem = (source: OwnerSource, key: string, what: string) => {
    problems.push(`${SOURCE_TEXT[source]} ${JSON.stringify(key)}: ${what}, ignored`);
  };

  const fromLabels = (labels: unknown, labelKeys: readonly string[], source: OwnerSource, valid: (v: string) => boolean, rule: string) => {
    for (const key of labelKeys) {
      const value = ownString(labels, key);
      if (value === undefined || value === '') continue;
      if (!valid(value)) problem(source, key, `not a valid ${rule}`);
      else add(value, source, key);
    }
  };

  fromLabels(facts.workloadLabels, keys.workloadLabelKeys, 'workload-label', isLabelValue, 'label value');
  fromLabels(facts.namespaceLabels, keys.namespaceKeys, 'namespace-label', isLabelValue, 'label value');
  for (const key of keys.namespaceKeys) {
    const raw = ownString(facts.namespaceAnnotations, key);
    if (raw === undefined) continue;
    // Judged before cleaning too: a megabyte of spaces is not an owner either.
    if (raw.length > 4 * MAX_OWNER_LENGTH) {
      problem('namespace-annotation', key, `value over ${MAX_OWNER_LENGTH} characters`);
      continue;
    }
    const value = cleanOwnerText(raw);
    if (value === '') continue;
    if (value.length > MAX_OWNER_LENGTH) problem('namespace-annotation', key, `value over ${MAX_OWNER_LENGTH} characters`);
    else add(value, 'namespace-annotation', key);
  }
  fromLabels(facts.clusterLabels, keys.clusterLabelKeys, 'cluster-label', isGcpLabelValue, 'GCP label value');

  if (Array.isArray(facts.contactEmails)) {
    for (const entry of facts.contactEmails) {
      const email = typeof entry === 'string' ? entry.trim() : '';
      if (isEmailAddress(email)) add(email, 'essential-contacts', null);
      else invalidEmails += 1;
    }
  }

  const notes = problems.slice(0, MAX_VALUE_NOTES);
  if (problems.length > MAX_VALUE_NOTES) notes.push(`${problems.length - MAX_VALUE_NOTES} more owner values ignored`);
  if (invalidEmails > 0) notes.push(`essential contacts: ${invalidEmails} invalid e-mail address${invalidEmails === 1 ? '' : 'es'} ignored`);
  if (dropped > 0) notes.push(`${dropped} more owner${dropped === 1 ? '' : 's'} not listed (at most ${MAX_OWNERS})`);
  return { owners, notes };
}
