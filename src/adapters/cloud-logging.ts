// Cloud Logging reads (entries.list), one page per call. The only file that
// imports a Logging client. The page loop, quota backoff and rate limit live in
// src/pipeline/gather-evidence.ts, which must count every request.
//
// The client is @google-cloud/logging-api's generated LoggingServiceV2Client:
// the gRPC layer that @google-cloud/logging wraps (and re-exports as `v2`). We
// make one call, entries.list; the wrapper's index would also load its two
// other service clients, the static protobuf classes of the whole API and its
// write path, ~5 MiB of peak memory for a function sized by that peak
// (docs/performance.md). Loaded by its file path: the package index loads all
// three clients.
import { createRequire } from 'node:module';
import type { protos } from '@google-cloud/logging-api';
import { AUDIT_LOG_TYPE_URL, decodeAuditSummary } from '../core/evidence/audit-log-wire.ts';
import type { LogEntryView } from '../core/evidence/excerpts.ts';
import type { LogPageReader } from '../core/ports.ts';

// require(), not import: importing a CommonJS package from ESM makes Node scan its source
// for export names first, which for the Logging client cost ~5 MiB of peak memory and time
// (docs/performance.md). The same holds for every Google client this project loads.
const requireCjs = createRequire(import.meta.url);
const { LoggingServiceV2Client } = requireCjs(
  '@google-cloud/logging-api/build/src/v2/logging_service_v2_client.js',
) as typeof import('@google-cloud/logging-api');

type RawLogEntry = protos.google.logging.v2.ILogEntry;
type RawValue = protos.google.protobuf.IValue;

export interface LoggingClientOptions {
  projectId?: string;
  apiEndpoint?: string;
  port?: number;
  sslCreds?: unknown;
  universeDomain?: string;
}

/**
 * Client options from the environment. LOGGING_API_ENDPOINT=127.0.0.1:PORT is a
 * test/dev setting: it points the client at a plaintext loopback fake
 * (insecure channel, no credentials, universe domain set so the client does
 * not probe the metadata server).
 */
export async function loggingClientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<LoggingClientOptions> {
  const options: LoggingClientOptions = {};
  const project = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  if (project) options.projectId = project;
  const endpoint = env.LOGGING_API_ENDPOINT;
  if (endpoint) {
    const m = /^(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})$/.exec(endpoint);
    if (!m) throw new Error('LOGGING_API_ENDPOINT must be a loopback host:port (it is a test/dev setting)');
    // Imported only here: plaintext channels exist for loopback fakes and nothing else.
    const grpc = requireCjs('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    options.apiEndpoint = m[1] === '[::1]' ? '::1' : m[1];
    options.port = Number(m[2]);
    options.sslCreds = grpc.credentials.createInsecure();
    options.universeDomain = 'googleapis.com';
    options.projectId ??= 'local-dev';
  }
  return options;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** google.protobuf.Timestamp (seconds arrive as a string: the client decodes longs so). */
function toIso(value: RawLogEntry['timestamp']): string | null {
  if (!value) return null;
  const ms = Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/**
 * google.protobuf.Struct → plain JSON. The client decodes with defaults and oneof names, so
 * every Value carries all six fields and `kind` says which one is meant.
 */
function structToJson(struct: protos.google.protobuf.IStruct | null | undefined, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value, depth);
  return out;
}

function valueToJson(value: RawValue, depth = 0): unknown {
  // Payloads are attacker-influenced (a container writes its own logs): nesting past this is cut.
  if (depth > 64) return null;
  switch ((value as { kind?: string }).kind) {
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    case 'structValue':
      return structToJson(value.structValue, depth + 1);
    case 'listValue':
      return (value.listValue?.values ?? []).map((v) => valueToJson(v, depth + 1));
    default:
      return null;
  }
}

/** Plain data out of the client's LogEntry (protoPayload arrives as an undecoded Any). */
export function toEntryView(entry: RawLogEntry): LogEntryView {
  const severity = entry.severity as unknown;
  const view: LogEntryView = {
    timestamp: toIso(entry.timestamp),
    severity: typeof severity === 'string' ? severity : severity == null ? null : String(severity),
    logName: typeof entry.logName === 'string' ? entry.logName : null,
    insertId: typeof entry.insertId === 'string' ? entry.insertId : null,
    resourceType: typeof entry.resource?.type === 'string' ? entry.resource.type : null,
    textPayload: null,
    jsonPayload: null,
    audit: null,
    protoType: null,
  };
  const payload = (entry as { payload?: string }).payload;
  if (payload === 'textPayload' && typeof entry.textPayload === 'string') view.textPayload = entry.textPayload;
  else if (payload === 'jsonPayload') view.jsonPayload = structToJson(entry.jsonPayload);
  else if (payload === 'protoPayload' && isRecord(entry.protoPayload)) {
    const any = entry.protoPayload as Record<string, unknown>;
    const typeUrl = typeof any.type_url === 'string' ? any.type_url : typeof any.typeUrl === 'string' ? any.typeUrl : null;
    const value = any.value;
    if (typeUrl === AUDIT_LOG_TYPE_URL && value instanceof Uint8Array) view.audit = decodeAuditSummary(value);
    if (view.audit === null) view.protoType = typeUrl ?? 'protoPayload';
  }
  return view;
}

export function createLogPageReader(options: LoggingClientOptions): LogPageReader {
  const client = new LoggingServiceV2Client(options as ConstructorParameters<typeof LoggingServiceV2Client>[0]);
  return {
    async listPage(request) {
      const [entries, , response] = await client.listLogEntries(
        {
          resourceNames: request.resourceNames,
          filter: request.filter,
          orderBy: 'timestamp asc',
          pageSize: request.pageSize,
          ...(request.pageToken ? { pageToken: request.pageToken } : {}),
        },
        // One page per call: the gatherer owns the loop (and counts every request).
        { autoPaginate: false, timeout: request.timeoutMs },
      );
      const next = response?.nextPageToken;
      return { entries: entries.map(toEntryView), nextPageToken: next ? next : null };
    },
  };
}
