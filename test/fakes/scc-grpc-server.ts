// A gRPC fake of google.cloud.securitycenter.v2.SecurityCenter (UpdateSecurityMarks
// and SetFindingState) on 127.0.0.1, built from the protos shipped in
// @google-cloud/security-center, so the real v2 SecurityCenterClient can be pointed
// at it. It records every request, keeps each finding's marks with the service's
// update-mask rules (`marks.<key>` sets or deletes one mark; an empty mask or
// `marks` replaces them all), and is stricter than it needs to be where the
// responder must be exact: an update-mask path other than `marks.<key>` and a name
// that is not a v2 finding (marks) name get INVALID_ARGUMENT.
// Reusable outside jest (the demo): startFakeScc({marks, faults}).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

export type SccMethod = 'UpdateSecurityMarks' | 'SetFindingState';

export interface RecordedSccRequest {
  method: SccMethod;
  /** securityMarks.name for UpdateSecurityMarks, name for SetFindingState. */
  name: string;
  /** UpdateSecurityMarks only. */
  marks?: Record<string, string>;
  updateMask?: string[];
  /** SetFindingState only: the enum name. */
  state?: string;
  /** Whether the fake accepted it (false: INVALID_ARGUMENT or an injected fault). */
  accepted: boolean;
  at: number;
}

export interface SccFault {
  /** A gRPC status code (grpc.status.*), or 'hang': never answer (until the server closes). */
  code: number | 'hang';
  details?: string;
  /** Fail this many requests, then answer normally (default: every request). */
  times?: number;
}

export interface FakeSccOptions {
  /** Marks already on findings, by finding name (v2, without /securityMarks). */
  marks?: Record<string, Record<string, string>>;
  faults?: Partial<Record<SccMethod, SccFault>>;
}

export interface FakeScc {
  port: number;
  endpoint: string;
  requests: RecordedSccRequest[];
  /** The marks each finding holds now, by finding name (v2). */
  marks: Map<string, Record<string, string>>;
  /** The state each finding was set to, by finding name (v2). */
  states: Map<string, string>;
  setFault(method: SccMethod, fault: SccFault | undefined): void;
  close(): Promise<void>;
}

// The service's resource patterns, with segments as the API accepts them (ids, no `/`).
const FINDING = /^(?:organizations|folders|projects)\/[A-Za-z0-9-]+\/sources\/[0-9]+\/locations\/[a-z0-9-]+\/findings\/[A-Za-z0-9]{1,32}$/;
const MARK_KEY = /^[A-Za-z0-9_-]{1,256}$/;

function protoDirs(): { protos: string; gaxProtos: string } {
  const pkgDir = dirname(require.resolve('@google-cloud/security-center/package.json'));
  // google/api/*.proto come with google-gax, the client's own runtime (its copy, not the root's).
  const gaxMain = createRequire(join(pkgDir, 'package.json')).resolve('google-gax');
  return { protos: join(pkgDir, 'build', 'protos'), gaxProtos: join(gaxMain.slice(0, gaxMain.lastIndexOf('/build/')), 'build', 'protos') };
}

