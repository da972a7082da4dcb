// A gRPC fake of google.logging.v2.LoggingServiceV2 (ListLogEntries only) on
// loopback, built from the protos shipped with the Logging client. It records
// every request, pages like the service (pageToken, nextPageToken), rejects
// what the service rejects (no resourceNames, pageSize > 1000, a bad token)
// and can return RESOURCE_EXHAUSTED on demand or past a per-project quota.
// Reusable outside jest (the demo): startFakeLogging({entries, failWith}).
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface FakeAuditFields {
  serviceName?: string;
  methodName?: string;
  resourceName?: string;
  principalEmail?: string;
  callerIp?: string;
}

export interface FakeLogEntry {
  timestamp: string;
  severity?: string;
  logName?: string;
  insertId?: string;
  resource?: { type: string; labels?: Record<string, string> };
  textPayload?: string;
  jsonPayload?: Record<string, FakeJson>;
  /** Encoded as a google.cloud.audit.AuditLog inside protoPayload. */
  audit?: FakeAuditFields;
  /** Any other protoPayload: its type URL, with opaque bytes. */
  protoTypeUrl?: string;
}

export interface RecordedListRequest {
  resourceNames: string[];
  filter: string;
  orderBy: string;
  pageSize: number;
  pageToken: string;
  /** Date.now() when it arrived. */
  at: number;
}

export interface FakeFailure {
  code: number;
  details?: string;
  /** Fail this many requests, then answer normally (default: every request). */
  times?: number;
}

export interface FakeLoggingOptions {
  entries?: FakeLogEntry[] | ((request: RecordedListRequest) => FakeLogEntry[]);
  failWith?: FakeFailure;
  /** Like the service's entries.list quota: RESOURCE_EXHAUSTED past this many requests per project per 60 s. */
  quotaPerMinute?: number;
  /**
   * Answer nothing until this many requests are waiting, then all of them: proof
   * that a client sends them in parallel without timing it (one at a time never
   * gets an answer).
   */
  answerOnceWaiting?: number;
}

export interface FakeLogging {
  port: number;
  endpoint: string;
  requests: RecordedListRequest[];
  /** Replace the failure mode between test steps. */
  setFailure(failure: FakeFailure | undefined): void;
  close(): Promise<void>;
}

const AUDIT_LOG_TYPE_URL = 'type.googleapis.com/google.cloud.audit.AuditLog';

function protoDirs(): string[] {
  // The protos ship inside the Logging client's package (logging-api), the common ones in google-gax.
  const loggingRequire = createRequire(createRequire(import.meta.url).resolve('@google-cloud/logging-api'));
  const loggingApi = path.resolve(path.dirname(loggingRequire.resolve('@google-cloud/logging-api')), '../protos');
  const gax = path.resolve(path.dirname(loggingRequire.resolve('google-gax')), '../protos');
  return [loggingApi, gax];
}

// --- a tiny protobuf writer for the AuditLog fields (audit_log.proto field numbers) ---
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
function lengthDelimited(field: number, bytes: Uint8Array): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}
function str(field: number, value: string | undefined): number[] {
  return value === undefined ? [] : lengthDelimited(field, new TextEncoder().encode(value));
}
export function encodeAuditLog(a: FakeAuditFields): Buffer {
  const auth = a.principalEmail === undefined ? [] : lengthDelimited(3, Uint8Array.from(str(1, a.principalEmail)));
  const meta = a.callerIp === undefined ? [] : lengthDelimited(4, Uint8Array.from(str(1, a.callerIp)));
  // A status (field 2, google.rpc.Status{code=0}) and num_response_items (varint field 12) the reader must skip.
  const status = lengthDelimited(2, Uint8Array.from([0x08, 0x00]));
  const numItems = [...varint((12 << 3) | 0), ...varint(300)];
  return Buffer.from([...status, ...auth, ...meta, ...str(7, a.serviceName), ...str(8, a.methodName), ...str(11, a.resourceName), ...numItems]);
}

