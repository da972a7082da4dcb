// How the responder reaches a cluster. Default: GKE through the Container API
// (getCluster → endpoint + CA) and an OAuth access token from Application
// Default Credentials; one getCluster per cluster per token lifetime, cached
// for the instance. A policy `clusters` entry maps a cluster to a kubeconfig
// file + context instead (other clouds, kind, a bastion, the CLI).
// Types only: the Container API client and google-auth-library load on the first GKE
// endpoint lookup (#resolve), so a kubeconfig-mapped cluster never pays ~0.5 s for them
// before its first containment write (bench/: cold start is time-to-contain).
import { createRequire } from 'node:module';
import type { GoogleAuth } from 'google-auth-library';
import { PermanentError, TransientError } from '../core/errors.ts';
import type { Policy } from '../core/policy/policy.ts';
import { KubeApiError, type ClusterConnector, type ClusterFacts, type KubeApi } from '../actions/kube-api.ts';
import { createKubeApi, kubeConfigForEndpoint, kubeConfigFromFile, networkCause, type KubeApiOptions } from './kubernetes.ts';

export interface GkeCluster {
  endpoint?: string | null;
  autopilot?: { enabled?: boolean | null } | null;
  networkConfig?: { datapathProvider?: string | number | null } | null;
  networkPolicy?: { enabled?: boolean | null; provider?: string | number | null } | null;
  masterAuth?: { clusterCaCertificate?: string | null } | null;
  privateClusterConfig?: { privateEndpoint?: string | null } | null;
  controlPlaneEndpointsConfig?: {
    ipEndpointsConfig?: { publicEndpoint?: string | null; privateEndpoint?: string | null } | null;
  } | null;
  /** The cluster's GCP resource labels (`gcloud container clusters update --update-labels`). */
  resourceLabels?: Record<string, string> | null;
}

/** The one Container API call we make (ClusterManagerClient fits it). */
export interface ClusterManagerLike {
  getCluster(request: { name: string }): Promise<[GkeCluster, ...unknown[]]>;
}

export interface AccessToken {
  token: string;
  /** Epoch ms; null when unknown (then a conservative lifetime is assumed). */
  expiresAt: number | null;
}

export interface TokenProvider {
  getAccessToken(): Promise<AccessToken>;
}

export interface GkeEndpoint {
  server: string;
  caData: string | undefined;
  token: string;
  expiresAt: number;
  private: boolean;
  facts: ClusterFacts;
}

/**
 * GKE enforces NetworkPolicy with Dataplane V2 (datapathProvider ADVANCED_DATAPATH,
 * always on Autopilot) or with network policy enforcement (Calico,
 * networkPolicy.enabled). Anything else stores the objects and enforces nothing.
 */
export function gkeNetworkPolicyFacts(cluster: GkeCluster): ClusterFacts {
  // The gRPC client gives enums as strings by default; numbers in case a caller asked for them (ADVANCED_DATAPATH = 2).
  const datapath = cluster.networkConfig?.datapathProvider;
  if (cluster.autopilot?.enabled === true) return { networkPolicy: 'enforced', networkPolicySource: 'GKE Autopilot (Dataplane V2)' };
  if (datapath === 'ADVANCED_DATAPATH' || datapath === 2) return { networkPolicy: 'enforced', networkPolicySource: 'GKE Dataplane V2' };
  if (cluster.networkPolicy?.enabled === true) return { networkPolicy: 'enforced', networkPolicySource: 'GKE network policy enforcement (Calico)' };
  return { networkPolicy: 'not-enforced', networkPolicySource: 'GKE cluster without Dataplane V2 or network policy enforcement' };
}

/** GCP allows at most 64 labels on a resource: more than that is not a real answer. */
const MAX_RESOURCE_LABELS = 64;

/**
 * The cluster's resource labels, for owner resolution: string values only, own keys only,
 * at most 64, absent when there are none. Validated later (src/core/summary/owners.ts): this only
 * keeps the copy small and plain.
 */
