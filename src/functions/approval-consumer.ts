// Cloud Run functions entry point of the approval consumer: registered as
// `sccResponderApproval` for the CloudEvent of the approvals topic (a push
// subscription; the framework converts a raw push whose path names the topic).
// It runs as the responder's service account, because an approved Contain acts
// on clusters: the same composition as the responder (src/wiring/compose.ts), the
// same policy, ledger and sinks, plus what only approvals need: the Slack
// response_url and, with SLACK_BOT_TOKEN, user-group lookups.
import * as functions from '@google-cloud/functions-framework';
import * as z from 'zod';
import { boolFromEnv, emptyAsUnset } from '../config.ts';
import { handleApproval, type ApprovalFlowDeps } from '../pipeline/approval-decision.ts';
import { compose } from '../wiring/compose.ts';
import { isTransient } from '../core/errors.ts';
import { loadOnce } from '../wiring/load-once.ts';
import { handleInput } from '../pipeline/respond.ts';

export const APPROVAL_FUNCTION_NAME = 'sccResponderApproval';


/** What the consumer reads besides the responder's own settings (src/config.ts). */
export const approvalEnvSchema = z.object({
  /** A Slack bot token with usergroups:read (Secret Manager); unset: approvers' user groups grant nothing. */
  SLACK_BOT_TOKEN: emptyAsUnset(z.string().regex(/^xoxb-[A-Za-z0-9-]{10,250}$/, 'expected a Slack bot token (xoxb-…; value not shown)')),
  /** Tests and the demo only: response_url and SLACK_API_URL on http://127.0.0.1. Refused on Cloud Run (K_SERVICE). */
  SCC_RESPONDER_TEST_LOOPBACK: boolFromEnv.default(false),
  /** Tests only (with SCC_RESPONDER_TEST_LOOPBACK): a loopback fake of https://slack.com/api. */
  SLACK_API_URL: emptyAsUnset(z.string().regex(/^http:\/\/127\.0\.0\.1:\d{1,5}(\/.*)?$/, 'only a loopback fake (http://127.0.0.1:PORT) may stand in for Slack')),
  K_SERVICE: emptyAsUnset(z.string()),
});

export type ApprovalEnv = z.output<typeof approvalEnvSchema>;

export function parseApprovalEnv(env: Record<string, string | undefined>): ApprovalEnv {
  const parsed = approvalEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (parsed.data.SCC_RESPONDER_TEST_LOOPBACK && parsed.data.K_SERVICE !== undefined) {
    throw new Error('invalid configuration: SCC_RESPONDER_TEST_LOOPBACK is for local tests only and is refused on Cloud Run (K_SERVICE is set)');
  }
  if (parsed.data.SLACK_API_URL !== undefined && !parsed.data.SCC_RESPONDER_TEST_LOOPBACK) {
    throw new Error('invalid configuration: SLACK_API_URL is a test setting and needs SCC_RESPONDER_TEST_LOOPBACK');
  }
  return parsed.data;
}

const { config, deps } = compose({ env: process.env });
const approvalEnv = parseApprovalEnv(process.env);

const slackApi = loadOnce(() => import('../adapters/slack-api.ts'));
// The approval records live on the ledger's finding documents: the store the composition wires (FIRESTORE_DATABASE).
const approvals = deps.approvals;
let groupMembers: ApprovalFlowDeps['groupMembers'];
if (approvalEnv.SLACK_BOT_TOKEN) {
  const token = approvalEnv.SLACK_BOT_TOKEN;
  const lookup = loadOnce(async () => (await slackApi()).slackUserGroups({ token, ...(approvalEnv.SLACK_API_URL ? { apiUrl: approvalEnv.SLACK_API_URL } : {}) }));
  groupMembers = async (group) => (await lookup())(group);
}

const flowDeps: ApprovalFlowDeps = {
  policy: deps.policy,
  now: deps.now,
  log: deps.log,
  forceDryRun: config.SCC_RESPONDER_FORCE_DRY_RUN,
  ...(approvals ? { approvals } : {}),
  runApproved: (notification, approvedRun) => handleInput(notification, { ...deps, approvedRun }),
  respond: async (url, body) => (await slackApi()).postToResponseUrl(url, body),
  ...(groupMembers ? { groupMembers } : {}),
  allowLoopbackResponseUrl: approvalEnv.SCC_RESPONDER_TEST_LOOPBACK,
};

functions.cloudEvent(APPROVAL_FUNCTION_NAME, async (event: functions.CloudEvent<unknown>) => {
  try {
    await handleApproval(event, flowDeps);
  } catch (error) {
    if (isTransient(error)) throw error; // 500 → Pub/Sub redelivers; the claimed decision resumes
    deps.log.log('ERROR', 'approval', 'unexpected failure; approval message acked', {
      error: error instanceof Error ? error.message : String(error),
      stack: error instanceof Error ? error.stack : undefined,
      eventId: event.id,
    });
  }
});
