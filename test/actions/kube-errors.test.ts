// Cluster connection faults over real TLS on 127.0.0.1, through the real
// client-node: certificates made at test time with the openssl CLI, served by
// node:https in front of the strict fake. What each fault is called (the cause
// kept in the reason) and what it means for the delivery: a certificate or host
// name that does not verify and a 401 are reported and acked; a refused, reset
// or timed-out connection is retried. Also: the per-request deadline closes
// the connection, for every request the KubeApi makes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterResponder } from '../../src/actions/cluster-responder.ts';
import { classifyKubeError, describeKubeError } from '../../src/actions/errors.ts';
import { KubeApiError, type KubeApi } from '../../src/actions/kube-api.ts';
import { createClusterAccess, type ClusterManagerLike, type TokenProvider } from '../../src/adapters/gke-cluster-access.ts';
import { createKubeApi, kubeConfigForEndpoint } from '../../src/adapters/kubernetes.ts';
import { TransientError } from '../../src/core/errors.ts';
import { decodeInput } from '../../src/core/finding/envelope.ts';
import { plan as makePlan } from '../../src/core/plan/plan.ts';
import { validatePolicy } from '../../src/core/policy/policy.ts';
import type { ContainmentResult } from '../../src/core/ports.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.ts';
import { refusingPort as openRefusingPort, type RefusingPort } from '../support/emulators.ts';
import { notificationV1 } from '../support/fixtures.ts';
import { NODE, NS, POD, POD_UID, RS, seed } from '../support/kube-seed.ts';

const NOW = new Date('2026-11-20T14:05:00Z');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TlsEndpoint {
  url: string;
  host: string;
  /** What the endpoint does with a request once TLS is up; by default, forward it to the fake. */
  handle: Handler | null;
  server: Server;
  sockets: Set<Socket>;
}

let dir: string;
let fake: FakeKubeApi;
/** The CA that getCluster hands out (base64 PEM, as masterAuth.clusterCaCertificate carries it). */
let caData: string;
const endpoints: Record<'good' | 'wrongHost' | 'otherCa' | 'selfSigned', TlsEndpoint> = {} as never;

