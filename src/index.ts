// Cloud Run functions entry point. Registered as `sccResponder` for a Pub/Sub
// CloudEvent (google.cloud.pubsub.topic.v1.messagePublished). Config and policy
// are read once per instance; a bad one fails the instance at start.
import * as functions from '@google-cloud/functions-framework';
import { compose } from './composition.ts';
import { isTransient } from './core/errors.ts';
import { handleInput } from './pipeline.ts';

export const FUNCTION_NAME = 'sccResponder';

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
