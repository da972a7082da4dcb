// Cloud Run functions entry point of the Slack interactivity endpoint:
// registered as `sccResponderSlack` (HTTP). Slack posts a button press here;
// the endpoint believes it only once Slack's signature over the exact bytes
// checks out and the timestamp is within 5 minutes, then publishes one
// approval request to APPROVAL_TOPIC and answers at once (Slack allows 3 s).
// It decides nothing: the consumer (src/functions/approval-consumer.ts) checks the request
// against the ledger and the policy, and acts.
//
// Deployed as its own function, with its own service account that can only
// publish to the approvals topic and read the signing secret: the one part of
// the responder that the internet can reach holds no cluster, ledger or
// Logging rights at all.
import * as functions from '@google-cloud/functions-framework';
import * as z from 'zod';
import { boolFromEnv, emptyAsUnset } from '../config.ts';
import { approvalPublisher } from '../adapters/approval-publisher.ts';
import {
  fromAllowedWorkspace,
  MAX_INTERACTION_BYTES,
  parseInteraction,
  SLACK_TEAM_ID,
  verifySlackSignature,
} from '../core/approval/approval.ts';
import { jsonLineLogger } from '../log.ts';

export const INTERACTIVITY_FUNCTION_NAME = 'sccResponderSlack';


/** This function's own settings; the responder's (src/config.ts) are not read here. */
export const interactivityEnvSchema = z.object({
  /** Slack app → Basic Information → Signing Secret (Secret Manager, mounted as an env variable). */
  SLACK_SIGNING_SECRET: z.string().min(16, 'expected the Slack app signing secret (value not shown)'),
  /** Where approval requests go: `projects/P/topics/T`, or a topic id in GOOGLE_CLOUD_PROJECT. */
  APPROVAL_TOPIC: z
    .string()
    .regex(/^(projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/topics\/)?[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/, 'expected projects/PROJECT/topics/TOPIC or a topic id'),
  GOOGLE_CLOUD_PROJECT: emptyAsUnset(z.string().min(1)),
  /** Only clicks from this Slack workspace (T…) or Enterprise Grid org (E…); unset: any the app is installed in. */
  SLACK_TEAM_ID: emptyAsUnset(z.string().regex(SLACK_TEAM_ID, 'expected a Slack team id such as T0123ABCD')),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR']).default('INFO'),
  PUBSUB_EMULATOR_HOST: emptyAsUnset(z.string().min(1)),
  /** Tests and the demo only: accept a response_url on http://127.0.0.1. Refused where Cloud Run runs the function (K_SERVICE). */
  SCC_RESPONDER_TEST_LOOPBACK: boolFromEnv.default(false),
  K_SERVICE: emptyAsUnset(z.string()),
});

export type InteractivityEnv = z.output<typeof interactivityEnvSchema>;

export function parseInteractivityEnv(env: Record<string, string | undefined>): InteractivityEnv {
  const parsed = interactivityEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (parsed.data.SCC_RESPONDER_TEST_LOOPBACK && parsed.data.K_SERVICE !== undefined) {
    throw new Error('invalid configuration: SCC_RESPONDER_TEST_LOOPBACK is for local tests only and is refused on Cloud Run (K_SERVICE is set)');
  }
  return parsed.data;
}

const env = parseInteractivityEnv(process.env);
const log = jsonLineLogger(undefined, env.LOG_LEVEL);
// Created at start, not on the first click: the client's load is most of a cold start's 3-second budget.
const publisher = approvalPublisher({
  topic: env.APPROVAL_TOPIC,
  ...(env.GOOGLE_CLOUD_PROJECT ? { projectId: env.GOOGLE_CLOUD_PROJECT } : {}),
  ...(env.PUBSUB_EMULATOR_HOST ? { emulatorHost: env.PUBSUB_EMULATOR_HOST } : {}),
});

functions.http(INTERACTIVITY_FUNCTION_NAME, async (req, res) => {
  const now = new Date();
  if (req.method !== 'POST') {
    res.status(405).set('allow', 'POST').end();
    return;
  }
  // The framework keeps the exact bytes it parsed: the signature is over those, never over a re-encoding.
  const raw = req.rawBody;
  if (!Buffer.isBuffer(raw)) {
    res.status(400).end();
    return;
  }
  if (raw.length > MAX_INTERACTION_BYTES) {
    log.log('WARNING', 'slack', 'interaction refused: body too large', { bytes: raw.length });
    res.status(413).end();
    return;
  }
  const check = verifySlackSignature({
    secret: env.SLACK_SIGNING_SECRET,
    timestamp: req.get('x-slack-request-timestamp'),
    signature: req.get('x-slack-signature'),
    rawBody: raw,
    now,
  });
  if (!check.ok) {
    log.log('WARNING', 'slack', 'interaction refused: not signed by Slack', { reason: check.reason });
    res.status(401).end();
    return;
  }
  if (!(req.get('content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    log.log('WARNING', 'slack', 'interaction refused: not form-encoded');
    res.status(400).end();
    return;
  }
  const interaction = parseInteraction(raw, now, { allowLoopback: env.SCC_RESPONDER_TEST_LOOPBACK });
  if (interaction.kind === 'invalid') {
    log.log('WARNING', 'slack', 'interaction refused: not a Contain or Dismiss press', { reason: interaction.reason });
    res.status(400).end();
    return;
  }
  if (interaction.kind === 'ignore') {
    log.log('DEBUG', 'slack', 'interaction acknowledged, nothing to do', { reason: interaction.reason });
    res.status(200).end();
    return;
  }
  const message = interaction.message;
  // The response_url is left out of every log line: for 30 minutes it can post into the channel.
  const ids = { incident: message.incident, decision: message.decision, user: message.user, team: message.team, enterprise: message.enterprise, actionTs: message.actionTs };
  if (env.SLACK_TEAM_ID !== undefined && !fromAllowedWorkspace(message, env.SLACK_TEAM_ID)) {
    log.log('WARNING', 'slack', 'interaction refused: from another Slack workspace', ids);
    res.status(403).end();
    return;
  }
  try {
    const messageId = await publisher.publish(message);
    log.log('NOTICE', 'slack', `${message.decision} requested; queued for the approval consumer`, { ...ids, messageId });
    res.status(200).end();
  } catch (error) {
    log.log('ERROR', 'slack', 'could not queue the approval request; Slack shows the user an error and the click can be repeated', {
      ...ids,
      error: error instanceof Error ? error.message.slice(0, 300) : String(error),
    });
    res.status(503).end();
  }
});
