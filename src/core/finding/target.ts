// Pulls the who/where/what out of a finding. CTD fills pod and container
// "best effort", so sourceProperties are the fallback. Nothing here is trusted:
// names are validated, and only valid ones are marked actionable.
import type { Finding, FindingProcess } from './schema.ts';
import { isDns1123Label, isDns1123Subdomain, isLabelKey, isLabelValue } from './k8s-names.ts';
import type { ClusterRef } from './scope.ts';

export interface Target {
  project: string;
  location: string;
  cluster: string;
  /** `projects/P/locations/L/clusters/C` */
  clusterName: string;
  namespace: string | null;
  pod: string | null;
  container: string | null;
  image: string | null;
  imageId: string | null;
  node: string | null;
  /** Full resource name of the node's VM as the finding gives it. */
  nodeResourceName: string | null;
  /** Null prototype: a label named "constructor" or "__proto__" is only ever a label. */
  podLabels: Record<string, string>;
}

/** Which parts of the target are safe to hand to the Kubernetes API. */
export interface TargetValidity {
  podActionable: boolean;
  nodeActionable: boolean;
  problems: string[];
}

export interface ProcessInfo {
  name: string | null;
  pid: string | null;
  parentPid: string | null;
  binaryPath: string | null;
  sha256: string | null;
  args: string[];
  argumentsTruncated: boolean;
  /** Names only: values may hold secrets and never leave the finding by default. */
  envVariableNames: string[];
  envVariablesTruncated: boolean;
  scriptPath: string | null;
}

export interface Processes {
  parent: ProcessInfo | null;
  child: ProcessInfo | null;
  /** How many processes the finding listed in all. */
  count: number;
}

const MAX_DISPLAY = 253;
/** More than any real pod carries; the rest are ignored for matching. */
const MAX_POD_LABELS = 256;

function bounded(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  if (value.length <= MAX_DISPLAY) return value;
  // Never between the halves of a surrogate pair: a lone half cannot be sent as UTF-8.
  const end = /[\uD800-\uDBFF]/.test(value.charAt(MAX_DISPLAY - 1)) ? MAX_DISPLAY - 1 : MAX_DISPLAY;
  return `${value.slice(0, end)}…`;
}

function lastSegment(resourceName: string): string {
  return resourceName.slice(resourceName.lastIndexOf('/') + 1);
}

export function extractTarget(finding: Finding, cluster: ClusterRef): Target {
  const props = finding.sourceProperties ?? {};
  const pods = finding.kubernetes?.pods ?? [];
  const findingContainer = finding.containers?.[0];
  const pod =
    pods.find((p) => findingContainer?.name && p.containers?.some((c) => c.name === findingContainer.name)) ?? pods[0];
  const container = findingContainer ?? pod?.containers?.[0];
  const nodeResourceName = finding.kubernetes?.nodes?.find((n) => n.name)?.name ?? null;
  const node = nodeResourceName ? lastSegment(nodeResourceName) : bounded(props.VM_Instance_Name);

  // Only labels that could exist on a real pod (the API server validates them): the policy can
  // name no other key, and a forged one never reaches a glob or the plan unbounded.
  const podLabels: Record<string, string> = Object.create(null);
  let kept = 0;
  for (const label of pod?.labels ?? []) {
    const value = label.value ?? '';
    if (kept >= MAX_POD_LABELS) break;
    if (label.name === undefined || !isLabelKey(label.name) || !isLabelValue(value)) continue;
    if (!Object.hasOwn(podLabels, label.name)) kept++;
    podLabels[label.name] = value;
  }
  return {
    project: cluster.project,
    location: cluster.location,
    cluster: cluster.cluster,
    clusterName: cluster.name,
    namespace: bounded(pod?.ns) ?? bounded(props.Pod_Namespace),
    pod: bounded(pod?.name) ?? bounded(props.Pod_Name),
    container: bounded(container?.name) ?? bounded(props.Container_Name),
    image: bounded(container?.uri) ?? bounded(props.Container_Image_Uri),
    imageId: bounded(container?.imageId),
    node: bounded(node),
    nodeResourceName: bounded(nodeResourceName),
    podLabels,
  };
}

export function validateTarget(target: Target): TargetValidity {
  const problems: string[] = [];
  const check = (what: string, value: string | null, valid: (v: string) => boolean): boolean => {
    if (value === null) {
      problems.push(`${what} is missing from the finding`);
      return false;
    }
    if (!valid(value)) {
      problems.push(`${what} ${JSON.stringify(value.slice(0, 80))} is not a valid Kubernetes name`);
      return false;
    }
    return true;
  };
  const namespaceOk = check('namespace', target.namespace, isDns1123Label);
  const podOk = check('pod', target.pod, isDns1123Subdomain);
  if (target.container !== null && !isDns1123Label(target.container)) {
    problems.push(`container ${JSON.stringify(target.container.slice(0, 80))} is not a valid Kubernetes name`);
  }
  const containerOk = target.container === null || isDns1123Label(target.container);
  const nodeOk = check('node', target.node, isDns1123Subdomain);
  return { podActionable: namespaceOk && podOk && containerOk, nodeActionable: nodeOk, problems };
}

function toProcessInfo(p: FindingProcess): ProcessInfo {
  return {
    name: bounded(p.name),
    pid: p.pid ?? null,
    parentPid: p.parentPid ?? null,
    binaryPath: bounded(p.binary?.path),
    sha256: p.binary?.sha256 && /^[a-fA-F0-9]{64}$/.test(p.binary.sha256) ? p.binary.sha256.toLowerCase() : null,
    args: p.args ?? [],
    argumentsTruncated: p.argumentsTruncated ?? false,
    envVariableNames: (p.envVariables ?? []).map((e) => e.name ?? '').filter((n) => n !== ''),
    envVariablesTruncated: p.envVariablesTruncated ?? false,
    scriptPath: bounded(p.script?.path),
  };
}

/** Parent and child by pid/parentPid, not by array order (the order is not guaranteed). */
export function extractProcesses(finding: Finding): Processes {
  const list = finding.processes ?? [];
  for (const child of list) {
    if (child.parentPid === undefined) continue;
    const parent = list.find((p) => p !== child && p.pid !== undefined && p.pid === child.parentPid);
    if (parent) return { parent: toProcessInfo(parent), child: toProcessInfo(child), count: list.length };
  }
  const only = list[0];
  return { parent: null, child: only ? toProcessInfo(only) : null, count: list.length };
}
