// Builds the evidence gatherer from the environment for the composition root.
// The SDK adapters load here, lazily, so the ignore path never pays for them.
import type { Policy } from '../core/policy/policy.ts';
import type { EvidenceGatherer, StepLogger } from '../core/ports.ts';

export interface EvidenceEnvDeps {
  policy: Policy;
  log: StepLogger;
  now: () => Date;
  env?: NodeJS.ProcessEnv;
  /** EVIDENCE_BUCKET, already validated by src/config.ts. */
  bucket?: string | undefined;
  /** Quota backoff and rate-limit waits; default setTimeout (the benchmark injects a fast clock's). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * With a bucket (EVIDENCE_BUCKET), keep a bundle under gs://BUCKET/incidents/<finding id>/.
 * Test/dev only: LOGGING_API_ENDPOINT=127.0.0.1:PORT (plaintext gRPC fake),
 * STORAGE_EMULATOR_HOST / STORAGE_API_ENDPOINT (loopback Storage fake).
 */
export async function createEvidenceGathererFromEnv(deps: EvidenceEnvDeps): Promise<EvidenceGatherer> {
  const env = deps.env ?? process.env;
  const bucket = deps.bucket;
  const [loggingAdapter, gatherModule, storageAdapter] = await Promise.all([
    import('../adapters/cloud-logging.ts'),
    import('../pipeline/gather-evidence.ts'),
    bucket !== undefined ? import('../adapters/cloud-storage.ts') : Promise.resolve(undefined),
  ]);
  const logging = loggingAdapter.createLogPageReader(await loggingAdapter.loggingClientOptionsFromEnv(env));
  const storage =
    bucket !== undefined && storageAdapter
      ? storageAdapter.createObjectStore(bucket, storageAdapter.storageClientOptionsFromEnv(env))
      : undefined;
  return gatherModule.createEvidenceGatherer({
    policy: deps.policy,
    log: deps.log,
    now: deps.now,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    logging,
    ...(storage ? { storage } : {}),
  });
}
