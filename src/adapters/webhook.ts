// Posts chat messages to incoming webhooks (Slack, Google Chat) with the
// global fetch. The webhook URL is a secret (its token is the credential):
// it is never logged or put into an error message; only the host is.
import { PermanentError, TransientError } from '../core/errors.ts';
import type { SummarySink } from '../core/ports.ts';
import type { Summary } from '../core/summary/document.ts';

export interface WebhookOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export async function postJson(sink: string, url: string, body: unknown, options: WebhookOptions = {}): Promise<void> {
  const host = new URL(url).host;
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      // A redirect could carry the payload somewhere else.
      redirect: 'error',
    });
  } catch (error) {
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new TransientError(`${sink} webhook ${host}: ${why.replaceAll(url, '<url>')}`);
  }
  const text = (await response.text().catch(() => '')).slice(0, 200);
  if (response.ok) return;
  const message = `${sink} webhook ${host} answered HTTP ${response.status}${text ? `: ${text}` : ''}`;
  if (response.status === 429 || response.status === 408 || response.status >= 500) throw new TransientError(message);
  throw new PermanentError(message);
}

/** A sink that renders the summary with `format` and posts it to `url`. */
export function webhookSink(name: string, url: string, format: (summary: Summary) => unknown, options: WebhookOptions = {}): SummarySink {
  return {
    name,
    deliver: (summary) => postJson(name, url, format(summary), options),
  };
}
