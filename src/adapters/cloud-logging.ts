// Cloud Logging reads (entries.list), one page per call. The only file that
// imports @google-cloud/logging. The page loop, quota backoff and rate limit
// live in src/evidence/gather-evidence.ts, which must count every request.
import { Logging, type Entry } from '@google-cloud/logging';
import { AUDIT_LOG_TYPE_URL, decodeAuditSummary } from '../core/audit-log-wire.ts';
import type { LogEntryView } from '../core/evidence-excerpts.ts';

export interface LogPageRequest {
  /** Always explicit: the client would otherwise default to the function's own project. */
  resourceNames: string[];
  /** Must mention `timestamp`: the client appends `timestamp >= now-24h` to any filter that does not. */
  filter: string;
  pageSize: number;
  pageToken?: string;
  /** Total time for this call including the client's own UNAVAILABLE retries. */
  timeoutMs: number;
}

export interface LogPage {
  entries: LogEntryView[];
  nextPageToken: string | null;
}

/** The port the evidence gatherer reads through. */
export interface LogPageReader {
  listPage(request: LogPageRequest): Promise<LogPage>;
}

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
    const grpc = await import('@grpc/grpc-js');
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

function toIso(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  return typeof value === 'string' ? value : null;
}

/** Plain data out of the client's Entry (protoPayload arrives as an undecoded Any). */
export function toEntryView(entry: Entry): LogEntryView {
  const meta = (entry.metadata ?? {}) as Record<string, unknown>;
  const payload = typeof meta.payload === 'string' ? meta.payload : null;
  const data: unknown = entry.data;
  const view: LogEntryView = {
    timestamp: toIso(meta.timestamp),
    severity: typeof meta.severity === 'string' ? meta.severity : meta.severity == null ? null : String(meta.severity),
    logName: typeof meta.logName === 'string' ? meta.logName : null,
    insertId: typeof meta.insertId === 'string' ? meta.insertId : null,
    resourceType: isRecord(meta.resource) && typeof meta.resource.type === 'string' ? meta.resource.type : null,
    textPayload: null,
    jsonPayload: null,
    audit: null,
    protoType: null,
  };
  if (payload === 'textPayload' && typeof data === 'string') view.textPayload = data;
  else if (payload === 'jsonPayload' && isRecord(data)) view.jsonPayload = data;
  else if (payload === 'protoPayload' && isRecord(data)) {
    const typeUrl = typeof data.type_url === 'string' ? data.type_url : typeof data.typeUrl === 'string' ? data.typeUrl : null;
    const value = data.value;
    if (typeUrl === AUDIT_LOG_TYPE_URL && value instanceof Uint8Array) view.audit = decodeAuditSummary(value);
    if (view.audit === null) view.protoType = typeUrl ?? 'protoPayload';
  }
  return view;
}

export function createLogPageReader(options: LoggingClientOptions): LogPageReader {
  const logging = new Logging(options as ConstructorParameters<typeof Logging>[0]);
  return {
    async listPage(request) {
      const [entries, , response] = await logging.getEntries({
        resourceNames: request.resourceNames,
        filter: request.filter,
        orderBy: 'timestamp asc',
        pageSize: request.pageSize,
        ...(request.pageToken ? { pageToken: request.pageToken } : {}),
        autoPaginate: false,
        gaxOptions: { timeout: request.timeoutMs },
      });
      const next = (response as { nextPageToken?: string | null } | undefined)?.nextPageToken;
      return { entries: entries.map(toEntryView), nextPageToken: next ? next : null };
    },
  };
}
