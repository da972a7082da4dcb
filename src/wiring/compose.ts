// The composition root: builds the pipeline's dependencies from the environment
// and the policy. Adapters are imported lazily inside the factories so the
// ignore path loads no SDK (cold start is time-to-contain).
import { readFileSync } from 'node:fs';
import { parsePolicy, type Policy } from '../core/policy/policy.ts';
import { parseEnv, type EnvConfig } from '../config.ts';
import { DEFAULT_POLICY_PATH } from '../default-policy.ts';
import { jsonLineLogger, type JsonLineLogger } from '../log.ts';
import type { PipelineDeps } from '../pipeline/respond.ts';
import { evidenceEnabled } from './evidence-enabled.ts';
import { loadOnce } from './load-once.ts';
import { reportWiring } from './report-sinks.ts';


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
    // Ledger, blast-radius budget, summary sinks (OPS_TOPIC, SLACK/CHAT_WEBHOOK_URL, FIRESTORE_DATABASE)
    // and the policy's routes; a route whose webhook variable is missing stops the instance here.
    ...reportWiring(config, options.env, policy),
  };
  // One responder per instance: its cluster access caches endpoints and tokens until they expire.
  const clusterResponder = loadOnce(() =>
    Promise.all([import('../actions/cluster-responder.ts'), import('../adapters/gke-cluster-access.ts')]).then(([actions, access]) =>
      actions.createClusterResponder({ policy, log, now, access: access.createClusterAccess({ policy }) }),
    ),
  );
  deps.clusterResponder = clusterResponder;
  // Essential Contacts needs Google credentials: where the function runs, or against a loopback fake,
  // never by surprise on a laptop (as for evidence). One reader per instance: it caches per project.
  const essentialContacts =
    policy.owners.essentialContacts && (Boolean(options.env.K_SERVICE) || Boolean(options.env.ESSENTIAL_CONTACTS_API_ENDPOINT))
      ? loadOnce(() => import('../adapters/essential-contacts.ts').then((m) => m.createEssentialContactsReader({ env: options.env })))
      : undefined;
  deps.owners = (input) =>
    import('../pipeline/resolve-owners.ts').then((m) =>
      m.resolveOwners(input, {
        policy,
        log,
        // The cluster is asked (namespace labels, cluster labels) only when containment connected to it already.
        ...(input.plan.actions.length > 0 ? { clusterResponder } : {}),
        ...(essentialContacts ? { essentialContacts } : {}),
      }),
    );
  if (config.SCC_WRITEBACK) {
    const writer = loadOnce(() =>
      Promise.all([import('../pipeline/scc-writeback.ts'), import('./scc-writer.ts')]).then(([m, w]) => ({ m, writer: w.lazySccWriterFromEnv(options.env) })),
    );
    deps.scc = {
      warm: () => void writer().then(({ writer: w }) => w.warm(), () => undefined),
      writeBack: async (input) => {
        const { m, writer: w } = await writer();
        return m.writeBackToScc(input, { writer: w, policy, log });
      },
    };
  }
  if (evidenceEnabled(config.SCC_RESPONDER_EVIDENCE, options.env)) {
    // One gatherer per instance: it holds the per-project Logging read limiter and the shared reads.
    deps.evidenceGatherer = loadOnce(() =>
      import('./evidence-from-env.ts').then((m) =>
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
