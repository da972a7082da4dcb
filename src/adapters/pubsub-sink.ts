// Publishes the summary JSON to the ops Pub/Sub topic, with attributes that
// subscriptions can filter on (category, severity, cluster, outcome).
import { createRequire } from 'node:module';
import type { ClientConfig } from '@google-cloud/pubsub';
import { PermanentError, TransientError } from '../core/errors.ts';
import type { SummarySink } from '../core/ports.ts';
import { summaryAttributes, type Summary } from '../core/summary.ts';

// require(), not import: see src/adapters/cloud-logging.ts.
const { PubSub } = createRequire(import.meta.url)('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');

export interface PubsubSinkOptions {
  /** `projects/P/topics/T`, or a topic id in the client's project. */
  topic: string;
  projectId?: string;
  /** "host:port" of the Pub/Sub emulator; PUBSUB_EMULATOR_HOST also works (the library reads it). */
  emulatorHost?: string;
}

// gRPC codes that waiting cannot fix: INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED,
// FAILED_PRECONDITION, UNIMPLEMENTED, UNAUTHENTICATED.
const PERMANENT_CODES = new Set([3, 5, 7, 9, 12, 16]);

export function pubsubSummarySink(options: PubsubSinkOptions): SummarySink & { close(): Promise<void> } {
  const config: ClientConfig = {};
  if (options.projectId) config.projectId = options.projectId;
  if (options.emulatorHost) {
    config.apiEndpoint = options.emulatorHost;
    config.emulatorMode = true;
    // Without a universe domain the client probes the metadata server; with one it needs emulatorMode.
    config.universeDomain = 'googleapis.com';
  }
  const client = new PubSub(config);
  // One summary at a time: publish at once instead of waiting for a batch; bound the
  // client's own retries so a Pub/Sub outage turns into our bounded retry, not minutes of waiting.
  const topic = client.topic(options.topic, {
    batching: { maxMessages: 1, maxMilliseconds: 0 },
    gaxOpts: { timeout: 15_000 },
  });
  return {
    name: 'pubsub',
    async deliver(summary: Summary) {
      try {
        await topic.publishMessage({ data: Buffer.from(JSON.stringify(summary)), attributes: summaryAttributes(summary) });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const message = `ops topic publish failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
        if (typeof code === 'number' && PERMANENT_CODES.has(code)) throw new PermanentError(message, { cause: error });
        throw new TransientError(message, { cause: error });
      }
    },
    async close() {
      await client.close();
    },
  };
}
