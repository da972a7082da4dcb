// What the demo stands up around the function: a sandbox cluster seeded from
// the finding's own target (so the actions have the very pod, node and owner
// chain the finding names), Cloud Logging entries around the event for the
// evidence queries, and the policy the function runs with.
//
// Nothing here reaches beyond 127.0.0.1: the policy's `clusters:` map is
// replaced by the sandbox mapping, so no pass of the demo can touch a real cluster.
import { createHash } from 'node:crypto';
import type { FakeKubeSeed } from '../../test/fakes/kube-api-server.ts';
import type { FakeLogEntry, RecordedListRequest } from '../../test/fakes/logging-grpc-server.ts';
import type { Plan } from '../../src/core/plan/plan.ts';
import type { PolicyInput } from '../../src/core/policy/policy.ts';
import type { Target } from '../../src/core/finding/target.ts';

type Json = Record<string, any>;

export interface SandboxWorkload {
  deployment: string;
  replicaSet: string;
  replicas: number;
  /** The pod the finding names, null when the finding names none we can create. */
  pod: string | null;
  podUid: string | null;
  node: string | null;
  otherNode: string;
  namespace: string | null;
}

/** Deterministic short ids, so a replay of the same finding gives the same sandbox. */
function shortId(seed: string, length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[digest[i]! % alphabet.length];
  return out;
}

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** checkout-7c9f8d6b5-q2w8x → Deployment checkout, ReplicaSet checkout-7c9f8d6b5. */
export function ownersFromPodName(pod: string): { deployment: string; replicaSet: string } {
  const m = /^(.+)-([a-z0-9]{5,10})-([a-z0-9]{5})$/.exec(pod);
  if (m) return { deployment: m[1]!, replicaSet: `${m[1]}-${m[2]}` };
  const deployment = pod.length > 40 ? pod.slice(0, 40).replace(/-+$/, '') : pod;
  return { deployment, replicaSet: `${deployment}-${shortId(pod, 9)}` };
}

function otherNodeName(node: string | null): string {
  if (node === null) return 'gke-sandbox-default-pool-1a2b3c4d-m2zd';
  const swapped = node.replace(/-[a-z0-9]{4}$/, '-m2zd');
  return swapped !== node ? swapped : `${node.slice(0, 240)}-2`;
}

function imageRepository(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(0, at);
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(0, colon) : image;
}

/**
 * A cluster with the finding's pod in a 3-replica Deployment on the finding's
 * node, two ready siblings on another node, a PodDisruptionBudget, events and
 * container logs. Names the finding gives that are not valid Kubernetes names
 * are left out (the responder refuses them anyway, and the summary says why).
 */
