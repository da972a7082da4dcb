// Every environment variable the service reads, parsed in one place at start.
// A bad value stops the instance with a message naming the variable: a
// misconfigured responder must fail at deploy, not at the first finding.
import { z } from 'zod';

const boolFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envSchema = z.object({
  /** Path of the policy YAML; unset = the bundled policy/default.yaml (dry-run). */
  SCC_RESPONDER_POLICY_FILE: z.string().min(1).optional(),
  /** Kill switch: forces dry-run whatever the policy says. */
  SCC_RESPONDER_FORCE_DRY_RUN: boolFromEnv.default(false),
  /** Lowest severity written to the log. */
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR']).default('INFO'),
});

export type EnvConfig = z.output<typeof envSchema>;

/** The names above, for docs and the terraform test that checks every one is set on the function. */
export const ENV_VARS = Object.keys(envSchema.shape);

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
