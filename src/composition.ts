// The composition root: builds the pipeline's dependencies from the environment
// and the policy. Adapters are imported lazily inside the factories so the
// ignore path loads no SDK (cold start is time-to-contain).
import { readFileSync } from 'node:fs';
import { parsePolicy, type Policy } from './core/policy.ts';
import { parseEnv, type EnvConfig } from './config.ts';
import { jsonLineLogger, type JsonLineLogger } from './log.ts';
import type { PipelineDeps } from './pipeline.ts';
import { evidenceEnabled } from './evidence/enabled.ts';
import { loadOnce } from './load-once.ts';
import { reportWiring } from './report-wiring.ts';

export const DEFAULT_POLICY_PATH = new URL('../policy/default.yaml', import.meta.url);

/** Reads and validates the policy file named by the config (or the bundled default). */
export function loadPolicy(path: string | URL | undefined): Policy {
  const source = path ?? DEFAULT_POLICY_PATH;
  const label = typeof source === 'string' ? source : 'bundled default policy';
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (error) {
    throw new Error(`cannot read policy ${label}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parsePolicy(text, label);
}

export interface CompositionOptions {
  env: Record<string, string | undefined>;
  /** Overrides the policy file from the env (CLI --policy). */
  policy?: Policy;
  log?: JsonLineLogger;
  now?: () => Date;
  /** Waits (sink retries, Logging quota backoff and rate limit); the benchmark injects a fast clock's. */
  sleep?: (ms: number) => Promise<void>;
}

export interface Composition {
  config: EnvConfig;
  deps: PipelineDeps;
}

export function compose(options: CompositionOptions): Composition {
  const config = parseEnv(options.env);
  const policy = options.policy ?? loadPolicy(config.SCC_RESPONDER_POLICY_FILE);
  const log = options.log ?? jsonLineLogger(undefined, config.LOG_LEVEL);
  const now = options.now ?? (() => new Date());
  const deps: PipelineDeps = {
    policy,
    log,
    now,
    forceDryRun: config.SCC_RESPONDER_FORCE_DRY_RUN,
    timeoutMs: config.SCC_RESPONDER_TIMEOUT_SECONDS * 1000,
    ledgerTimeoutMs: config.LEDGER_TIMEOUT_SECONDS * 1000,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    // Ledger, blast-radius budget and summary sinks (OPS_TOPIC, SLACK/CHAT_WEBHOOK_URL, FIRESTORE_DATABASE).
    ...reportWiring(config, options.env),
    // One responder per instance: its cluster access caches endpoints and tokens until they expire.
    clusterResponder: loadOnce(() =>
      Promise.all([import('./actions/cluster-responder.ts'), import('./adapters/gke-cluster-access.ts')]).then(([actions, access]) =>
        actions.createClusterResponder({ policy, log, now, access: access.createClusterAccess({ policy }) }),
      ),
    ),
  };
  if (evidenceEnabled(config.SCC_RESPONDER_EVIDENCE, options.env)) {
    // One gatherer per instance: it holds the per-project Logging read limiter and the shared reads.
    deps.evidenceGatherer = loadOnce(() =>
      import('./evidence/from-env.ts').then((m) =>
        m.createEvidenceGathererFromEnv({
          policy,
          log,
          now,
          env: options.env,
          bucket: config.EVIDENCE_BUCKET,
          ...(options.sleep ? { sleep: options.sleep } : {}),
        }),
      ),
    );
  }
  return { config, deps };
}
