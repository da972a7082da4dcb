// What Slack sends the interactivity endpoint when someone presses a button
// in a message: a block_actions payload, form-encoded as payload=<JSON>, with
// X-Slack-Request-Timestamp and the v0 signature. The signature is computed
// here from the test's secret with node:crypto directly (never with the code
// under test), as Slack computes it.
import { createHmac } from 'node:crypto';

export const TEST_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

export interface ClickOptions {
  incident: string;
  actionId?: string;
  user?: string;
  username?: string;
  team?: string;
  actionTs?: string;
  responseUrl?: string;
  /** The dismiss-reason menu's selected value, as state.values carries it. */
  reason?: string;
  /** Extra top-level fields (Slack adds fields over time). */
  extra?: Record<string, unknown>;
}

export function blockActionsPayload(o: ClickOptions): Record<string, unknown> {
  const team = o.team ?? 'T0SHOP001';
  return {
    type: 'block_actions',
    user: { id: o.user ?? 'U0APPROVER1', username: o.username ?? 'alice', name: o.username ?? 'alice', team_id: team },
    api_app_id: 'A0SCCRESP1',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: '1763647420.000100', channel_id: 'C0SECOPS01', is_ephemeral: false },
    trigger_id: '1763647420.1234.abcdef',
    team: { id: team, domain: 'example-shop' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: 'C0SECOPS01', name: 'sec-ops' },
    message: { type: 'message', text: 'Unexpected Child Shell', ts: '1763647420.000100' },
    state: { values: o.reason ? { 'scc-responder-approval': { 'scc-responder-dismiss-reason': { type: 'static_select', selected_option: { text: { type: 'plain_text', text: o.reason }, value: o.reason } } } } : {} },
    response_url: o.responseUrl ?? 'https://hooks.slack.com/actions/T0SHOP001/1234567890/AbCdEfGhIjKlMnOp',
    actions: [
      {
        action_id: o.actionId ?? 'scc-responder-contain',
        block_id: 'scc-responder-approval',
        text: { type: 'plain_text', text: 'Contain', emoji: false },
        value: o.incident,
        style: 'primary',
        type: 'button',
        action_ts: o.actionTs ?? '1763647500.123456',
      },
    ],
    ...o.extra,
  };
}

export function formBody(payload: unknown): string {
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export function signedHeaders(body: string, timestampSeconds: number, secret = TEST_SIGNING_SECRET): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestampSeconds}:${body}`).digest('hex')}`;
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestampSeconds),
    'x-slack-signature': signature,
  };
}

/** POSTs a body with the given headers to the endpoint and returns the status and body text. */
export async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}