export function gkeResourceLabels(cluster: GkeCluster): Record<string, string> | undefined {
  const labels = cluster.resourceLabels;
  if (typeof labels !== 'object' || labels === null) return undefined;
  const entries = Object.entries(labels)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .slice(0, MAX_RESOURCE_LABELS);
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

/** Everything the actions and owner resolution take from the one getCluster answer. */
export function gkeClusterFacts(cluster: GkeCluster): ClusterFacts {
  const resourceLabels = gkeResourceLabels(cluster);
  return { ...gkeNetworkPolicyFacts(cluster), ...(resourceLabels ? { resourceLabels } : {}) };
}

export interface ClusterAccessOptions {
  policy: Policy;
  clusterManager?: ClusterManagerLike;
  tokenProvider?: TokenProvider;
  /** Epoch ms clock, for the cache. */
  now?: () => number;
  kubeApi?: KubeApiOptions;
}

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Refresh this long before the token expires, so a slow action never runs on an expired token. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
/** ADC tokens last about an hour; when the expiry is unknown, assume less. */
const UNKNOWN_EXPIRY_LIFETIME_MS = 30 * 60_000;

/** ADC via google-auth-library: the function's service account on Cloud Run, gcloud ADC on a laptop. */
export function adcTokenProvider(auth: GoogleAuth): TokenProvider {
  return {
    async getAccessToken() {
      const client = await auth.getClient();
      const { token } = await client.getAccessToken();
      if (!token) throw new Error('Application Default Credentials returned no access token');
      const expiry = (client as { credentials?: { expiry_date?: number | null } }).credentials?.expiry_date ?? null;
      return { token, expiresAt: expiry };
    },
  };
}

// gRPC codes that can heal: UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE.
const TRANSIENT_GRPC = new Set([2, 4, 8, 10, 13, 14]);

function accessError(what: string, error: unknown): Error {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'number') {
    const message = `${what}: ${(error as Error)?.message ?? String(error)}`.slice(0, 500);
    return TRANSIENT_GRPC.has(code) ? new TransientError(message, { cause: error }) : new PermanentError(message, { cause: error });
  }
  // The token endpoint's client (gaxios) reports a socket fault like fetch does: the code says what it was.
  const cause = networkCause(error);
  const message = `${what}: ${cause?.message ?? (error as Error)?.message ?? String(error)}`.slice(0, 500);
  // A certificate that does not verify (a TLS-inspecting proxy on the way) does not fix itself.
  if (cause?.tls) return new PermanentError(message, { cause: error });
  // No ADC at all will not fix itself; network trouble reaching the token endpoint will.
  if (/Could not load the default credentials|invalid_grant|unauthorized_client/i.test(message)) {
    return new PermanentError(message, { cause: error });
  }
  return new TransientError(message, { cause: error });
}

export function selectEndpoint(cluster: GkeCluster, usePrivate: boolean): string {
  const ip = cluster.controlPlaneEndpointsConfig?.ipEndpointsConfig;
  if (usePrivate) {
    const privateEndpoint = ip?.privateEndpoint || cluster.privateClusterConfig?.privateEndpoint;
    if (!privateEndpoint) throw new PermanentError('gke.usePrivateEndpoint is set but the cluster has no private endpoint');
    return privateEndpoint;
  }
  const endpoint = cluster.endpoint || ip?.publicEndpoint;
  if (!endpoint) throw new PermanentError('the cluster has no public endpoint (set gke.usePrivateEndpoint in the policy)');
  return endpoint;
}

export class ClusterAccess implements ClusterConnector {
  readonly #policy: Policy;
  readonly #now: () => number;
  readonly #kubeApiOptions: KubeApiOptions;
  #clusterManager: ClusterManagerLike | undefined;
  #tokenProvider: TokenProvider | undefined;
  readonly #endpoints = new Map<string, { promise: Promise<GkeEndpoint>; expiresAt: number }>();
  readonly #apis = new Map<string, { api: KubeApi; expiresAt: number }>();

  constructor(options: ClusterAccessOptions) {
    this.#policy = options.policy;
    this.#now = options.now ?? Date.now;
    this.#kubeApiOptions = options.kubeApi ?? {};
    this.#clusterManager = options.clusterManager;
    this.#tokenProvider = options.tokenProvider;
  }