export function sandboxFor(plan: Plan): { seed: FakeKubeSeed; workload: SandboxWorkload } {
  const target = plan.target;
  const problems = plan.targetProblems.join(' ');
  const podOk = target?.namespace && target.pod && !/namespace|pod/i.test(problems);
  const nodeOk = target?.node && !/node/i.test(problems);
  const namespace = podOk ? target!.namespace! : null;
  const podName = podOk ? target!.pod! : null;
  const node = nodeOk ? target!.node! : null;
  const otherNode = otherNodeName(node);
  const { deployment, replicaSet } = ownersFromPodName(podName ?? 'app-0');
  const workload: SandboxWorkload = {
    deployment,
    replicaSet,
    replicas: 3,
    pod: podName,
    podUid: podName ? uuidFrom(`pod/${namespace}/${podName}`) : null,
    node,
    otherNode,
    namespace,
  };

  const eventTime = Date.parse(plan.finding.eventTime ?? '') || Date.now();
  // Created two days before the event: preflight checks the pod existed when the shell ran.
  const created = new Date(eventTime - 2 * 24 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const container = target?.container ?? 'app';
  const image = target?.image ?? 'registry.example/app:1.0.0';
  const imageId = target?.imageId ?? `sha256:${createHash('sha256').update(image).digest('hex')}`;
  const hash = replicaSet.slice(deployment.length + 1) || shortId(deployment, 9);
  const labels: Record<string, string> =
    target && Object.keys(target.podLabels).length > 0 ? { ...target.podLabels } : { app: deployment, 'pod-template-hash': hash };
  const rsUid = uuidFrom(`rs/${namespace}/${replicaSet}`);

  const pod = (name: string, uid: string, onNode: string): Json => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      uid,
      creationTimestamp: created,
      labels: { ...labels },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet, uid: rsUid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      nodeName: onNode,
      containers: [{ name: container, image, env: [{ name: 'PORT', value: '8080' }] }],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: container, image, ready: true, imageID: `${imageRepository(image)}@${imageId}` }],
    },
  });

  const nodeObject = (name: string, instanceSeed: string): Json => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'cloud.google.com/gke-nodepool': 'default-pool', 'kubernetes.io/hostname': name },
      // The node logs query reads the VM's serial console by this id.
      annotations: { 'container.googleapis.com/instance_id': String(BigInt(`0x${createHash('sha256').update(instanceSeed).digest('hex').slice(0, 15)}`)) },
    },
    spec: { taints: [{ key: 'workload', value: namespace ?? 'apps', effect: 'NoSchedule' }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });

  const seed: FakeKubeSeed = { namespaces: [], pods: [], nodes: [nodeObject(otherNode, otherNode)] };
  if (node) seed.nodes!.push(nodeObject(node, node));
  if (namespace && podName) {
    const siblings = [1, 2].map((i) => `${replicaSet}-${shortId(`${podName}/${i}`, 5)}`);
    seed.namespaces = [namespace];
    // An owner to find (docs/actions.md, "Owners"): the namespace says which team runs it.
    seed.namespaceObjects = [{ metadata: { name: namespace, labels: { team: teamOf(namespace) } } }];
    seed.pods = [
      pod(podName, workload.podUid!, node ?? otherNode),
      ...siblings.map((name) => pod(name, uuidFrom(`pod/${namespace}/${name}`), otherNode)),
    ];
    seed.replicaSets = [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: replicaSet,
          namespace,
          uid: rsUid,
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: uuidFrom(`deploy/${namespace}/${deployment}`), controller: true }],
        },
        spec: { replicas: 3, selector: { matchLabels: { ...labels } } },
        status: { replicas: 3, readyReplicas: 3 },
      },
    ];
    // The app's own allow policy, as most namespaces have: it still selects the pod after the
    // deny-all is added (policies are additive), so isolation must detach the pod from it.
    const [allowKey, allowValue] = Object.hasOwn(labels, 'app') ? ['app', labels.app!] : (Object.entries(labels)[0] ?? ['app', deployment]);
    seed.networkPolicies = [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `${deployment}-allow-frontend`.slice(0, 63).replace(/-+$/, ''), namespace },
        spec: {
          podSelector: { matchLabels: { [allowKey]: allowValue } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }] }],
          egress: [{}],
        },
      },
    ];
    seed.podDisruptionBudgets = [
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: deployment, namespace },
        spec: { minAvailable: 2, selector: { matchLabels: { ...labels } } },
        status: { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 3 },
      },
    ];
    seed.events = [
      {
        metadata: { name: `${podName}.1`, namespace },
        involvedObject: { kind: 'Pod', name: podName, namespace, uid: workload.podUid },
        type: 'Normal',
        reason: 'Started',
        message: `Started container ${container}`,
      },
    ];
    seed.logs = {
      [`${namespace}/${podName}/${container}`]: [
        'listening on :8080',
        'GET /healthz 200 1ms',
        'POST /api/orders 201 38ms',
        'POST /api/render?template=%7B%7B7*7%7D%7D 500 4ms',
      ].join('\n') + '\n',
    };
  }
  return { seed, workload };
}

/**
 * Log entries around the event, returned by the fake Logging service for the
 * query they belong to (told apart by the filter, as the real service would
 * select them). The story: a template-injection request, then the shell.
 */
export function sandboxLogs(currentPlan: () => Plan): (request: RecordedListRequest) => FakeLogEntry[] {
  return (request) => entriesFor(currentPlan(), request.filter);
}

