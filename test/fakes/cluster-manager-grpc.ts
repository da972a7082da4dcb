// A gRPC fake of google.container.v1.ClusterManager (GetCluster only) on
// 127.0.0.1, built from the protos shipped in @google-cloud/container, so the
// real ClusterManagerClient can be pointed at it.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

export interface FakeClusterManager {
  port: number;
  /** Container API names of every GetCluster call, in order. */
  calls: string[];
  clusters: Map<string, Record<string, unknown>>;
  /** Runs on each GetCluster before it is answered; the answer waits for its promise (a slow or hung Container API). */
  before?: (name: string) => Promise<unknown>;
  close(): Promise<void>;
}

export async function startFakeClusterManager(clusters: Record<string, Record<string, unknown>>): Promise<FakeClusterManager> {
  const pkgDir = dirname(require.resolve('@google-cloud/container/package.json'));
  const protos = join(pkgDir, 'build', 'protos');
  // google/api/*.proto come with google-gax, the client's own runtime.
  const gaxMain = createRequire(join(pkgDir, 'package.json')).resolve('google-gax');
  const gaxProtos = join(gaxMain.slice(0, gaxMain.lastIndexOf('/build/')), 'build', 'protos');
  const definition = protoLoader.loadSync(join(protos, 'google/container/v1/cluster_service.proto'), {
    includeDirs: [protos, gaxProtos],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const service = loaded.google.container.v1.ClusterManager.service as grpc.ServiceDefinition;
  const state: FakeClusterManager = { port: 0, calls: [], clusters: new Map(Object.entries(clusters)), close: async () => {} };
  const server = new grpc.Server();
  const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in the fake' } as grpc.ServiceError, null);
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) handlers[name] = unimplemented;
  handlers.GetCluster = (call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const name = call.request.name;
    state.calls.push(name);
    const answer = () => {
      const cluster = state.clusters.get(name);
      if (!cluster) {
        callback({ code: grpc.status.NOT_FOUND, details: `Not found: ${name}.` } as grpc.ServiceError, null);
        return;
      }
      callback(null, cluster);
    };
    const wait = state.before?.(name);
    if (wait) void wait.then(answer, answer);
    else answer();
  };
  server.addService(service, handlers);
  state.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  state.close = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  return state;
}