function toTimestamp(iso: string): { seconds: string; nanos: number } {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad fake timestamp ${iso}`);
  const fraction = /\.(\d+)Z$/.exec(iso)?.[1] ?? '';
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number(fraction.padEnd(9, '0').slice(0, 9)) };
}

export type FakeJson = string | number | boolean | null | FakeJson[] | { [key: string]: FakeJson };

function toValue(v: FakeJson): Record<string, unknown> {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

function toStruct(obj: { [key: string]: FakeJson }) {
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toValue(v)])) };
}

function toProtoEntry(e: FakeLogEntry, i: number) {
  const entry: Record<string, unknown> = {
    logName: e.logName ?? 'projects/example-shop-prod/logs/stdout',
    resource: e.resource ?? { type: 'k8s_container', labels: {} },
    timestamp: toTimestamp(e.timestamp),
    severity: e.severity ?? 'DEFAULT',
    insertId: e.insertId ?? `fake-${i}`,
  };
  if (e.audit) // protobufjs reads Any by its proto field names, whatever keepCase says.
    entry.protoPayload = { type_url: AUDIT_LOG_TYPE_URL, value: encodeAuditLog(e.audit) };
  else if (e.protoTypeUrl) entry.protoPayload = { type_url: e.protoTypeUrl, value: Buffer.from([8, 1]) };
  else if (e.jsonPayload) entry.jsonPayload = toStruct(e.jsonPayload);
  else entry.textPayload = e.textPayload ?? '';
  return entry;
}

export async function startFakeLogging(options: FakeLoggingOptions = {}): Promise<FakeLogging> {
  const definition = await protoLoader.load('google/logging/v2/logging.proto', {
    includeDirs: protoDirs(),
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    google: { logging: { v2: { LoggingServiceV2: { service: grpc.ServiceDefinition } } } };
  };
  const requests: RecordedListRequest[] = [];
  let failure = options.failWith ? { ...options.failWith } : undefined;
  const quotaLog = new Map<string, number[]>();
  let held: (() => void)[] | null = options.answerOnceWaiting === undefined ? null : [];

  const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'not faked' });

  const server = new grpc.Server();
  server.addService(proto.google.logging.v2.LoggingServiceV2.service, {
    ListLogEntries(call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const req = call.request;
      const recorded: RecordedListRequest = {
        resourceNames: (req.resourceNames as string[] | undefined) ?? [],
        filter: String(req.filter ?? ''),
        orderBy: String(req.orderBy ?? ''),
        pageSize: Number(req.pageSize ?? 0),
        pageToken: String(req.pageToken ?? ''),
        at: Date.now(),
      };
      requests.push(recorded);
      const answer = () => {
        if (failure && (failure.times === undefined || failure.times > 0)) {
          if (failure.times !== undefined) failure.times--;
          callback({ code: failure.code, details: failure.details ?? 'fake failure' });
          return;
        }
        if (recorded.resourceNames.length === 0) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: 'resource_names must not be empty' });
          return;
        }
        if (recorded.pageSize < 0 || recorded.pageSize > 1000) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: 'page_size must be at most 1000' });
          return;
        }
        if (options.quotaPerMinute !== undefined) {
          for (const project of recorded.resourceNames) {
            const times = (quotaLog.get(project) ?? []).filter((t) => recorded.at - t < 60_000);
            if (times.length >= options.quotaPerMinute) {
              callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Quota exceeded for quota metric 'Read requests' (${project})` });
              return;
            }
            times.push(recorded.at);
            quotaLog.set(project, times);
          }
        }
        const all = typeof options.entries === 'function' ? options.entries(recorded) : (options.entries ?? []);
        let offset = 0;
        if (recorded.pageToken !== '') {
          const m = /^fake-offset-(\d+)$/.exec(recorded.pageToken);
          if (!m) {
            callback({ code: grpc.status.INVALID_ARGUMENT, details: 'invalid page token' });
            return;
          }
          offset = Number(m[1]);
        }
        const size = recorded.pageSize === 0 ? 50 : recorded.pageSize;
        const page = all.slice(offset, offset + size);
        const next = offset + size < all.length ? `fake-offset-${offset + size}` : '';
        callback(null, { entries: page.map((e, i) => toProtoEntry(e, offset + i)), nextPageToken: next });
      };
      if (options.answerOnceWaiting === undefined || held === null) {
        answer();
        return;
      }
      held.push(answer);
      if (held.length >= options.answerOnceWaiting) {
        const waiting = held;
        held = null;
        for (const release of waiting) release();
      }
    },
    WriteLogEntries: unimplemented,
    DeleteLog: unimplemented,
    ListMonitoredResourceDescriptors: unimplemented,
    ListLogs: unimplemented,
    TailLogEntries: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', { code: grpc.status.UNIMPLEMENTED }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
    requests,
    setFailure(f) {
      failure = f ? { ...f } : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
