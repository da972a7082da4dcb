// The SCC mute rule a team could create instead of (or as well as) an
// exception, to mute such findings at the source. Only ever suggested, in the
// summary and `plan --explain`: the responder never creates one.
//
// SCC mute rule filters (MuteConfig.filter, v1 and v2) support only these
// fields, each with `=` and `:`: severity, category, resource.name,
// resource.project_name, resource.project_display_name,
// resource.folders.resource_folder, resource.parent_name,
// resource.parent_display_name, resource.type, finding_class,
// indicator.ip_addresses, indicator.domains. Namespaces, pods, labels, images
// and processes are not among them, so a mute rule for an exception that names
// those is broader than the exception, and the suggestion says by what.
// String values are double-quoted literals with `\` and `"` escaped by a
// backslash (the AIP-160 filter syntax SCC uses).
import { isExpired, expiresAt, isoTime } from './exceptions.ts';
import type { Plan } from '../plan/plan.ts';
import type { PolicyException, PolicyMatch } from './policy.ts';

export const MUTE_FILTER_FIELDS = [
  'severity',
  'category',
  'resource.name',
  'resource.project_name',
  'resource.project_display_name',
  'resource.folders.resource_folder',
  'resource.parent_name',
  'resource.parent_display_name',
  'resource.type',
  'finding_class',
  'indicator.ip_addresses',
  'indicator.domains',
] as const;

export interface MuteRuleSuggestion {
  /** The mute rule's filter expression. */
  filter: string;
  /** The finding fields it uses (all in MUTE_FILTER_FIELDS). */
  fields: string[];
  /** Exception conditions a mute filter cannot express: the mute rule mutes more than the exception excepts. */
  broaderBy: string[];
  /** A command that would create it as a dynamic mute rule expiring with the exception; for a person to review and run. */
  gcloud: string;
  note: string;
}

/** A string literal for an SCC filter; undefined for text a filter literal should not carry (control characters). */
export function filterString(value: string): string | undefined {
  if (/[\p{C}]/u.test(value)) return undefined;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** One POSIX shell word: left bare only when it has nothing a shell reads specially. */
export function shellWord(value: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Conditions the filter covers: where the finding is (its cluster) and its severity. */
const EXPRESSED: ReadonlySet<string> = new Set(['projects', 'locations', 'clusters', 'severities']);

function conditionNames(match: PolicyMatch): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(match)) {
    if (value === undefined) continue;
    if (key === 'podLabels') out.push(...Object.keys(value as object).map((k) => `podLabels.${k}`));
    else if (key === 'parent' || key === 'child') out.push(...Object.keys(value as object).map((k) => `${key}.${k}`));
    else out.push(key);
  }
  return out;
}

/** A mute config id: lowercase letters, digits and hyphens, starting with a letter, at most 63 characters. */
function muteConfigId(exceptionName: string): string {
  const slug = exceptionName.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `scc-responder-${slug}`.slice(0, 63).replace(/-+$/, '');
}

/**
 * The mute rule for findings like this one under this exception, or null when
 * the finding gives nothing safe to filter on (no cluster resource name).
 */
export function suggestMuteRule(plan: Plan, exception: PolicyException, now: Date): MuteRuleSuggestion | null {
  const category = plan.finding.category === null ? undefined : filterString(plan.finding.category);
  const resource = plan.finding.resourceName === null ? undefined : filterString(plan.finding.resourceName);
  const project = plan.target?.project;
  if (category === undefined || resource === undefined || project === undefined) return null;
  const parts = [`category=${category}`, `resource.name=${resource}`];
  const fields = ['category', 'resource.name'];
  const severities = exception.match.severities;
  if (severities !== undefined) {
    const terms = severities.map((s) => `severity=${filterString(s)!}`);
    parts.push(terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`);
    fields.push('severity');
  }
  const filter = parts.join(' AND ');
  const broaderBy = conditionNames(exception.match).filter((c) => !EXPRESSED.has(c));
  const expiry = expiresAt(exception);
  const command = [
    'gcloud scc muteconfigs create',
    shellWord(muteConfigId(exception.name)),
    `--project=${shellWord(project)}`,
    '--location=global',
    '--type=dynamic',
    ...(isExpired(exception, now) ? [] : [`--expiry-time=${shellWord(isoTime(expiry))}`]),
    `--description=${shellWord(`scc-responder exception ${exception.name}: ${exception.reason}`.slice(0, 1000))}`,
    `--filter=${shellWord(filter)}`,
  ].join(' ');
  const where = plan.target?.cluster ?? 'its cluster';
  const note =
    broaderBy.length > 0
      ? `Mutes every ${plan.finding.category} finding on cluster ${where}${severities ? ` with severity ${severities.join(' or ')}` : ''}: broader than the exception, which also requires ${broaderBy.join(', ')} (mute rules cannot filter on those). Suggested only: review it before creating it.`
      : `Mutes the same findings on cluster ${where} as the exception. Suggested only: review it before creating it.`;
  return { filter, fields, broaderBy, gcloud: command, note };
}
