// Publishes the summary JSON to Pub/Sub topics (the ops topic, and each route's),
// with attributes that subscriptions can filter on (category, severity, cluster,
// outcome).
import type { PubSub as PubSubClient } from '@google-cloud/pubsub';
import { PermanentError, TransientError } from '../core/errors.ts';
import type { SummarySink } from '../core/ports.ts';
import { summaryAttributes } from '../core/summary/summary.ts';
import { type Summary } from '../core/summary/document.ts';

import { PERMANENT_CODES, pubsubClient, type PubsubClientOptions } from './pubsub-client.ts';

export type { PubsubClientOptions };

export interface PubsubSinkOptions extends PubsubClientOptions {
  /** `projects/P/topics/T`, or a topic id in the client's project. */
  topic: string;
  /** The sink's name in the ledger's delivery record; default `pubsub` (the ops topic). */
  name?: string;
}

export interface PubsubTopicSink {
  /** The sink's name in the ledger's delivery record: `pubsub`, or `route:<name>:pubsub`. */
  name: string;
  topic: string;
}


function topicSink(pubsub: PubSubClient, target: PubsubTopicSink): SummarySink {
  // One summary at a time: publish at once instead of waiting for a batch; bound the
  // client's own retries so a Pub/Sub outage turns into our bounded retry, not minutes of waiting.
  const topic = pubsub.topic(target.topic, {
    batching: { maxMessages: 1, maxMilliseconds: 0 },
    gaxOpts: { timeout: 15_000 },
  });
  // The ops topic's error names no topic (it is the configured one); a route's names the route.
  const what = target.name === 'pubsub' ? 'ops topic' : `${target.name} topic`;
  return {
    name: target.name,
    async deliver(summary: Summary) {
      try {
        await topic.publishMessage({ data: Buffer.from(JSON.stringify(summary)), attributes: summaryAttributes(summary) });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const message = `${what} publish failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
        if (typeof code === 'number' && PERMANENT_CODES.has(code)) throw new PermanentError(message, { cause: error });
        throw new TransientError(message, { cause: error });
      }
    },
  };
}

/** One sink per topic, all on one client (one gRPC channel, however many routes publish). */
export function pubsubSummarySinks(options: PubsubClientOptions, topics: readonly PubsubTopicSink[]): { sinks: SummarySink[]; close(): Promise<void> } {
  const pubsub = pubsubClient(options);
  return {
    sinks: topics.map((t) => topicSink(pubsub, t)),
    async close() {
      await pubsub.close();
    },
  };
}

export function pubsubSummarySink(options: PubsubSinkOptions): SummarySink & { close(): Promise<void> } {
  const { sinks, close } = pubsubSummarySinks(options, [{ name: options.name ?? 'pubsub', topic: options.topic }]);
  return { name: sinks[0]!.name, deliver: (summary) => sinks[0]!.deliver(summary), close };
}
