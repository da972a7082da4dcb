// The SCC writer the composition root hands to the write-back
// (src/pipeline/scc-writeback.ts): the Security Command Center client loads
// lazily, on the first write or on warm(), never on the ignore path.
import type { SccWriter } from '../core/scc/write-back.ts';

/** The composition root's writer: loads the client on first use, or earlier on warm(). */
export interface LazySccWriter extends SccWriter {
  /**
   * Starts loading the client now, without waiting. The client costs about a second of CPU
   * to load and build (google-gax 5 and every SCC API version's protos): call this once
   * containment is done, beside the evidence reads, so the write-back does not wait for it.
   */
  warm(): void;
}

/**
 * The writer for the composition root (SCC_WRITEBACK on). The client loads on the first
 * write (or warm()), so a finding that is never written back (out of scope, an echo) and
 * the containment before the write-back never pay for it; a load that fails fails the
 * write, inside its deadline. SCC_API_ENDPOINT (test/dev only) points it at a loopback fake.
 */
export function lazySccWriterFromEnv(env: NodeJS.ProcessEnv = process.env): LazySccWriter {
  let loaded: Promise<SccWriter> | undefined;
  const writer = () => {
    if (loaded === undefined) {
      loaded = import('../adapters/security-center.ts').then((m) => m.createSccWriterFromEnv(env));
      // warm() may be the only caller: a failed load must not become an unhandled rejection.
      loaded.catch(() => {});
    }
    return loaded;
  };
  return {
    updateMarks: async (request) => (await writer()).updateMarks(request),
    setInactive: async (request) => (await writer()).setInactive(request),
    warm() {
      void writer();
    },
    async close() {
      if (loaded) await (await loaded.catch(() => null))?.close?.();
    },
  };
}
