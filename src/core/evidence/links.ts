// Links an analyst opens from the summary: each evidence query in the Logs
// Explorer (same filter, same window), the finding in the SCC console, the
// binaries on VirusTotal, the ATT&CK technique. Pure: built from the plan only.
import type { EvidenceQuery } from './logging-filter.ts';
import type { Plan } from '../plan/plan.ts';

const CONSOLE = 'https://console.cloud.google.com';

/**
 * Percent-encodes everything outside RFC 3986 "unreserved". encodeURIComponent
 * leaves ( ) ! * ' alone, and the console's router reads parentheses in a
 * matrix parameter as route syntax; `;` `?` `#` must never split the query either.
 * The literal `%2F` inside a logName becomes `%252F`, which decodes back to `%2F`.
 */
export function encodeStrict(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Logs Explorer URL for a query: the same filter text and the same explicit window the responder read. */
export function logsExplorerUrl(query: EvidenceQuery): string | null {
  const project = projectOf(query.resourceNames);
  if (project === null || !ISO_UTC.test(query.window.start) || !ISO_UTC.test(query.window.end)) return null;
  return (
    `${CONSOLE}/logs/query;query=${encodeStrict(query.filter)}` +
    `;startTime=${query.window.start};endTime=${query.window.end}` +
    `?project=${encodeStrict(project)}`
  );
}

function projectOf(resourceNames: string[]): string | null {
  const first = resourceNames[0];
  const m = first === undefined ? null : /^projects\/([a-z0-9.:-]{1,100})$/.exec(first);
  return m?.[1] ?? null;
}

// organizations/O | folders/F | projects/P, then sources/S[/locations/L]/findings/F.
const FINDING_NAME =
  /^(organizations|folders|projects)\/([A-Za-z0-9._:-]{1,100})\/sources\/[0-9]{1,30}(\/locations\/[a-z0-9-]{1,63})?\/findings\/[A-Za-z0-9_-]{1,128}$/;

/** The finding in the SCC console, or null when the name is not a well-formed finding name. */
export function sccFindingUrl(findingName: string | null): string | null {
  if (findingName === null) return null;
  const m = FINDING_NAME.exec(findingName);
  if (!m) return null;
  const scopeParam = { organizations: 'organizationId', folders: 'folder', projects: 'project' }[m[1] as 'organizations' | 'folders' | 'projects'];
  return `${CONSOLE}/security/command-center/findingsv2;name=${encodeStrict(findingName)}?${scopeParam}=${encodeStrict(m[2] ?? '')}`;
}

export function virusTotalUrl(sha256: string | null): string | null {
  if (sha256 === null || !/^[a-f0-9]{64}$/.test(sha256)) return null;
  return `https://www.virustotal.com/gui/file/${sha256}`;
}

/** SCC's MITRE technique enum names → ATT&CK ids, for the ones a child-shell finding carries. */
const TECHNIQUE_IDS: Record<string, string> = {
  UNIX_SHELL: 'T1059.004',
  COMMAND_AND_SCRIPTING_INTERPRETER: 'T1059',
  CONTAINER_ADMINISTRATION_COMMAND: 'T1609',
  DEPLOY_CONTAINER: 'T1610',
  ESCAPE_TO_HOST: 'T1611',
  INGRESS_TOOL_TRANSFER: 'T1105',
};

/** CTD documents Unexpected Child Shell as T1059.004; used when the finding names no technique we know. */
export const CHILD_SHELL_TECHNIQUE = 'T1059.004';

/** The most specific known technique the finding lists (sub-techniques first), or the category's own. */
export function techniqueFor(techniques: readonly string[] | undefined): string {
  // Object.hasOwn: technique names come from the finding; `constructor` must not find Object's.
  const ids = (techniques ?? []).map((t) => (Object.hasOwn(TECHNIQUE_IDS, t) ? TECHNIQUE_IDS[t] : undefined)).filter((id): id is string => typeof id === 'string');
  return ids.find((id) => id.includes('.')) ?? ids[0] ?? CHILD_SHELL_TECHNIQUE;
}

export function mitreTechniqueUrl(techniqueId: string): string | null {
  const m = /^T(\d{4})(?:\.(\d{3}))?$/.exec(techniqueId);
  if (!m) return null;
  return `https://attack.mitre.org/techniques/T${m[1]}/${m[2] ? `${m[2]}/` : ''}`;
}

export interface LinkContext {
  /** finding.mitreAttack.primaryTechniques, when the caller has the full finding. */
  techniques?: readonly string[];
}

/** Every link for the report, keyed by a stable name ("logs:pod-logs", "scc-finding", "virustotal:child", …). */
export function evidenceLinks(plan: Plan, queries: readonly EvidenceQuery[], context: LinkContext = {}): Record<string, string> {
  const links: Record<string, string> = {};
  const add = (key: string, url: string | null) => {
    if (url !== null) links[key] = url;
  };
  for (const q of queries) add(`logs:${q.kind}`, logsExplorerUrl(q));
  add('scc-finding', sccFindingUrl(plan.finding.name));
  add('virustotal:child', virusTotalUrl(plan.processes?.child?.sha256 ?? null));
  const parentSha = plan.processes?.parent?.sha256 ?? null;
  if (parentSha !== plan.processes?.child?.sha256) add('virustotal:parent', virusTotalUrl(parentSha));
  const technique = techniqueFor(context.techniques);
  add(`mitre:${technique}`, mitreTechniqueUrl(technique));
  return links;
}
