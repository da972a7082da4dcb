// Publishes an approval request (core/approval/approval.ts ApprovalMessage) from the
// Slack interactivity endpoint to the approvals topic, for the consumer to
// act on. Bounded in time: the endpoint must answer Slack within 3 seconds.
import type { ApprovalMessage } from '../core/approval/approval.ts';
import { PermanentError, TransientError } from '../core/errors.ts';
import { PERMANENT_CODES, pubsubClient } from './pubsub-client.ts';

export interface ApprovalPublisherOptions {
  /** `projects/P/topics/T`, or a topic id in the client's project. */
  topic: string;
  projectId?: string;
  /** "host:port" of the Pub/Sub emulator. */
  emulatorHost?: string;
  /** The client's deadline for one publish (default 2 s: Slack gives the endpoint 3 s in all). */
  timeoutMs?: number;
}

export interface ApprovalPublisher {
  /** Resolves with the message id. Throws TransientError or PermanentError (never with the payload in it). */
  publish(message: ApprovalMessage): Promise<string>;
  close(): Promise<void>;
}


export function approvalPublisher(options: ApprovalPublisherOptions): ApprovalPublisher {
  const client = pubsubClient({ ...(options.projectId ? { projectId: options.projectId } : {}), ...(options.emulatorHost ? { emulatorHost: options.emulatorHost } : {}) });
  const timeout = options.timeoutMs ?? 2_000;
  const topic = client.topic(options.topic, {
    // One click, one message, now: no batching delay inside Slack's 3 seconds.
    batching: { maxMessages: 1, maxMilliseconds: 0 },
    gaxOpts: { timeout, retry: null },
  });
  return {
    async publish(message) {
      try {
        return await topic.publishMessage({
          data: Buffer.from(JSON.stringify(message)),
          attributes: { schema: message.schema, decision: message.decision },
        });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const text = `approval topic publish failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
        if (typeof code === 'number' && PERMANENT_CODES.has(code)) throw new PermanentError(text, { cause: error });
        throw new TransientError(text, { cause: error });
      }
    },
    close: () => client.close(),
  };
}
