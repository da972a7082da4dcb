// Every environment variable the service reads, parsed in one place at start.
// A bad value stops the instance with a message naming the variable: a
// misconfigured responder must fail at deploy, not at the first finding.
import * as z from 'zod';

/** A boolean setting as an env var carries it; empty (terraform sets every variable) is false. */
export const boolFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Empty means unset: terraform sets every variable, some to "". */
export function emptyAsUnset<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
}

// The URL is a credential: the messages below never echo it.
const webhookUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    if (url.protocol === 'https:') return true;
    // Plain http only to loopback (local tests and demos), never across a network.
    return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost');
  } catch {
    return false;
  }
}, 'expected an https:// webhook URL (value not shown: it is a secret)');

export const envSchema = z.object({
  /** Path of the policy YAML; unset = the bundled policy/default.yaml (dry-run). */
  SCC_RESPONDER_POLICY_FILE: z.string().min(1).optional(),
  /** Kill switch: forces dry-run whatever the policy says. */
  SCC_RESPONDER_FORCE_DRY_RUN: boolFromEnv.default(false),
  /** Lowest severity written to the log. */
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR']).default('INFO'),
  /** Ops summary topic: `projects/P/topics/T` or a topic id in the function's project. Unset/empty = no Pub/Sub summary. */
  OPS_TOPIC: emptyAsUnset(
    z
      .string()
      .regex(
        /^(projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/topics\/)?[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/,
        'expected projects/PROJECT/topics/TOPIC or a topic id (3-255 characters, starting with a letter)',
      )
      .refine((v) => !v.slice(v.lastIndexOf('/') + 1).toLowerCase().startsWith('goog'), 'topic ids may not start with "goog"'),
  ),
  /** Slack incoming-webhook URL (a secret: Cloud Run mounts it from Secret Manager). Unset/empty = no Slack. */
  SLACK_WEBHOOK_URL: emptyAsUnset(webhookUrl),
  /** Google Chat space webhook URL (a secret, like SLACK_WEBHOOK_URL). Unset/empty = no Google Chat. */
  CHAT_WEBHOOK_URL: emptyAsUnset(webhookUrl),
  /** Firestore database of the ledger and budget. Unset = no ledger: no dedupe, and destructive actions are refused. */
  FIRESTORE_DATABASE: emptyAsUnset(
    z.string().regex(/^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/, 'expected "(default)" or a database id (4-63 lowercase letters, digits, hyphens)'),
  ),
  /**
   * Write the response back to the SCC finding (security marks; the state change the policy's
   * scc.setInactive allows). Off unless set: the service account needs the roles terraform grants
   * where the notification config lives (docs/summary.md: SCC write-back).
   */
  SCC_WRITEBACK: boolFromEnv.default(false),
  /** Keep an evidence bundle under gs://EVIDENCE_BUCKET/incidents/<finding id>/. Unset/empty = no bundle. */
  EVIDENCE_BUCKET: emptyAsUnset(z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'expected a Cloud Storage bucket name')),
  /**
   * Whether to read Cloud Logging. `auto`: where the function runs (Cloud Run sets K_SERVICE) or a
   * loopback fake is configured (LOGGING_API_ENDPOINT), so a laptop never reaches for credentials by surprise.
   */
  SCC_RESPONDER_EVIDENCE: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Collection of ledger and budget documents (TTL policy on its expireAt field). */
  LEDGER_COLLECTION: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected a collection id (letters, digits, _ or -)').default('scc-responder-ledger'),
  /**
   * How long a claimed finding stays its claimant's. Longer than the function's timeout, so a live
   * run never loses its claim; no longer than that needs, because it is how long a redelivery waits
   * after an instance died mid-run. terraform sets the timeout + 60 s; 600 covers the 540 s maximum.
   */
  LEDGER_LEASE_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  /**
   * Upper bound for each ledger or budget call (Firestore). Past it the ledger counts as
   * unavailable for the rest of the delivery: the response goes on and says so.
   */
  LEDGER_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(60).default(5),
  /**
   * The function's timeout (terraform sets function_timeout_seconds). The delivery's time budget:
   * actions start within the first 40 %, evidence ends by 65 %, and the summary still goes out.
   */
  SCC_RESPONDER_TIMEOUT_SECONDS: z.coerce.number().int().min(10).max(3600).default(120),
  /**
   * CLI only: the SQLite file of the local ledger and budget the CLI uses when FIRESTORE_DATABASE is
   * unset (src/adapters/local-ledger.ts). Unset = $XDG_STATE_HOME/scc-responder/ledger.sqlite, or
   * ~/.local/state/scc-responder/ledger.sqlite. The function never reads it: it requires Firestore.
   */
  SCC_RESPONDER_LOCAL_LEDGER: emptyAsUnset(z.string().min(1)),
});

export type EnvConfig = z.output<typeof envSchema>;

/** The names above, for docs and the terraform test that checks every one is set on the function. */
export const ENV_VARS = Object.keys(envSchema.shape);

/** Read by the CLI only, never set on the function (the terraform test leaves these out). */
export const CLI_ONLY_ENV_VARS: readonly string[] = ['SCC_RESPONDER_LOCAL_LEDGER'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseEnv(env: Record<string, string | undefined>): EnvConfig {
  const picked: Record<string, string> = {};
  for (const name of ENV_VARS) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  const parsed = envSchema.safeParse(picked);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}