function openssl(...args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('these tests need the openssl CLI (Debian package openssl) to make their certificates');
    throw new Error(`openssl ${args.join(' ')}: ${e.stderr?.toString() ?? String(error)}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(name: string): void {
  openssl('req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '7', '-subj', `/CN=${name}`);
}

function makeLeaf(name: string, ca: string, subjectAltName: string): void {
  openssl('req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\nbasicConstraints=CA:FALSE\n`);
  const sign = ['-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '7', '-extfile', `${name}.ext`];
  openssl('x509', '-req', '-in', `${name}.csr`, ...sign, '-out', `${name}.pem`);
}

function forwardToFake(req: IncomingMessage, res: ServerResponse): void {
  const upstream = httpRequest(`${fake.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

async function serveTls(keyName: string): Promise<TlsEndpoint> {
  const sockets = new Set<Socket>();
  const endpoint = { handle: null } as TlsEndpoint;
  const server = createHttpsServer({ key: readFileSync(join(dir, `${keyName}.key`)), cert: readFileSync(join(dir, `${keyName}.pem`)) }, (req, res) =>
    (endpoint.handle ?? forwardToFake)(req, res),
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A handshake the client aborts is expected here; the server must not throw on it.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(endpoint, { server, sockets, host: `127.0.0.1:${port}`, url: `https://127.0.0.1:${port}` });
}

async function closeServer(server: { close(cb: () => void): unknown }, sockets: Iterable<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

let portHolder: RefusingPort | undefined;
async function refusingPort(): Promise<number> {
  portHolder ??= await openRefusingPort();
  return portHolder.port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kube-tls-'));
  makeCa('cluster-ca');
  makeCa('other-ca');
  makeLeaf('good', 'cluster-ca', 'IP:127.0.0.1');
  makeLeaf('wrong-host', 'cluster-ca', 'DNS:apiserver.other.example');
  makeLeaf('other-ca-leaf', 'other-ca', 'IP:127.0.0.1');
  caData = readFileSync(join(dir, 'cluster-ca.pem')).toString('base64');
  fake = await startFakeKubeApi({ seed: seed() });
  endpoints.good = await serveTls('good');
  endpoints.wrongHost = await serveTls('wrong-host');
  endpoints.otherCa = await serveTls('other-ca-leaf');
  // A CA certificate presented as the server's own: self-signed at depth zero.
  endpoints.selfSigned = await serveTls('other-ca');
});

afterAll(async () => {
  for (const e of Object.values(endpoints)) await closeServer(e.server, e.sockets);
  await portHolder?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

function kubeApi(url: string, options: { token?: string; requestTimeoutMs?: number } = {}): KubeApi {
  return createKubeApi(kubeConfigForEndpoint('test-cluster', url, caData, options.token ?? fake.token), {
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
  });
}

async function failure(promise: Promise<unknown>): Promise<KubeApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof KubeApiError)) throw new Error(`expected a KubeApiError, got ${String(error)}`);
  return error;
}

describe('KubeApi errors keep their cause and say whether waiting can fix them', () => {
  it('reads through a certificate that verifies against the cluster CA (the TLS set-up itself works)', async () => {
    const pod = await kubeApi(endpoints.good.url).readPod(NS, POD);
    expect(pod?.metadata.uid).toBe(POD_UID);
  });

  it.each([
    ['a server certificate from another CA', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'otherCa'],
    ['a certificate for another host name', 'ERR_TLS_CERT_ALTNAME_INVALID', 'wrongHost'],
    ['a self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'selfSigned'],
  ] as const)('%s is a permanent TLSError naming %s', async (_, code, endpoint) => {
    const error = await failure(kubeApi(endpoints[endpoint].url).readPod(NS, POD));
    expect(error).toMatchObject({ status: 0, reason: 'TLSError' });
    expect(error.message).toContain('fetch failed');
    expect(error.message).toContain(code);
    expect(describeKubeError(error)).toMatch(new RegExp(`^TLSError: fetch failed \\(.*${code}`));
    expect(classifyKubeError(error)).toBe('permanent');
  });

  it('a 401 with a Status body (wrong token at the strict fake) keeps its Unauthorized reason and is permanent', async () => {
    const error = await failure(kubeApi(endpoints.good.url, { token: 'not-the-token' }).readPod(NS, POD));
    expect(error).toMatchObject({ status: 401, reason: 'Unauthorized' });
    expect(describeKubeError(error)).toBe('HTTP 401 Unauthorized');
    expect(classifyKubeError(error)).toBe('permanent');
    expect(fake.requests.at(-1)?.status).toBe(401);
  });

  it('a 401 with a plain-text body is the same Unauthorized', async () => {
    endpoints.good.handle = (_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('Unauthorized\n');
    };
    try {
      const error = await failure(kubeApi(endpoints.good.url).cordonNode(NODE, {}));
      expect(error).toMatchObject({ status: 401, reason: 'Unauthorized' });
      expect(classifyKubeError(error)).toBe('permanent');
    } finally {
      endpoints.good.handle = null;
    }
  });

  it('an http:// endpoint with TLS verification on is refused before any request, as a permanent ConfigError', async () => {
    const error = await failure(kubeApi(fake.url).readPod(NS, POD));
    expect(error).toMatchObject({ status: 0, reason: 'ConfigError', message: expect.stringContaining('HTTP protocol is not allowed') });
    expect(classifyKubeError(error)).toBe('permanent');
  });

  it('a refused connection is a transient NetworkError naming ECONNREFUSED', async () => {
    const error = await failure(kubeApi(`https://127.0.0.1:${await refusingPort()}`).readPod(NS, POD));
    expect(error).toMatchObject({ status: 0, reason: 'NetworkError' });
    expect(error.message).toMatch(/^fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
    expect(classifyKubeError(error)).toBe('transient');
  });

  it('a connection reset during the handshake is a transient NetworkError naming ECONNRESET', async () => {
    const server = createNetServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const error = await failure(kubeApi(`https://127.0.0.1:${port}`).readPod(NS, POD));
      expect(error).toMatchObject({ status: 0, reason: 'NetworkError' });
      expect(error.message).toContain('ECONNRESET');
      expect(classifyKubeError(error)).toBe('transient');
    } finally {
      await closeServer(server, []);
    }
  });
});

describe('the per-request deadline', () => {
  // Every request the KubeApi makes, with valid arguments. exec has its own timer (a WebSocket session).
  const requests: Record<Exclude<keyof KubeApi, 'exec'>, (api: KubeApi) => Promise<unknown>> = {
    readPod: (api) => api.readPod(NS, POD),
    readNode: (api) => api.readNode(NODE),
    readNamespace: (api) => api.readNamespace(NS),
    readReplicaSet: (api) => api.readReplicaSet(NS, RS),
    listPods: (api) => api.listPods(NS, 'app=checkout'),
    listEvents: (api) => api.listEvents(NS, `involvedObject.name=${POD}`),
    readPodLog: (api) => api.readPodLog(NS, POD, 'checkout', 10),
    patchPodMetadata: (api) => api.patchPodMetadata(NS, POD, POD_UID, { labels: { a: 'b' } }),
    createNetworkPolicy: (api) =>
      api.createNetworkPolicy(NS, { metadata: { name: 'p' }, spec: { podSelector: { matchLabels: { a: 'b' } }, policyTypes: ['Ingress'] } }),
    readNetworkPolicy: (api) => api.readNetworkPolicy(NS, 'p'),
    listNetworkPolicies: (api) => api.listNetworkPolicies(NS),
    patchNetworkPolicySelector: (api) => api.patchNetworkPolicySelector(NS, 'p', '1', [], {}),
    deleteNetworkPolicy: (api) => api.deleteNetworkPolicy(NS, 'p', 'u'),
    cordonNode: (api) => api.cordonNode(NODE, {}),
    uncordonNode: (api) => api.uncordonNode(NODE, '1', []),
    createEvent: (api) => api.createEvent(NS, { involvedObject: { kind: 'Pod', name: POD, namespace: NS }, reason: 'R', message: 'm' }),
    evictPod: (api) => api.evictPod(NS, POD, POD_UID),
    deletePod: (api) => api.deletePod(NS, POD, POD_UID, 0),
  };

  it('covers every request method (a new one needs a row here)', () => {
    const methods = Object.keys(kubeApi(endpoints.good.url)).filter((m) => m !== 'exec');
    expect(methods.sort()).toEqual(Object.keys(requests).sort());
  });

  it.each(Object.keys(requests) as (keyof typeof requests)[])('%s: fails as a transient Timeout and closes the connection', async (method) => {
    const arrived: string[] = [];
    let connectionClosed!: () => void;
    const closed = new Promise<void>((resolve) => (connectionClosed = resolve));
    endpoints.good.handle = (req) => {
      // Never answered: only the client can end this request.
      arrived.push(`${req.method} ${req.url}`);
      req.on('close', connectionClosed);
    };
    try {
      const error = await failure(requests[method](kubeApi(endpoints.good.url, { requestTimeoutMs: 150 })));
      expect(error).toMatchObject({ status: 0, reason: 'Timeout' });
      expect(error.message).toMatch(/timed out after 150 ms$/);
      expect(classifyKubeError(error)).toBe('transient');
      expect(arrived).toHaveLength(1);
      // The server sees the request end because the client aborted it; nothing else would end it.
      await closed;
    } finally {
      endpoints.good.handle = null;
    }
  });
});

describe('the cluster responder on a GKE endpoint', () => {
  const policy = validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ['label-pod'] }] });
  const plan = makePlan(decodeInput(notificationV1()), policy, NOW);

  /** getCluster answers with `host` and the cluster CA, as the Container API does; the token is the fake's unless given. */
  function contain(
    host: string,
    options: { token?: string; tokenProvider?: TokenProvider; requestTimeoutMs?: number } = {},
  ): Promise<ContainmentResult> {
    const clusterManager: ClusterManagerLike = {
      getCluster: async () => [{ endpoint: host, masterAuth: { clusterCaCertificate: caData } }],
    };
    const access = createClusterAccess({
      policy,
      clusterManager,
      tokenProvider: options.tokenProvider ?? { getAccessToken: async () => ({ token: options.token ?? fake.token, expiresAt: null }) },
      kubeApi: { requestTimeoutMs: options.requestTimeoutMs ?? 10_000 },
    });
    const log = { log: () => {} };
    return createClusterResponder({ policy, log, access, now: () => NOW }).contain({ plan, deniedByBudget: new Map() });
  }

  it('after a 401, the next delivery asks getCluster and the token provider again instead of reusing them', async () => {
    let getClusterCalls = 0;
    const tokens = ['revoked-token', fake.token];
    const access = createClusterAccess({
      policy,
      clusterManager: { getCluster: async () => (getClusterCalls++, [{ endpoint: endpoints.good.host, masterAuth: { clusterCaCertificate: caData } }]) },
      tokenProvider: { getAccessToken: async () => ({ token: tokens.shift() ?? fake.token, expiresAt: null }) },
    });
    const responder = createClusterResponder({ policy, log: { log: () => {} }, access, now: () => NOW });
    // Dry-run: the same reads, and the fake cluster is left as the other cases expect it.
    const dryRun = { ...plan, dryRun: true };
    const first = await responder.contain({ plan: dryRun, deniedByBudget: new Map() });
    expect(first.outcomes[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('HTTP 401 Unauthorized') });
    const second = await responder.contain({ plan: dryRun, deniedByBudget: new Map() });
    expect(second.outcomes.map((o) => o.status)).toEqual(['would']);
    expect(getClusterCalls).toBe(2);
  });

  it('contains through a certificate that verifies (the path works end to end)', async () => {
    const result = await contain(endpoints.good.host);
    expect(result.outcomes.map((o) => [o.type, o.status])).toEqual([['label-pod', 'done']]);
  });

  it.each([
    ['a certificate from another CA', 'otherCa', 'TLSError: fetch failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a certificate for another host name', 'wrongHost', 'TLSError: fetch failed (ERR_TLS_CERT_ALTNAME_INVALID'],
  ] as const)('%s: reported failed with the cause, not retried', async (_, endpoint, cause) => {
    const writesBefore = fake.writes().length;
    const result = await contain(endpoints[endpoint].host);
    expect(result.outcomes).toEqual([{ type: 'label-pod', status: 'failed', reason: expect.stringContaining(`preflight: ${cause}`) }]);
    expect(fake.writes()).toHaveLength(writesBefore);
  });

  it('a 401 is reported failed as Unauthorized, not retried', async () => {
    const result = await contain(endpoints.good.host, { token: 'ya29.revoked' });
    expect(result.outcomes).toEqual([{ type: 'label-pod', status: 'failed', reason: 'preflight: HTTP 401 Unauthorized' }]);
  });

  it('a refused connection throws a TransientError naming ECONNREFUSED (Pub/Sub redelivers)', async () => {
    const outcome = contain(`127.0.0.1:${await refusingPort()}`);
    await expect(outcome).rejects.toThrow(TransientError);
    await expect(outcome).rejects.toThrow(/^preflight: NetworkError: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
  });

  // The token comes first (connect): its endpoint, reached through a TLS-inspecting proxy, is classified the same way.
  const tokenFrom = (url: string): TokenProvider => ({
    getAccessToken: async () => {
      await fetch(url);
      throw new Error('unreachable: the token endpoint answered');
    },
  });

  it('a token endpoint whose certificate does not verify: reported failed with the cause, not retried', async () => {
    const result = await contain(endpoints.good.host, { tokenProvider: tokenFrom(endpoints.otherCa.url) });
    expect(result.outcomes).toEqual([
      { type: 'label-pod', status: 'failed', reason: 'cluster access: access token: fetch failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate)' },
    ]);
  });

  it('a token endpoint that refuses the connection throws a TransientError naming ECONNREFUSED', async () => {
    const outcome = contain(endpoints.good.host, { tokenProvider: tokenFrom(`https://127.0.0.1:${await refusingPort()}/token`) });
    await expect(outcome).rejects.toThrow(TransientError);
    await expect(outcome).rejects.toThrow(/^access token: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
  });

  it('an endpoint that never answers throws a TransientError Timeout', async () => {
    endpoints.good.handle = () => {};
    try {
      const outcome = contain(endpoints.good.host, { requestTimeoutMs: 150 });
      await expect(outcome).rejects.toThrow(TransientError);
      await expect(outcome).rejects.toThrow(/^preflight: Timeout: read pod timed out after 150 ms$/);
    } finally {
      endpoints.good.handle = null;
    }
  });
});