  /** The GKE endpoint, CA and token for a cluster; cached until shortly before the token expires. */
  async endpoint(clusterName: string): Promise<GkeEndpoint> {
    const now = this.#now();
    const cached = this.#endpoints.get(clusterName);
    if (cached && cached.expiresAt > now) return cached.promise;
    const promise = this.#resolve(clusterName);
    const entry = { promise, expiresAt: Number.POSITIVE_INFINITY };
    this.#endpoints.set(clusterName, entry);
    try {
      const endpoint = await promise;
      entry.expiresAt = endpoint.expiresAt;
      return endpoint;
    } catch (error) {
      // A failure is never cached: the next delivery asks again.
      if (this.#endpoints.get(clusterName) === entry) this.#endpoints.delete(clusterName);
      throw error;
    }
  }

  async #resolve(clusterName: string): Promise<GkeEndpoint> {
    if (this.#clusterManager === undefined || this.#tokenProvider === undefined) {
      // require(), not import: see src/adapters/cloud-logging.ts.
      const requireCjs = createRequire(import.meta.url);
      const { GoogleAuth } = requireCjs('google-auth-library') as typeof import('google-auth-library');
      const { ClusterManagerClient } = requireCjs('@google-cloud/container') as typeof import('@google-cloud/container');
      // One ADC client for both: the token for the Kubernetes API and the Container API's own auth.
      const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
      this.#tokenProvider ??= adcTokenProvider(auth);
      this.#clusterManager ??= new ClusterManagerClient({ auth }) as unknown as ClusterManagerLike;
    }
    // The token first: without credentials, fail here, before the Container API client
    // starts its own (unobserved) credential lookup.
    let token: AccessToken;
    try {
      token = await this.#tokenProvider.getAccessToken();
    } catch (error) {
      throw accessError('access token', error);
    }
    let cluster: GkeCluster;
    try {
      [cluster] = await this.#clusterManager.getCluster({ name: clusterName });
    } catch (error) {
      throw accessError(`getCluster ${clusterName}`, error);
    }
    const usePrivate = this.#policy.gke.usePrivateEndpoint;
    const host = selectEndpoint(cluster, usePrivate);
    const now = this.#now();
    const tokenExpiry = token.expiresAt ?? now + UNKNOWN_EXPIRY_LIFETIME_MS;
    return {
      server: `https://${host}`,
      caData: cluster.masterAuth?.clusterCaCertificate || undefined,
      token: token.token,
      expiresAt: Math.max(now, tokenExpiry - EXPIRY_MARGIN_MS),
      private: usePrivate,
      facts: gkeClusterFacts(cluster),
    };
  }

  async facts(clusterName: string): Promise<ClusterFacts> {
    const mapping = this.#policy.clusters[clusterName];
    if (mapping) {
      const declared = mapping.networkPolicyEnforcement;
      return {
        networkPolicy: declared,
        networkPolicySource: declared === 'unknown' ? 'not declared: set networkPolicyEnforcement in the policy\'s clusters entry' : 'declared in the policy\'s clusters entry',
      };
    }
    return (await this.endpoint(clusterName)).facts;
  }

  async connect(clusterName: string): Promise<KubeApi> {
    const now = this.#now();
    const cached = this.#apis.get(clusterName);
    if (cached && cached.expiresAt > now) return cached.api;
    const mapping = this.#policy.clusters[clusterName];
    if (mapping) {
      let api: KubeApi;
      try {
        api = createKubeApi(kubeConfigFromFile(mapping.kubeconfig, mapping.context), this.#kubeApiOptions);
      } catch (error) {
        throw new PermanentError(`kubeconfig for ${clusterName}: ${(error as Error).message}`, { cause: error });
      }
      // The kubeconfig's own auth (exec plugin, token file) refreshes itself.
      this.#apis.set(clusterName, { api, expiresAt: Number.POSITIVE_INFINITY });
      return api;
    }
    const endpoint = await this.endpoint(clusterName);
    const api = this.#forgetOnRejectedCredentials(
      clusterName,
      createKubeApi(kubeConfigForEndpoint(clusterName, endpoint.server, endpoint.caData, endpoint.token), this.#kubeApiOptions),
    );
    this.#apis.set(clusterName, { api, expiresAt: endpoint.expiresAt });
    return api;
  }

  /**
   * A 401 or a certificate that does not verify means the cached token or CA is
   * no longer the cluster's (revoked, rotated): the next delivery must ask
   * getCluster and ADC again instead of failing the same way for an hour.
   */
  #forgetOnRejectedCredentials(clusterName: string, api: KubeApi): KubeApi {
    const forget = (error: unknown) => {
      if (error instanceof KubeApiError && (error.status === 401 || error.reason === 'TLSError')) {
        this.#apis.delete(clusterName);
        this.#endpoints.delete(clusterName);
      }
      throw error;
    };
    const wrapped: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(api) as [string, (...args: unknown[]) => Promise<unknown>][]) {
      wrapped[name] = (...args: unknown[]) => method(...args).catch(forget);
    }
    return wrapped as unknown as KubeApi;
  }
}

export function createClusterAccess(options: ClusterAccessOptions): ClusterAccess {
  return new ClusterAccess(options);
}
