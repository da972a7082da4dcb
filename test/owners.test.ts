// Owner resolution end to end, with real components at every edge: the real
// client-node against the strict Kubernetes fake (namespace GET), the real
// ClusterManagerClient against the Container API gRPC fake (cluster resource labels),
// google-auth-library's gaxios against the loopback Essential Contacts fake, and the
// pod labels as the real preflight read them. Each source alone, all together, each
// failing, hostile values, and unconfigured sources that must read nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { ClusterManagerClient } from '@google-cloud/container';
import { createClusterResponder } from '../src/actions/cluster-responder.ts';
import type { ClusterConnector } from '../src/actions/kube-api.ts';
import { createEssentialContactsReader, loopbackEndpoint } from '../src/adapters/essential-contacts.ts';
import { createClusterAccess, type ClusterManagerLike, type TokenProvider } from '../src/adapters/gke-cluster-access.ts';
import { createKubeApi, kubeConfigFromFile } from '../src/adapters/kubernetes.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { cleanOwnerText, isEmailAddress, resolveOwnersFromFacts, MAX_OWNERS } from '../src/core/summary/owners.ts';
import { plan as makePlan, type Plan } from '../src/core/plan/plan.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { ClusterResponder, ClusterSnapshots, StepLogger } from '../src/core/ports.ts';
import { resolveOwners, type OwnerRead, type ResolveOwnersDeps } from '../src/pipeline/resolve-owners.ts';
import { startFakeClusterManager, type FakeClusterManager } from './fakes/cluster-manager-grpc.ts';
import { startFakeEssentialContacts, type FakeContact, type FakeEssentialContacts } from './fakes/essential-contacts-server.ts';
import { startFakeKubeApi, type FakeKubeApi, type FakeKubeSeed } from './fakes/kube-api-server.ts';
import { notificationV1 } from './support/fixtures.ts';
import { CLUSTER, NS, seed as kubeSeed } from './support/kube-seed.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const PROJECT = 'example-shop-prod';
const NAMESPACE_GET = `/api/v1/namespaces/${NS}`;
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n').toString('base64');

const ALL_SOURCES = {
  essentialContacts: true,
  clusterLabelKeys: ['owner', 'team'],
  namespaceKeys: ['owner', 'team', 'contact'],
  workloadLabelKeys: ['owner', 'team'],
  // Generous: no test here waits for it; the hang tests fire their deadline themselves.
  timeoutSeconds: 5,
};

const CONTACTS: FakeContact[] = [
  { email: 'security@example-shop.com' },
  // Inherited from the organization, subscribed to everything.
  { email: 'secops@example.com', parent: 'organizations/1234567', notificationCategorySubscriptions: ['ALL'] },
  { email: 'billing@example-shop.com', notificationCategorySubscriptions: ['BILLING'] },
  { email: 'left-the-company@example-shop.com', validationState: 'INVALID' },
];

let gke: FakeClusterManager;
let containerClient: ClusterManagerClient;

