// SCC write-back: security marks and the finding state, through the v2 API. The
// only file that imports the Security Command Center client. Loaded after
// containment, and only when SCC_WRITEBACK is on (src/pipeline/scc-writeback.ts imports
// this module on the first write), so no other path pays for the client.
//
// The v2 client (`v2.SecurityCenterClient`): Google recommends v2 for every
// integration, organisations that activated SCC since December 2024 have only v2,
// and v2 names carry the location that data residency needs. Loaded by its file
// path: the package index loads the v1, v1beta1 and v1p1beta1 clients too.
import { createRequire } from 'node:module';
import { PermanentError, TransientError } from '../core/errors.ts';
import { isV2FindingName, securityMarksName, type SccWriter } from '../core/scc/write-back.ts';

// require(), not import: see src/adapters/cloud-logging.ts (importing a CommonJS client from
// ESM makes Node scan its source for export names, in time and peak memory).
const requireCjs = createRequire(import.meta.url);
const { SecurityCenterClient } = requireCjs(
  '@google-cloud/security-center/build/src/v2/security_center_client.js',
) as typeof import('@google-cloud/security-center').v2;

export interface SccClientOptions {
  apiEndpoint?: string;
  port?: number;
  sslCreds?: unknown;
  universeDomain?: string;
}

/**
 * Client options from the environment. SCC_API_ENDPOINT=127.0.0.1:PORT is a test/dev
 * setting: it points the client at a plaintext loopback fake (insecure channel, no
 * credentials, universe domain set so the client does not probe the metadata server).
 */
export function sccClientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SccClientOptions {
  const endpoint = env.SCC_API_ENDPOINT;
  if (!endpoint) return {};
  const m = /^(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})$/.exec(endpoint);
  if (!m) throw new Error('SCC_API_ENDPOINT must be a loopback host:port (it is a test/dev setting)');
  // Imported only here: plaintext channels exist for loopback fakes and nothing else.
  const grpc = requireCjs('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  return {
    apiEndpoint: m[1] === '[::1]' ? '::1' : m[1],
    port: Number(m[2]),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  };
}

// gRPC status codes (google.rpc.Code).
const CODE_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};
/** Can heal by waiting: the service is down or busy, or the call ran out of time. */
const TRANSIENT_CODES = new Set([1, 2, 4, 8, 10, 13, 14]);

/** TransientError or PermanentError; the message is the call, the status name and the service's first line. */
export function classifySccError(what: string, error: unknown): TransientError | PermanentError {
  const code = (error as { code?: unknown }).code;
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
  if (typeof code !== 'number') return new TransientError(`${what}: ${text}`, { cause: error });
  const message = `${what}: ${CODE_NAMES[code] ?? `code ${code}`}: ${text.replace(/^\d+ [A-Z_]+: /, '')}`;
  // PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED, FAILED_PRECONDITION…: waiting changes nothing.
  return TRANSIENT_CODES.has(code) ? new TransientError(message, { cause: error }) : new PermanentError(message, { cause: error });
}

function checkedName(name: string): string {
  // core/scc/write-back.ts (sccFindingName) validated it already; checked again where it is sent.
  if (!isV2FindingName(name)) throw new PermanentError('refused: not a v2 SCC finding name in the global location');
  return name;
}

export function createSccWriter(options: SccClientOptions = {}): SccWriter {
  const client = new SecurityCenterClient(options as ConstructorParameters<typeof SecurityCenterClient>[0]);
  return {
    async updateMarks({ findingName, marks, updateMask, timeoutMs }) {
      const name = securityMarksName(checkedName(findingName));
      try {
        await client.updateSecurityMarks(
          { securityMarks: { name, marks }, updateMask: { paths: updateMask } },
          // The write-back has its own deadline; no client retries past it.
          { timeout: timeoutMs, maxRetries: 0 },
        );
      } catch (error) {
        throw classifySccError('SCC updateSecurityMarks', error);
      }
    },
    async setInactive({ findingName, timeoutMs }) {
      const name = checkedName(findingName);
      try {
        await client.setFindingState({ name, state: 'INACTIVE' }, { timeout: timeoutMs, maxRetries: 0 });
      } catch (error) {
        throw classifySccError('SCC setFindingState', error);
      }
    },
    async close() {
      await client.close();
    },
  };
}

/** The writer for the composition root: SCC_API_ENDPOINT (test/dev only) or the real service. */
export function createSccWriterFromEnv(env: NodeJS.ProcessEnv = process.env): SccWriter {
  return createSccWriter(sccClientOptionsFromEnv(env));
}
