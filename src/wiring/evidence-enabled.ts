// The one switch the composition root reads before wiring evidence (no SDK, no I/O).

/**
 * Whether this process should read Cloud Logging at all. On by default where
 * the function runs (Cloud Run sets K_SERVICE) and where a loopback fake is
 * configured; elsewhere (a laptop, a test without a fake) only with
 * SCC_RESPONDER_EVIDENCE=on, so nothing reaches for Google credentials or the
 * metadata server by surprise. SCC_RESPONDER_EVIDENCE=off turns it off anywhere.
 */
export function evidenceEnabled(setting: 'auto' | 'on' | 'off', env: Record<string, string | undefined>): boolean {
  if (setting !== 'auto') return setting === 'on';
  return Boolean(env.K_SERVICE) || Boolean(env.LOGGING_API_ENDPOINT);
}
