// The GKE access path: the real ClusterManagerClient against a gRPC fake of
// the Container API, a fake token provider, and the cache.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { ClusterManagerClient } from '@google-cloud/container';
import { createClusterAccess, type ClusterManagerLike, type TokenProvider } from '../../src/adapters/gke-cluster-access.ts';
import { PermanentError, TransientError } from '../../src/core/errors.ts';
import { validatePolicy } from '../../src/core/policy/policy.ts';
import { startFakeClusterManager, type FakeClusterManager } from '../fakes/cluster-manager-grpc.ts';

const PROD = 'projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1';
const PRIVATE_ONLY = 'projects/example-shop-prod/locations/us-central1/clusters/private-1';
const DPV2 = 'projects/example-shop-prod/locations/us-central1/clusters/dpv2';
const CALICO = 'projects/example-shop-prod/locations/us-central1/clusters/calico';
const AUTOPILOT = 'projects/example-shop-prod/locations/us-central1/clusters/autopilot';
const LEGACY = 'projects/example-shop-prod/locations/us-central1/clusters/legacy';
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n').toString('base64');

let fake: FakeClusterManager;
let client: ClusterManagerClient;

beforeAll(async () => {
  fake = await startFakeClusterManager({
    [PROD]: {
      name: 'shop-prod-1',
      endpoint: '34.121.10.20',
      masterAuth: { clusterCaCertificate: CA },
      privateClusterConfig: { privateEndpoint: '10.0.0.2' },
      controlPlaneEndpointsConfig: { ipEndpointsConfig: { enabled: true, publicEndpoint: '34.121.10.20', privateEndpoint: '10.0.0.2' } },
    },
    [DPV2]: { name: 'dpv2', endpoint: '34.121.10.21', masterAuth: { clusterCaCertificate: CA }, networkConfig: { datapathProvider: 'ADVANCED_DATAPATH' } },
    [CALICO]: { name: 'calico', endpoint: '34.121.10.22', masterAuth: { clusterCaCertificate: CA }, networkPolicy: { enabled: true, provider: 'CALICO' } },
    [AUTOPILOT]: { name: 'autopilot', endpoint: '34.121.10.23', masterAuth: { clusterCaCertificate: CA }, autopilot: { enabled: true } },
    [LEGACY]: {
      name: 'legacy',
      endpoint: '34.121.10.24',
      masterAuth: { clusterCaCertificate: CA },
      networkConfig: { datapathProvider: 'LEGACY_DATAPATH' },
      networkPolicy: { enabled: false },
    },
    [PRIVATE_ONLY]: {
      name: 'private-1',
      masterAuth: { clusterCaCertificate: CA },
      privateClusterConfig: { privateEndpoint: '10.8.0.2' },
    },
  });
  client = new ClusterManagerClient({
    apiEndpoint: '127.0.0.1',
    port: fake.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
});

afterAll(async () => {
  await client.close();
  await fake.close();
});

function tokens(lifetimeMs: number, clock: { now: number }): TokenProvider & { issued: number } {
  const provider = {
    issued: 0,
    async getAccessToken() {
      provider.issued += 1;
      return { token: `ya29.fake-${provider.issued}`, expiresAt: clock.now + lifetimeMs };
    },
  };
  return provider;
}

describe('GKE cluster access', () => {
  it('resolves endpoint + CA with one getCluster per cluster per token lifetime', async () => {
    fake.calls.length = 0;
    const clock = { now: Date.parse('2026-11-20T14:05:00Z') };
    const tokenProvider = tokens(60 * 60_000, clock);
    const access = createClusterAccess({
      policy: validatePolicy({}),
      clusterManager: client as unknown as ClusterManagerLike,
      tokenProvider,
      now: () => clock.now,
    });
    const [a, b] = await Promise.all([access.endpoint(PROD), access.endpoint(PROD)]);
    expect(a).toEqual({
      server: 'https://34.121.10.20',
      caData: CA,
      token: 'ya29.fake-1',
      expiresAt: clock.now + 55 * 60_000,
      private: false,
      facts: { networkPolicy: 'not-enforced', networkPolicySource: 'GKE cluster without Dataplane V2 or network policy enforcement' },
    });
    expect(b).toEqual(a);
    clock.now += 54 * 60_000;
    await access.endpoint(PROD);
    expect(fake.calls).toEqual([PROD]);
    // Past token expiry minus the 5 min margin: ask again, with a fresh token.
    clock.now += 2 * 60_000;
    const refreshed = await access.endpoint(PROD);
    expect(refreshed.token).toBe('ya29.fake-2');
    expect(fake.calls).toEqual([PROD, PROD]);
    // A kube client is built from the same cached endpoint.
    await access.connect(PROD);
    expect(fake.calls).toHaveLength(2);
  });

  it.each([
    [DPV2, 'enforced', 'GKE Dataplane V2'],
    [CALICO, 'enforced', 'GKE network policy enforcement (Calico)'],
    [AUTOPILOT, 'enforced', 'GKE Autopilot (Dataplane V2)'],
    [LEGACY, 'not-enforced', 'GKE cluster without Dataplane V2 or network policy enforcement'],
  ])('reads NetworkPolicy enforcement from the same getCluster (%s → %s)', async (cluster, networkPolicy, networkPolicySource) => {
    fake.calls.length = 0;
    const access = createClusterAccess({
      policy: validatePolicy({}),
      clusterManager: client as unknown as ClusterManagerLike,
      tokenProvider: tokens(3600_000, { now: 0 }),
      now: () => 0,
    });
    const [facts] = await Promise.all([access.facts(cluster), access.connect(cluster)]);
    expect(facts).toEqual({ networkPolicy, networkPolicySource });
    expect(fake.calls).toEqual([cluster]);
  });

  it('takes enforcement from the policy for kubeconfig-mapped clusters, unknown unless declared', async () => {
    const mapped = 'projects/p-local/locations/l/clusters/kind-1';
    const declared = createClusterAccess({ policy: validatePolicy({ clusters: { [mapped]: { kubeconfig: '/nonexistent', networkPolicyEnforcement: 'not-enforced' } } }) });
    expect(await declared.facts(mapped)).toEqual({ networkPolicy: 'not-enforced', networkPolicySource: "declared in the policy's clusters entry" });
    const silent = createClusterAccess({ policy: validatePolicy({ clusters: { [mapped]: { kubeconfig: '/nonexistent' } } }) });
    expect((await silent.facts(mapped)).networkPolicy).toBe('unknown');
  });

  it('selects the private endpoint when the policy says so', async () => {
    const clock = { now: 0 };
    const access = createClusterAccess({
      policy: validatePolicy({ gke: { usePrivateEndpoint: true } }),
      clusterManager: client as unknown as ClusterManagerLike,
      tokenProvider: tokens(3600_000, clock),
      now: () => clock.now,
    });
    expect((await access.endpoint(PROD)).server).toBe('https://10.0.0.2');
    expect((await access.endpoint(PRIVATE_ONLY)).server).toBe('https://10.8.0.2');
  });

  it('fails permanently for a cluster with no public endpoint when private is not configured', async () => {
    const access = createClusterAccess({
      policy: validatePolicy({}),
      clusterManager: client as unknown as ClusterManagerLike,
      tokenProvider: tokens(3600_000, { now: 0 }),
    });
    await expect(access.endpoint(PRIVATE_ONLY)).rejects.toThrow(PermanentError);
  });

  it('maps NOT_FOUND to a permanent error and UNAVAILABLE to a transient one, caching neither', async () => {
    fake.calls.length = 0;
    const access = createClusterAccess({
      policy: validatePolicy({}),
      clusterManager: client as unknown as ClusterManagerLike,
      tokenProvider: tokens(3600_000, { now: 0 }),
    });
    const missing = 'projects/example-shop-prod/locations/us-central1/clusters/gone';
    await expect(access.endpoint(missing)).rejects.toThrow(PermanentError);
    await expect(access.endpoint(missing)).rejects.toThrow(PermanentError);
    expect(fake.calls).toEqual([missing, missing]);

    const unavailable: ClusterManagerLike = {
      getCluster: async () => {
        throw Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), { code: 14 });
      },
    };
    const flaky = createClusterAccess({ policy: validatePolicy({}), clusterManager: unavailable, tokenProvider: tokens(1, { now: 0 }) });
    await expect(flaky.endpoint(PROD)).rejects.toThrow(TransientError);
  });
});
