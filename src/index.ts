// Cloud Run functions entry point of the package (package.json "main"). The
// same source deploys three functions; the platform names the one an instance
// serves in FUNCTION_TARGET, and only that one is loaded:
// - `sccResponder` (default): a Pub/Sub CloudEvent (google.cloud.pubsub.topic.v1.messagePublished)
//   of an SCC notification. Config and policy are read once per instance; a bad one fails the
//   instance at start.
// - `sccResponderSlack`: the Slack interactivity endpoint (src/functions/slack-endpoint.ts), which must hold
//   no cluster, ledger or Logging client: it never composes the responder.
// - `sccResponderApproval`: the consumer of approved or dismissed requests (src/functions/approval-consumer.ts).
import * as functions from '@google-cloud/functions-framework';
// Our own modules only (no SDK: adapters load lazily); nothing is composed until the target is known.
import { compose } from './wiring/compose.ts';
import { isTransient } from './core/errors.ts';
import { handleInput } from './pipeline/respond.ts';

export const FUNCTION_NAME = 'sccResponder';

const target = process.env.FUNCTION_TARGET;
if (target === 'sccResponderSlack') {
  await import('./functions/slack-endpoint.ts');
} else if (target === 'sccResponderApproval') {
  await import('./functions/approval-consumer.ts');
} else {
  const { deps } = compose({ env: process.env });

  functions.cloudEvent(FUNCTION_NAME, async (event: functions.CloudEvent<unknown>) => {
    try {
      await handleInput(event, deps);
    } catch (error) {
      if (isTransient(error)) throw error; // 500 → Pub/Sub redelivers
      // Anything else cannot heal by waiting: a retry loop would only repeat it for 7 days.
      deps.log.log('ERROR', 'handler', 'unexpected failure; message acked', {
        error: error instanceof Error ? error.message : String(error),
        stack: error instanceof Error ? error.stack : undefined,
        eventId: event.id,
      });
    }
  });
}
