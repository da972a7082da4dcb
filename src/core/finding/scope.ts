// Which findings the responder handles. The same display category exists for
// Cloud Run and Agent Engine: only a GKE cluster resourceName is in scope.
import type { Finding } from './schema.ts';
import { isGcpLocation, isGkeClusterName, isProjectId } from './k8s-names.ts';
import { isOwnEchoOf, SCC_MARK } from '../scc/marks.ts';

export const CATEGORY = 'Unexpected Child Shell';

export interface ClusterRef {
  project: string;
  location: string;
  cluster: string;
  /** `projects/P/locations/L/clusters/C`, the Container API name (zones normalised to locations). */
  name: string;
}

export type ScopeResult = { inScope: true; cluster: ClusterRef } | { inScope: false; reason: string };

const GKE_CLUSTER = /^\/\/container\.googleapis\.com\/projects\/([^/]+)\/(?:zones|locations)\/([^/]+)\/clusters\/([^/]+)$/;

export function parseGkeClusterResourceName(resourceName: string): ClusterRef | undefined {
  const m = GKE_CLUSTER.exec(resourceName);
  if (!m) return undefined;
  const [, project = '', location = '', cluster = ''] = m;
  if (!isProjectId(project) || !isGcpLocation(location) || !isGkeClusterName(cluster)) return undefined;
  return { project, location, cluster, name: `projects/${project}/locations/${location}/clusters/${cluster}` };
}

export interface ScopeOptions {
  /**
   * Handle a finding even when it carries our own marks for this occurrence. For a person
   * who asks explicitly (the CLI's respond on an export taken after a dry-run wrote its
   * marks); never for notifications, where that would answer every echo again.
   */
  acceptOwnEcho?: boolean;
}

export function checkScope(finding: Finding, options: ScopeOptions = {}): ScopeResult {
  if (finding.category !== CATEGORY) {
    return { inScope: false, reason: `category is ${quote(finding.category)}, not "${CATEGORY}"` };
  }
  if (finding.findingClass !== undefined && finding.findingClass !== 'THREAT') {
    return { inScope: false, reason: `findingClass is ${quote(finding.findingClass)}, not THREAT` };
  }
  if (finding.state !== 'ACTIVE') return { inScope: false, reason: `state is ${quote(finding.state)}, not ACTIVE` };
  if (finding.mute === 'MUTED') return { inScope: false, reason: 'finding is muted' };
  // SCC notifies every finding change, our marks update included: that notification
  // repeats an occurrence already handled and is acked, ledger or not. (The echo of a
  // state change to INACTIVE is already out of scope above.)
  if (options.acceptOwnEcho !== true && isOwnEchoOf(finding)) {
    return { inScope: false, reason: `our own write-back (security mark ${SCC_MARK.incident} names this occurrence)` };
  }
  const resourceName = finding.resourceName;
  if (resourceName === undefined) return { inScope: false, reason: 'finding has no resourceName' };
  const cluster = parseGkeClusterResourceName(resourceName);
  if (!cluster) {
    return { inScope: false, reason: `resourceName ${quote(resourceName)} is not a GKE cluster` };
  }
  return { inScope: true, cluster };
}

/** Quotes an attacker-influenced value for a reason string, bounded in length. */
export function quote(value: string | undefined): string {
  if (value === undefined) return 'missing';
  const bounded = value.length > 120 ? `${value.slice(0, 120)}…` : value;
  return JSON.stringify(bounded);
}