beforeAll(async () => {
  gke = await startFakeClusterManager({});
  containerClient = new ClusterManagerClient({
    apiEndpoint: '127.0.0.1',
    port: gke.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
});

afterAll(async () => {
  await containerClient.close();
  await gke.close();
});

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

interface World {
  kube: FakeKubeApi;
  contacts: FakeEssentialContacts;
  policy: Policy;
  plan: Plan;
  responder: ClusterResponder;
  tokens: { issued: number };
  /** How often the responder was asked for (the lazy loader the pipeline shares). */
  loads: { count: number };
  lines: { severity: string; step: string; message: string }[];
  contain(): Promise<ClusterSnapshots>;
  resolve(snapshots?: ClusterSnapshots, extra?: Partial<ResolveOwnersDeps> & { plan?: Plan }): ReturnType<typeof resolveOwners>;
}

/**
 * The fixture's finding on the fixture's cluster: pod payments/checkout-… labelled
 * owner=checkout-squad, team=payments; namespace payments with owner/team labels and a
 * contact annotation; the GKE cluster labelled owner=shop-platform, team=payments; the
 * project's security contacts. Containment is a dry-run label-pod (every read, no write).
 */
async function world(options: {
  owners?: Record<string, unknown>;
  seed?: (seed: FakeKubeSeed) => void;
  contacts?: Record<string, FakeContact[]>;
  /** false: the cluster is reached by kubeconfig only (no Container API, no resource labels). */
  gke?: boolean;
} = {}): Promise<World> {
  const seed = kubeSeed();
  seed.pods![0]!.metadata.labels = { ...seed.pods![0]!.metadata.labels, owner: 'checkout-squad', team: 'payments' };
  seed.namespaceObjects = [
    { metadata: { name: NS, labels: { owner: 'payments-platform', team: 'payments' }, annotations: { contact: 'payments-oncall@example.com' } } },
  ];
  options.seed?.(seed);
  const kube = await startFakeKubeApi({ seed });
  open.push(kube);
  const contacts = await startFakeEssentialContacts(options.contacts ?? { [PROJECT]: CONTACTS });
  open.push(contacts);
  gke.calls.length = 0;
  gke.clusters.clear();
  gke.clusters.set(CLUSTER, {
    name: 'shop-prod-1',
    endpoint: '34.121.10.20',
    masterAuth: { clusterCaCertificate: CA },
    resourceLabels: { owner: 'shop-platform', team: 'payments', env: 'prod' },
  });
  delete gke.before;

  const policy = validatePolicy({
    dryRun: true,
    rules: [{ name: 'contain', actions: ['label-pod'] }],
    clusters: { [CLUSTER]: { kubeconfig: kube.kubeconfigPath, context: 'fake', networkPolicyEnforcement: 'enforced' } },
    owners: options.owners ?? ALL_SOURCES,
  });
  const tokens = { issued: 0 };
  const tokenProvider: TokenProvider = {
    async getAccessToken() {
      tokens.issued += 1;
      return { token: `ya29.fake-${tokens.issued}`, expiresAt: NOW.getTime() + 3600_000 };
    },
  };
  const kubeAccess = createClusterAccess({ policy });
  // The Container API side as on GKE (getCluster, cached with the token); the Kubernetes
  // side through the fake's kubeconfig (the fake speaks plain HTTP, GKE's path is HTTPS).
  const gkeAccess = createClusterAccess({
    policy: validatePolicy({}),
    clusterManager: containerClient as unknown as ClusterManagerLike,
    tokenProvider,
    now: () => NOW.getTime(),
  });
  const connector: ClusterConnector =
    options.gke === false
      ? kubeAccess
      : { connect: (name) => kubeAccess.connect(name), facts: (name) => gkeAccess.facts(name) };
  const lines: World['lines'] = [];
  const log: StepLogger = { log: (severity, step, message) => void lines.push({ severity, step, message }) };
  const responder = createClusterResponder({ policy, log, access: connector, now: () => NOW });
  const plan = makePlan(decodeInput(notificationV1()), policy, NOW);
  const reader = createEssentialContactsReader({ env: { ESSENTIAL_CONTACTS_API_ENDPOINT: contacts.url }, now: () => NOW.getTime() });
  const loads = { count: 0 };
  return {
    kube,
    contacts,
    policy,
    plan,
    responder,
    tokens,
    loads,
    lines,
    async contain() {
      const result = await responder.contain({ plan, deniedByBudget: new Map() });
      expect(result.outcomes.map((o) => o.status)).toEqual(['would']);
      return result.snapshots;
    },
    resolve(snapshots = {}, extra = {}) {
      const { plan: planOverride, ...deps } = extra;
      return resolveOwners(
        { plan: planOverride ?? plan, snapshots },
        {
          policy,
          clusterResponder: async () => {
            loads.count += 1;
            return responder;
          },
          essentialContacts: async () => reader,
          log,
          ...deps,
        },
      );
    },
  };
}

const namespaceGets = (kube: FakeKubeApi) => kube.requests.filter((r) => r.method === 'GET' && r.path === NAMESPACE_GET);

/** Deadlines the test fires, one source at a time; the others never expire. */
function manualDeadlines() {
  const pending = new Map<OwnerRead, () => void>();
  return {
    timer: (_ms: number, source: OwnerRead) => new Promise<void>((resolve) => pending.set(source, resolve)),
    fire(source: OwnerRead) {
      const fire = pending.get(source);
      if (!fire) throw new Error(`no deadline started for ${source}`);
      fire();
    },
  };
}

describe('each source alone', () => {
  const none = { essentialContacts: false, clusterLabelKeys: [], namespaceKeys: [], workloadLabelKeys: [], timeoutSeconds: 5 };

  it('workload labels: the pod as the preflight read it, at no extra read', async () => {
    const w = await world({ owners: { ...none, workloadLabelKeys: ['owner', 'team'] } });
    const snapshots = await w.contain();
    const before = w.kube.requests.length;
    const result = await w.resolve(snapshots);
    expect(result).toEqual({
      owners: [
        { who: 'checkout-squad', source: 'workload-label', key: 'owner' },
        { who: 'payments', source: 'workload-label', key: 'team' },
      ],
      notes: [],
    });
    expect(w.kube.requests.length).toBe(before);
    expect(w.loads.count).toBe(0);
    expect(w.contacts.requests).toEqual([]);
  });

  it("workload labels: without a snapshot (no containment ran), the finding's own copy of the pod labels", async () => {
    const w = await world({ owners: { ...none, workloadLabelKeys: ['tier'] } });
    expect(await w.resolve({})).toEqual({ owners: [{ who: 'payments', source: 'workload-label', key: 'tier' }], notes: [] });
    expect(w.kube.requests).toEqual([]);
  });

  it('namespace: one GET over the connection containment made, labels and annotations', async () => {
    const w = await world({ owners: { ...none, namespaceKeys: ['owner', 'contact'] } });
    const snapshots = await w.contain();
    const before = w.kube.requests.length;
    const result = await w.resolve(snapshots);
    expect(result).toEqual({
      owners: [
        { who: 'payments-platform', source: 'namespace-label', key: 'owner' },
        { who: 'payments-oncall@example.com', source: 'namespace-annotation', key: 'contact' },
      ],
      notes: [],
    });
    expect(w.kube.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${NAMESPACE_GET}`]);
    // The real API server labels every namespace with its name: not an owner unless a key asks for it.
    expect(result.owners.map((o) => o.key)).not.toContain('kubernetes.io/metadata.name');
  });

  it('cluster labels: from the cached getCluster containment connected with (no second getCluster, no new token)', async () => {
    const w = await world({ owners: { ...none, clusterLabelKeys: ['owner', 'team', 'contact'] } });
    await w.contain();
    expect({ getCluster: gke.calls.length, tokens: w.tokens.issued }).toEqual({ getCluster: 1, tokens: 1 });
    const result = await w.resolve();
    expect(result).toEqual({
      owners: [
        { who: 'shop-platform', source: 'cluster-label', key: 'owner' },
        { who: 'payments', source: 'cluster-label', key: 'team' },
      ],
      notes: [],
    });
    expect({ getCluster: gke.calls.length, tokens: w.tokens.issued }).toEqual({ getCluster: 1, tokens: 1 });
  });

  it('cluster labels: a kubeconfig-mapped cluster has none, and that is not a failure', async () => {
    const w = await world({ owners: { ...none, clusterLabelKeys: ['owner'] }, gke: false });
    expect(await w.resolve()).toEqual({ owners: [], notes: [] });
    expect(gke.calls).toEqual([]);
  });

  it("essential contacts: the project's SECURITY contacts, inherited ones included, without credentials on loopback", async () => {
    const w = await world({ owners: { ...none, essentialContacts: true } });
    expect(await w.resolve()).toEqual({
      owners: [
        { who: 'security@example-shop.com', source: 'essential-contacts', key: null },
        { who: 'secops@example.com', source: 'essential-contacts', key: null },
      ],
      notes: [],
    });
    expect(w.contacts.requests).toEqual([
      {
        method: 'GET',
        path: `/v1/projects/${PROJECT}/contacts:compute`,
        query: { notificationCategories: ['SECURITY'], pageSize: ['50'] },
        authorization: null,
        status: 200,
      },
    ]);
    expect(w.kube.requests).toEqual([]);
    expect(w.loads.count).toBe(0);
  });

  it('essential contacts: follows nextPageToken, and stops at three pages', async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ email: `sec-${i}@example-shop.com` }));
    const two = await world({ owners: { ...none, essentialContacts: true }, contacts: { [PROJECT]: many(60) } });
    const result = await two.resolve();
    expect(two.contacts.requests.map((r) => [r.status, r.query.pageToken !== undefined])).toEqual([[200, false], [200, true]]);
    expect(result.owners).toHaveLength(MAX_OWNERS);
    expect(result.notes).toEqual([`40 more owners not listed (at most ${MAX_OWNERS})`]);

    const capped = await world({ owners: { ...none, essentialContacts: true }, contacts: { [PROJECT]: many(400) } });
    const truncated = await capped.resolve();
    expect(capped.contacts.requests).toHaveLength(3);
    expect(truncated.notes).toEqual([
      'essential contacts: more security contacts than the page limit, the rest not read',
      `130 more owners not listed (at most ${MAX_OWNERS})`,
    ]);
  });
});

describe('all sources together', () => {
  it('lists each owner once, most specific first, and reads each source once', async () => {
    const w = await world();
    const snapshots = await w.contain();
    const before = w.kube.requests.length;
    const result = await w.resolve(snapshots);
    expect(result).toEqual({
      owners: [
        { who: 'checkout-squad', source: 'workload-label', key: 'owner' },
        // team=payments again on the namespace and the cluster: listed once, where it is most specific.
        { who: 'payments', source: 'workload-label', key: 'team' },
        { who: 'payments-platform', source: 'namespace-label', key: 'owner' },
        { who: 'payments-oncall@example.com', source: 'namespace-annotation', key: 'contact' },
        { who: 'shop-platform', source: 'cluster-label', key: 'owner' },
        { who: 'security@example-shop.com', source: 'essential-contacts', key: null },
        { who: 'secops@example.com', source: 'essential-contacts', key: null },
      ],
      notes: [],
    });
    expect(w.kube.requests.slice(before).map((r) => r.path)).toEqual([NAMESPACE_GET]);
    expect(w.contacts.requests).toHaveLength(1);
    expect({ getCluster: gke.calls.length, tokens: w.tokens.issued }).toEqual({ getCluster: 1, tokens: 1 });
    expect(w.lines.filter((l) => l.step === 'owners')).toEqual([{ severity: 'INFO', step: 'owners', message: '7 owner(s) found' }]);
  });

  it('a burst in one namespace and project reads the namespace and the contacts once; a failure is not kept', async () => {
    const w = await world();
    w.contacts.faults.push({ status: 503, message: 'The service is currently unavailable.' });
    const first = await w.resolve();
    expect(first.notes).toEqual(['essential contacts: HTTP 503 UNAVAILABLE: The service is currently unavailable.']);
    await Promise.all([w.resolve(), w.resolve(), w.resolve()]);
    expect(namespaceGets(w.kube)).toHaveLength(1);
    // The failed answer was not cached: the next finding asked again, once for all three.
    expect(w.contacts.requests.map((r) => r.status)).toEqual([503, 200]);
  });
});

describe('a failing source costs only itself', () => {
  it.each([
    ['403 (no essentialcontacts.contacts.list)', (c: FakeEssentialContacts) => c.denied.add(PROJECT), "essential contacts: HTTP 403 PERMISSION_DENIED: Permission 'essentialcontacts.contacts.list' denied on resource '//cloudresourcemanager.googleapis.com/projects/example-shop-prod' (or it may not exist)."],
    ['500', (c: FakeEssentialContacts) => c.faults.push({ status: 500, message: 'Internal error encountered.' }), 'essential contacts: HTTP 500 INTERNAL: Internal error encountered.'],
    ['404 (unknown project)', (c: FakeEssentialContacts) => c.projects.delete(PROJECT), "essential contacts: HTTP 404 NOT_FOUND: Project 'example-shop-prod' not found."],
  ])('Essential Contacts %s: a note, every other owner still found', async (_what, breakIt, note) => {
    const w = await world();
    breakIt(w.contacts);
    const result = await w.resolve(await w.contain());
    expect(result.notes).toEqual([note]);
    expect(result.owners.map((o) => o.source)).toEqual(['workload-label', 'workload-label', 'namespace-label', 'namespace-annotation', 'cluster-label']);
  });

  it('Essential Contacts hanging past the deadline: a note, the others found, the request cancelled', async () => {
    const w = await world();
    const snapshots = await w.contain();
    w.contacts.faults.push({ hang: true });
    const deadlines = manualDeadlines();
    const resolution = w.resolve(snapshots, { timer: deadlines.timer });
    await w.contacts.arrived(1);
    deadlines.fire('essential-contacts');
    const result = await resolution;
    expect(result.notes).toEqual(['essential contacts: no answer within 5 s']);
    expect(result.owners.map((o) => o.source)).toEqual(['workload-label', 'workload-label', 'namespace-label', 'namespace-annotation', 'cluster-label']);
    // The client gave up on it (aborted), rather than leaving it to finish on its own.
    await w.contacts.abandoned(1);
  });

  it.each([
    ['404 (namespace gone)', (k: FakeKubeApi) => k.state.namespaces.delete(NS), 'namespace "payments": not found'],
    [
      '403 (no namespaces get)',
      (k: FakeKubeApi) =>
        k.state.faults.push({
          method: 'GET',
          path: /^\/api\/v1\/namespaces\/payments$/,
          status: 403,
          reason: 'Forbidden',
          message: 'namespaces "payments" is forbidden: User "scc-responder-fn@example-sec-ops.iam.gserviceaccount.com" cannot get resource "namespaces" in API group "" in the namespace "payments"',
        }),
      'namespace "payments": HTTP 403 Forbidden: namespaces "payments" is forbidden: User "scc-responder-fn@example-sec-ops.iam.gserviceaccount.com" cannot get resource "namespaces" in API group "" in the namespace "payments"',
    ],
    ['500', (k: FakeKubeApi) => k.state.faults.push({ method: 'GET', path: /^\/api\/v1\/namespaces\/payments$/, status: 500 }), 'namespace "payments": HTTP 500 InternalError: injected fault 500'],
  ])('namespace read %s: a note, every other owner still found', async (_what, breakIt, note) => {
    const w = await world();
    const snapshots = await w.contain();
    breakIt(w.kube);
    const result = await w.resolve(snapshots);
    expect(result.notes).toEqual([note]);
    expect(result.owners.map((o) => o.source)).toEqual(['workload-label', 'workload-label', 'cluster-label', 'essential-contacts', 'essential-contacts']);
  });

  it('namespace read hanging past the deadline: a note, the others found', async () => {
    const w = await world();
    const snapshots = await w.contain();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    w.kube.state.faults.push({ method: 'GET', path: /^\/api\/v1\/namespaces\/payments$/, waitFor: () => held });
    w.kube.state.beforeRequest = (req) => {
      if (req.path === NAMESPACE_GET) arrived();
    };
    const deadlines = manualDeadlines();
    const resolution = w.resolve(snapshots, { timer: deadlines.timer });
    await arrival;
    deadlines.fire('namespace');
    const result = await resolution;
    release();
    expect(result.notes).toEqual(['namespace "payments": no answer within 5 s']);
    expect(result.owners.map((o) => o.source)).toEqual(['workload-label', 'workload-label', 'cluster-label', 'essential-contacts', 'essential-contacts']);
  });

  it('cluster labels: getCluster refused (the cluster is not found) or hanging: a note, the others found', async () => {
    const refused = await world();
    gke.clusters.delete(CLUSTER);
    const result = await refused.resolve();
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toMatch(/^cluster labels: getCluster projects\/example-shop-prod\/locations\/us-central1\/clusters\/shop-prod-1: 5 NOT_FOUND: Not found/);
    expect(result.owners.map((o) => o.source)).toEqual(['namespace-label', 'namespace-label', 'namespace-annotation', 'essential-contacts', 'essential-contacts']);

    const hanging = await world();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    gke.before = () => {
      arrived();
      return held;
    };
    const deadlines = manualDeadlines();
    const resolution = hanging.resolve({}, { timer: deadlines.timer });
    await arrival;
    deadlines.fire('cluster-labels');
    const slow = await resolution;
    release();
    expect(slow.notes).toEqual(['cluster labels: no answer within 5 s']);
    expect(slow.owners.map((o) => o.source)).toEqual(['namespace-label', 'namespace-label', 'namespace-annotation', 'essential-contacts', 'essential-contacts']);
  });

  it('never throws: a cluster responder or contacts client that cannot load is a note per source', async () => {
    const w = await world();
    const result = await w.resolve({}, {
      clusterResponder: () => Promise.reject(new Error('cannot load the cluster client')),
      essentialContacts: () => Promise.reject(new Error('cannot load google-auth-library')),
    });
    expect(result).toEqual({
      owners: [],
      notes: [
        'namespace "payments": cannot load the cluster client',
        'cluster labels: cannot load the cluster client',
        'essential contacts: cannot load google-auth-library',
      ],
    });
  });

  it('a finding with no target resolves to nothing, reading nothing', async () => {
    const w = await world();
    const plan = { ...structuredClone(w.plan), target: null };
    expect(await w.resolve({}, { plan })).toEqual({ owners: [], notes: [] });
    expect(w.kube.requests).toEqual([]);
    expect(w.contacts.requests).toEqual([]);
  });
});

describe('hostile values', () => {
  it('namespace annotations: control and bidi characters stripped, an over-long value dropped (never cut)', async () => {
    const w = await world({
      owners: { ...ALL_SOURCES, essentialContacts: false, clusterLabelKeys: [], workloadLabelKeys: [] },
      seed: (s) => {
        s.namespaceObjects = [
          {
            metadata: {
              name: NS,
              annotations: { owner: '  Payments\tTeam\u200B (on-call)\u0007\u202E ', contact: `${'x'.repeat(10_000)}@example.com`, team: `${'y'.repeat(250)}` },
            },
          },
        ];
      },
    });
    const result = await w.resolve();
    expect(result).toEqual({
      owners: [{ who: 'Payments Team (on-call)', source: 'namespace-annotation', key: 'owner' }],
      notes: ['namespace annotation "team": value over 200 characters, ignored', 'namespace annotation "contact": value over 200 characters, ignored'],
    });
  });

  it('essential contacts: addresses that are not e-mail addresses are ignored and counted', async () => {
    const w = await world({
      owners: { ...ALL_SOURCES, clusterLabelKeys: [], namespaceKeys: [], workloadLabelKeys: [] },
      contacts: {
        [PROJECT]: [
          { email: 'not-an-email' },
          { email: 'x@y' },
          { email: '<!channel>@example.com' },
          { email: 'ops@example.com\r\nBcc: evil@example.com' },
          { email: `${'a'.repeat(300)}@example.com` },
          { email: 'security@example-shop.com' },
        ],
      },
    });
    expect(await w.resolve()).toEqual({
      owners: [{ who: 'security@example-shop.com', source: 'essential-contacts', key: null }],
      notes: ['essential contacts: 5 invalid e-mail addresses ignored'],
    });
  });

  it('a project id with "/" is never sent; a domain-scoped one is URL-encoded', async () => {
    const w = await world({ owners: { ...ALL_SOURCES, clusterLabelKeys: [], namespaceKeys: [], workloadLabelKeys: [] } });
    const plan = structuredClone(w.plan);
    plan.target!.project = 'example-shop-prod/contacts:compute?x=../../organizations/1';
    expect(await w.resolve({}, { plan })).toEqual({
      owners: [],
      notes: ['essential contacts: project "example-shop-prod/contacts:compute?x=../../organizations/1" is not a valid project id: not looked up'],
    });
    expect(w.contacts.requests).toEqual([]);

    const scoped = await world({
      owners: { ...ALL_SOURCES, clusterLabelKeys: [], namespaceKeys: [], workloadLabelKeys: [] },
      contacts: { 'example.com:shop-prod': [{ email: 'security@example.com' }] },
    });
    const scopedPlan = structuredClone(scoped.plan);
    scopedPlan.target!.project = 'example.com:shop-prod';
    expect((await scoped.resolve({}, { plan: scopedPlan })).owners).toEqual([{ who: 'security@example.com', source: 'essential-contacts', key: null }]);
    expect(scoped.contacts.requests.map((r) => r.path)).toEqual(['/v1/projects/example.com%3Ashop-prod/contacts:compute']);
  });

  it('a namespace name that is not a DNS-1123 label is never sent', async () => {
    const w = await world({ owners: { ...ALL_SOURCES, essentialContacts: false, clusterLabelKeys: [], workloadLabelKeys: [] } });
    const plan = structuredClone(w.plan);
    plan.target!.namespace = '..';
    expect(await w.resolve({}, { plan })).toEqual({ owners: [], notes: ['namespace "..": not a valid Kubernetes name: not looked up'] });
    expect(w.kube.requests).toEqual([]);
  });
});

describe('unconfigured sources read nothing', () => {
  it('no keys and no contacts: no request anywhere, the cluster client not even loaded', async () => {
    const w = await world({ owners: { essentialContacts: false, clusterLabelKeys: [], namespaceKeys: [], workloadLabelKeys: [] } });
    expect(await w.resolve()).toEqual({ owners: [], notes: [] });
    expect(w.kube.requests).toEqual([]);
    expect(w.contacts.requests).toEqual([]);
    expect(gke.calls).toEqual([]);
    expect(w.loads.count).toBe(0);
  });

  it.each([
    ['namespaceKeys', { namespaceKeys: [] }, (w: World) => expect(namespaceGets(w.kube)).toEqual([])],
    ['clusterLabelKeys', { clusterLabelKeys: [] }, () => expect(gke.calls).toEqual([])],
    ['essentialContacts', { essentialContacts: false }, (w: World) => expect(w.contacts.requests).toEqual([])],
  ])('%s off: that source is not read, the others are', async (_key, off, nothingRead) => {
    const w = await world({ owners: { ...ALL_SOURCES, ...off } });
    const result = await w.resolve();
    nothingRead(w);
    expect(result.notes).toEqual([]);
    expect(result.owners.length).toBeGreaterThan(0);
  });
});

describe('the Kubernetes fake and adapter: namespace GET as kube-apiserver answers it', () => {
  it('returns the Namespace with the name label, 404 with a Status for a missing one, and refuses an invalid name unsent', async () => {
    const w = await world();
    const api = createKubeApi(kubeConfigFromFile(w.kube.kubeconfigPath, 'fake'));
    const found = await api.readNamespace(NS);
    expect(found?.metadata.labels).toEqual({ owner: 'payments-platform', team: 'payments', 'kubernetes.io/metadata.name': NS });
    expect(await api.readNamespace('nope')).toBeNull();
    const raw = await fetch(`${w.kube.url}/api/v1/namespaces/nope`, { headers: { authorization: `Bearer ${w.kube.token}` } });
    expect({ status: raw.status, body: await raw.json() }).toEqual({
      status: 404,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'namespaces "nope" not found', reason: 'NotFound', details: { name: 'nope', kind: 'namespaces' }, code: 404 },
    });
    const sent = w.kube.requests.length;
    await expect(api.readNamespace('..')).rejects.toMatchObject({ reason: 'InvalidName' });
    expect(w.kube.requests.length).toBe(sent);
  });
});

describe('the Essential Contacts endpoint override', () => {
  it.each(['http://example.com:8089', 'https://127.0.0.1:8089', 'http://127.0.0.1:8089/v1', 'http://user:pw@127.0.0.1:8089', 'not a url'])(
    'refuses %s: loopback http only (it is a test setting)',
    (value) => {
      expect(() => loopbackEndpoint(value)).toThrow(/loopback http URL/);
      expect(() => createEssentialContactsReader({ env: { ESSENTIAL_CONTACTS_API_ENDPOINT: value } })).toThrow(/loopback http URL/);
    },
  );

  it("without it, calls Google's endpoint through the ADC client it is given (its request(), which signs the call)", async () => {
    const seen: unknown[] = [];
    const auth = {
      async request(options: { url: string }) {
        seen.push(options);
        return { data: { contacts: [{ email: 'security@example-shop.com', validationState: 'VALID' }] } };
      },
    };
    const reader = createEssentialContactsReader({ env: {}, auth: auth as unknown as NonNullable<Parameters<typeof createEssentialContactsReader>[0]>['auth'] });
    expect(await reader.securityContacts(PROJECT)).toEqual({ emails: ['security@example-shop.com'], truncated: false });
    expect(seen).toEqual([
      {
        url: `https://essentialcontacts.googleapis.com/v1/projects/${PROJECT}/contacts:compute?notificationCategories=SECURITY&pageSize=50`,
        method: 'GET',
        responseType: 'json',
        retry: false,
        signal: expect.any(AbortSignal),
      },
    ]);
  });

  it('a read shared by two findings is aborted only when both gave up: one deadline does not cost the other its contacts', async () => {
    let answer!: (value: { data: unknown }) => void;
    let aborted = false;
    const auth = {
      request(options: { signal?: AbortSignal }) {
        options.signal?.addEventListener('abort', () => void (aborted = true));
        return new Promise<{ data: unknown }>((resolve) => (answer = resolve));
      },
    };
    const reader = createEssentialContactsReader({ env: {}, auth: auth as unknown as NonNullable<Parameters<typeof createEssentialContactsReader>[0]>['auth'] });
    const first = new AbortController();
    const second = new AbortController();
    const a = reader.securityContacts(PROJECT, { signal: first.signal });
    const b = reader.securityContacts(PROJECT, { signal: second.signal });
    first.abort(new Error('first finding out of time'));
    await expect(a).rejects.toThrow('first finding out of time');
    expect(aborted).toBe(false);
    answer({ data: { contacts: [{ email: 'security@example-shop.com', validationState: 'VALID' }] } });
    await expect(b).resolves.toEqual({ emails: ['security@example-shop.com'], truncated: false });
    // When every waiting finding gives up, the request itself is aborted (a hung request is not left open).
    const lone = new AbortController();
    const reader2 = createEssentialContactsReader({ env: {}, auth: auth as unknown as NonNullable<Parameters<typeof createEssentialContactsReader>[0]>['auth'] });
    const c = reader2.securityContacts(PROJECT, { signal: lone.signal });
    lone.abort(new Error('out of time'));
    await expect(c).rejects.toThrow('out of time');
    expect(aborted).toBe(true);
  });

  it('accepts 127.0.0.1, localhost and [::1]', () => {
    expect(['http://127.0.0.1:8089', 'http://localhost:8089/', 'http://[::1]:8089'].map(loopbackEndpoint)).toEqual([
      'http://127.0.0.1:8089',
      'http://localhost:8089',
      'http://[::1]:8089',
    ]);
  });
});