function entriesFor(plan: Plan, filter: string): FakeLogEntry[] {
  const t = plan.target;
  const eventTime = Date.parse(plan.finding.eventTime ?? '') || Date.now();
  const at = (seconds: number) => new Date(eventTime + seconds * 1000).toISOString();
  const project = t?.project ?? 'example-project';
  const childArgs = plan.processes?.child?.args.join(' ') || '/bin/sh';
  const container: FakeLogEntry['resource'] = {
    type: 'k8s_container',
    labels: {
      project_id: project,
      location: t?.location ?? '',
      cluster_name: t?.cluster ?? '',
      namespace_name: t?.namespace ?? '',
      pod_name: t?.pod ?? '',
      container_name: t?.container ?? '',
    },
  };
  const podLogs: FakeLogEntry[] = [
    { timestamp: at(-1500), severity: 'INFO', resource: container, textPayload: 'GET /healthz 200 1ms' },
    { timestamp: at(-95), severity: 'INFO', resource: container, textPayload: 'POST /api/orders 201 38ms' },
    { timestamp: at(-4), severity: 'WARNING', resource: container, textPayload: 'POST /api/render?template=%7B%7B7*7%7D%7D 500 4ms' },
    { timestamp: at(-1), severity: 'ERROR', resource: container, textPayload: `child_process: spawned ${childArgs}`.slice(0, 300) },
  ];
  const podPath = `core/v1/namespaces/${t?.namespace ?? ''}/pods/${t?.pod ?? ''}`;
  const audit: FakeLogEntry[] = [
    {
      timestamp: at(-600),
      severity: 'NOTICE',
      logName: `projects/${project}/logs/cloudaudit.googleapis.com%2Factivity`,
      resource: { type: 'k8s_cluster', labels: { project_id: project, location: t?.location ?? '', cluster_name: t?.cluster ?? '' } },
      audit: {
        serviceName: 'k8s.io',
        methodName: 'io.k8s.core.v1.pods.exec.create',
        resourceName: `${podPath}/exec`,
        principalEmail: 'ci-deployer@example-shop-prod.iam.gserviceaccount.com',
        callerIp: '198.51.100.23',
      },
    },
  ];
  const nodeLogs: FakeLogEntry[] = [
    {
      timestamp: at(-3600 + 120),
      severity: 'INFO',
      resource: { type: 'k8s_node', labels: { project_id: project, node_name: t?.node ?? '' } },
      textPayload: `kubelet: Started container ${t?.container ?? 'app'} in pod ${t?.pod ?? ''}`,
    },
    {
      timestamp: at(2),
      severity: 'DEFAULT',
      resource: { type: 'gce_instance', labels: { project_id: project } },
      textPayload: 'audit: type=1400 apparmor="ALLOWED" operation="exec" profile="cri-containerd.apparmor.d" name="/bin/sh"',
    },
  ];
  if (filter.includes('cloudaudit.googleapis.com')) return audit;
  if (filter.includes('k8s_container')) return podLogs;
  if (filter.includes('k8s_node') || filter.includes('gce_instance')) return nodeLogs;
  return [];
}

export const SANDBOX_CONTEXT = 'fake';

/** The demo's own policy: contain the finding's pod, in the finding's cluster and namespace only. */
export function demoPolicy(target: Target | null, kubeconfig: string): PolicyInput {
  const match: NonNullable<PolicyInput['rules']>[number]['match'] = {};
  if (target) {
    match.projects = [target.project];
    match.clusters = [target.cluster];
    if (target.namespace) match.namespaces = [target.namespace];
  }
  return {
    dryRun: true,
    rules: [{ name: 'sandbox-contain', match, actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] }],
    clusters: target ? { [target.clusterName]: sandboxCluster(kubeconfig) } : {},
    // The namespace's team gets the summary in its own channel, with a mention (docs/summary.md, "Routes and mentions").
    ...(target?.namespace
      ? {
          routes: [{ name: 'owning-team', match: { namespaces: [target.namespace] }, slackWebhookEnv: DEMO_TEAM_WEBHOOK_ENV }],
          mentions: { slack: { [teamOf(target.namespace)]: DEMO_TEAM_GROUP } },
        }
      : {}),
  };
}

/** The route's webhook variable in the demo's own policy, and the Slack user group its mention names. */
export const DEMO_TEAM_WEBHOOK_ENV = 'TEAM_SLACK_WEBHOOK_URL';
export const DEMO_TEAM_GROUP = 'S0DEMOTEAM';
/** The sandbox namespace's `team` label: the owner value a mention is keyed by. */
export const teamOf = (namespace: string) => `team-${namespace.slice(0, 58).replace(/-+$/, '')}`;

/** The sandbox plays a GKE cluster with Dataplane V2, which enforces NetworkPolicy. */
function sandboxCluster(kubeconfig: string) {
  return { kubeconfig, context: SANDBOX_CONTEXT, networkPolicyEnforcement: 'enforced' as const };
}

/**
 * A user's policy, pointed at the sandbox: every `clusters:` entry is replaced
 * by the sandbox mapping, so an enforced pass can never reach a real cluster.
 */
export function sandboxedPolicy(input: Json, target: Target | null, kubeconfig: string): { policy: Json; replacedClusters: string[] } {
  const policy = structuredClone(input);
  const replacedClusters = Object.keys((policy.clusters as Json | undefined) ?? {}).filter((k) => k !== target?.clusterName);
  policy.clusters = target ? { [target.clusterName]: sandboxCluster(kubeconfig) } : {};
  return { policy, replacedClusters };
}