export async function startFakeScc(options: FakeSccOptions = {}): Promise<FakeScc> {
  const { protos, gaxProtos } = protoDirs();
  const definition = protoLoader.loadSync(join(protos, 'google/cloud/securitycenter/v2/securitycenter_service.proto'), {
    includeDirs: [protos, gaxProtos],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const service = loaded.google.cloud.securitycenter.v2.SecurityCenter.service as grpc.ServiceDefinition;
  const faults = new Map<SccMethod, SccFault>(Object.entries(options.faults ?? {}).map(([m, f]) => [m as SccMethod, { ...f! }]));
  const hanging: (() => void)[] = [];
  const state: FakeScc = {
    port: 0,
    endpoint: '',
    requests: [],
    marks: new Map(Object.entries(options.marks ?? {}).map(([name, marks]) => [name, { ...marks }])),
    states: new Map(),
    setFault(method, fault) {
      if (fault) faults.set(method, { ...fault });
      else faults.delete(method);
    },
    close: async () => {},
  };

  const invalid = (callback: grpc.sendUnaryData<unknown>, details: string) =>
    callback({ code: grpc.status.INVALID_ARGUMENT, details } as grpc.ServiceError, null);

  /** Answers with the injected fault, if one applies now; true when it did. */
  function faulted(method: SccMethod, callback: grpc.sendUnaryData<unknown>): boolean {
    const fault = faults.get(method);
    if (!fault || (fault.times !== undefined && fault.times <= 0)) return false;
    if (fault.times !== undefined) fault.times--;
    if (fault.code === 'hang') hanging.push(() => callback({ code: grpc.status.CANCELLED, details: 'fake closed' } as grpc.ServiceError, null));
    else callback({ code: fault.code, details: fault.details ?? 'fake failure' } as grpc.ServiceError, null);
    return true;
  }

  const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in the fake' } as grpc.ServiceError, null);
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) handlers[name] = unimplemented;

  handlers.UpdateSecurityMarks = (
    call: grpc.ServerUnaryCall<{ securityMarks?: { name?: string; marks?: Record<string, string> }; updateMask?: { paths?: string[] } }, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) => {
    const name = call.request.securityMarks?.name ?? '';
    const marks = { ...(call.request.securityMarks?.marks ?? {}) };
    const paths = [...(call.request.updateMask?.paths ?? [])];
    const recorded: RecordedSccRequest = { method: 'UpdateSecurityMarks', name, marks, updateMask: paths, accepted: false, at: Date.now() };
    state.requests.push(recorded);
    if (faulted('UpdateSecurityMarks', callback)) return;
    if (!name.endsWith('/securityMarks') || !FINDING.test(name.slice(0, -'/securityMarks'.length))) {
      invalid(callback, `security_marks.name ${JSON.stringify(name)} is not a v2 finding's security marks`);
      return;
    }
    const keys: string[] = [];
    for (const path of paths) {
      const key = path.startsWith('marks.') ? path.slice('marks.'.length) : null;
      // Stricter than the service, which also takes `marks` (replace all): the responder must never send it.
      if (key === null || !MARK_KEY.test(key)) {
        invalid(callback, `update_mask path ${JSON.stringify(path)} is not marks.<key>`);
        return;
      }
      if (keys.includes(key)) {
        invalid(callback, `update_mask has ${JSON.stringify(path)} twice`);
        return;
      }
      keys.push(key);
    }
    for (const [key, value] of Object.entries(marks)) {
      if (!MARK_KEY.test(key)) return invalid(callback, `mark key ${JSON.stringify(key)} is not 1-256 letters, digits, _ or -`);
      if (value.trim().length < 1 || value.trim().length > 4096) return invalid(callback, `mark ${key} must be 1-4096 characters`);
    }
    const findingName = name.slice(0, -'/securityMarks'.length);
    const current = keys.length === 0 ? {} : { ...(state.marks.get(findingName) ?? {}) };
    if (keys.length === 0) Object.assign(current, marks);
    for (const key of keys) {
      if (Object.hasOwn(marks, key)) current[key] = marks[key]!.trim();
      else delete current[key];
    }
    state.marks.set(findingName, current);
    recorded.accepted = true;
    callback(null, { name, marks: current });
  };

  handlers.SetFindingState = (call: grpc.ServerUnaryCall<{ name?: string; state?: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const name = call.request.name ?? '';
    const wanted = call.request.state ?? 'STATE_UNSPECIFIED';
    const recorded: RecordedSccRequest = { method: 'SetFindingState', name, state: wanted, accepted: false, at: Date.now() };
    state.requests.push(recorded);
    if (faulted('SetFindingState', callback)) return;
    if (!FINDING.test(name)) return invalid(callback, `name ${JSON.stringify(name)} is not a v2 finding name`);
    if (wanted !== 'ACTIVE' && wanted !== 'INACTIVE') return invalid(callback, `state ${wanted} cannot be set`);
    state.states.set(name, wanted);
    recorded.accepted = true;
    callback(null, { name, state: wanted });
  };

  const server = new grpc.Server();
  server.addService(service, handlers);
  state.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  state.endpoint = `127.0.0.1:${state.port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const release of hanging.splice(0)) release();
      server.tryShutdown(() => resolve());
      setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000).unref();
    });
  return state;
}