describe('src/core/summary/owners.ts (pure)', () => {
  const keys = { clusterLabelKeys: ['team'], namespaceKeys: ['team', 'contact'], workloadLabelKeys: ['team', 'constructor'] };

  it('dedupes keeping the most specific place: addresses case-insensitively, teams exactly', () => {
    const result = resolveOwnersFromFacts(
      { workloadLabels: { team: 'Payments' }, namespaceLabels: { team: 'payments' }, clusterLabels: { team: 'payments' }, contactEmails: ['Sec@Example.com', 'sec@example.com'] },
      keys,
    );
    // "Payments" on the workload does not hide the namespace's "payments", which routes and mentions match exactly.
    expect(result.owners).toEqual([
      { who: 'Payments', source: 'workload-label', key: 'team' },
      { who: 'payments', source: 'namespace-label', key: 'team' },
      { who: 'Sec@Example.com', source: 'essential-contacts', key: null },
    ]);
  });

  it('reads own keys only: a label named constructor is a label, the prototype is not', () => {
    const labels = Object.assign(Object.create(null) as Record<string, string>, { constructor: 'ctor-team' });
    expect(resolveOwnersFromFacts({ workloadLabels: {} }, keys).owners).toEqual([]);
    expect(resolveOwnersFromFacts({ workloadLabels: Object.create({ team: 'inherited' }) }, keys).owners).toEqual([]);
    expect(resolveOwnersFromFacts({ workloadLabels: labels }, keys).owners).toEqual([{ who: 'ctor-team', source: 'workload-label', key: 'constructor' }]);
    expect(resolveOwnersFromFacts({ workloadLabels: ['team'], namespaceLabels: 'team=x', clusterLabels: { team: 7 } }, keys)).toEqual({ owners: [], notes: [] });
  });

  it('refuses values that are not valid label values (Kubernetes) or GCP label values (cluster)', () => {
    const result = resolveOwnersFromFacts({ workloadLabels: { team: 'pay ments' }, namespaceLabels: { team: 'x'.repeat(64) }, clusterLabels: { team: 'Payments' } }, keys);
    expect(result).toEqual({
      owners: [],
      notes: [
        'workload label "team": not a valid label value, ignored',
        'namespace label "team": not a valid label value, ignored',
        'cluster label "team": not a valid GCP label value, ignored',
      ],
    });
    expect(resolveOwnersFromFacts({ clusterLabels: { team: 'équipe_paiements-2' } }, keys).owners).toEqual([{ who: 'équipe_paiements-2', source: 'cluster-label', key: 'team' }]);
  });

  it(`keeps at most ${MAX_OWNERS} owners and at most 5 value notes`, () => {
    const emails = Array.from({ length: 30 }, (_, i) => `o${i}@example.com`);
    expect(resolveOwnersFromFacts({ contactEmails: emails }, keys).notes).toEqual([`10 more owners not listed (at most ${MAX_OWNERS})`]);
    const many = { clusterLabelKeys: [], namespaceKeys: Array.from({ length: 8 }, (_, i) => `k${i}`), workloadLabelKeys: [] };
    const bad = Object.fromEntries(many.namespaceKeys.map((k) => [k, 'not valid!']));
    const result = resolveOwnersFromFacts({ namespaceLabels: bad }, many);
    expect(result.notes).toHaveLength(6);
    expect(result.notes[5]).toBe('3 more owner values ignored');
  });

  it('cleans text: line breaks to spaces; control, bidi, zero-width and lone surrogates removed', () => {
    expect(cleanOwnerText('\u202Eevil\u202C team\r\nlead\u0000\u200D\uD800 ')).toBe('evil team lead');
  });

  it.each([
    ['security@example.com', true],
    ['first.last+sec@sub.example.co.uk', true],
    ['a@b', false],
    ['.a@example.com', false],
    ['a..b@example.com', false],
    ['a@-example.com', false],
    ['<@U123>@example.com', false],
    ['a b@example.com', false],
    ['a@example.com\n', false],
  ])('isEmailAddress(%j) is %s', (value, valid) => {
    expect(isEmailAddress(value)).toBe(valid);
  });
});
