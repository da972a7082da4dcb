// A cluster that matches test/fixtures/notification-v1.json: the compromised
// pod payments/checkout-7c9f8d6b5-q2w8x (Deployment checkout → ReplicaSet
// checkout-7c9f8d6b5) on node gke-shop-prod-1-default-pool-3f2a9c1b-x7kq, two
// ready siblings, a PDB that allows one disruption, events and logs.
import type { FakeKubeSeed } from '../fakes/kube-api-server.ts';

export const NS = 'payments';
export const POD = 'checkout-7c9f8d6b5-q2w8x';
export const POD_UID = '5b1f6c2e-8a44-4d0e-9f61-3c2d7b9a0e11';
export const NODE = 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq';
export const OTHER_NODE = 'gke-shop-prod-1-default-pool-3f2a9c1b-m2zd';
export const RS = 'checkout-7c9f8d6b5';
export const RS_UID = 'a0c4e1f2-5d6b-4c3a-9e8f-7a6b5c4d3e2f';
export const INSTANCE_ID = '4412875432109876543';
export const CLUSTER = 'projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1';
export const IMAGE = 'us-docker.pkg.dev/example-shop-prod/apps/checkout:2.14.1';

const ready = [{ type: 'Ready', status: 'True' }];

export function checkoutPod(name = POD, uid = POD_UID, node = NODE): Record<string, any> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      uid,
      creationTimestamp: '2026-11-18T09:12:40Z',
      labels: { app: 'checkout', 'pod-template-hash': '7c9f8d6b5', tier: 'payments' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: RS, uid: RS_UID, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'checkout',
          image: IMAGE,
          env: [{ name: 'STRIPE_API_KEY', value: 'sk_live_do_not_leak' }, { name: 'PORT', value: '8080' }],
        },
        { name: 'istio-proxy', image: 'gke.gcr.io/istio/proxyv2:1.22.3' },
      ],
    },
    status: {
      phase: 'Running',
      conditions: ready,
      containerStatuses: [
        {
          name: 'checkout',
          image: IMAGE,
          imageID: 'us-docker.pkg.dev/example-shop-prod/apps/checkout@sha256:4f1c0a5b6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6e7f809',
        },
      ],
    },
  };
}

export function node(name = NODE): Record<string, any> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'cloud.google.com/gke-nodepool': 'default-pool' },
      annotations: { 'container.googleapis.com/instance_id': INSTANCE_ID },
    },
    spec: {
      taints: [{ key: 'workload', value: 'payments', effect: 'NoSchedule' }],
    },
  };
}

export function seed(): FakeKubeSeed {
  return {
    namespaces: [NS],
    pods: [
      checkoutPod(),
      checkoutPod('checkout-7c9f8d6b5-h4k9p', 'c9d2b8e4-1f0a-4b7c-8d6e-2a1b3c4d5e6f', OTHER_NODE),
      checkoutPod('checkout-7c9f8d6b5-z8n3r', 'e7f6a5b4-c3d2-4e1f-9a8b-7c6d5e4f3a2b', OTHER_NODE),
      // Same labels, different owner: must never count as a sibling nor be selected.
      {
        ...checkoutPod('checkout-canary-0', '0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f', OTHER_NODE),
        metadata: { ...checkoutPod().metadata, name: 'checkout-canary-0', uid: '0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f', ownerReferences: [] },
      },
    ],
    nodes: [node(), node(OTHER_NODE)],
    replicaSets: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: RS,
          namespace: NS,
          uid: RS_UID,
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: 'd1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a', controller: true }],
        },
        spec: { replicas: 3, selector: { matchLabels: { app: 'checkout', 'pod-template-hash': '7c9f8d6b5' } } },
        status: { replicas: 3, readyReplicas: 3 },
      },
    ],
    podDisruptionBudgets: [
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'checkout', namespace: NS },
        spec: { minAvailable: 2, selector: { matchLabels: { app: 'checkout' } } },
        status: { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 3 },
      },
    ],
    events: [
      {
        metadata: { name: `${POD}.187a`, namespace: NS },
        involvedObject: { kind: 'Pod', name: POD, namespace: NS, uid: POD_UID },
        type: 'Normal',
        reason: 'Started',
        message: 'Started container checkout',
      },
      {
        metadata: { name: 'checkout-7c9f8d6b5-h4k9p.1', namespace: NS },
        involvedObject: { kind: 'Pod', name: 'checkout-7c9f8d6b5-h4k9p', namespace: NS, uid: 'c9d2b8e4-1f0a-4b7c-8d6e-2a1b3c4d5e6f' },
        type: 'Normal',
        reason: 'Started',
        message: 'other pod',
      },
    ],
    logs: {
      [`${NS}/${POD}/checkout`]: Array.from({ length: 300 }, (_, i) => `line ${i + 1}`).join('\n') + '\n',
      [`${NS}/${POD}/istio-proxy`]: 'proxy ready\n',
    },
  };
}
