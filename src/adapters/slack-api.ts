// What the approval consumer asks of Slack: post to a click's response_url
// (update the message, or tell the clicking user), and, with a bot token, the
// members of a user group (usergroups.users.list). Global fetch, bounded in
// time, no redirects. The bot token is a credential: never logged, never in an
// error message.
import { PermanentError, TransientError } from '../core/errors.ts';
import { postJson } from './webhook.ts';

export const SLACK_API_URL = 'https://slack.com/api';

/** Posts a message body to a response_url (checked by core/approval/approval.ts responseUrlProblem before it gets here). */
export function postToResponseUrl(url: string, body: unknown, options: { fetch?: typeof fetch; timeoutMs?: number } = {}): Promise<void> {
  return postJson('slack response_url', url, body, { timeoutMs: options.timeoutMs ?? 5_000, ...(options.fetch ? { fetch: options.fetch } : {}) });
}

export interface UserGroupOptions {
  token: string;
  /** Default https://slack.com/api; a loopback fake in tests. */
  apiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** How long a group's member list is reused (default 60 s): usergroups.users.list is rate-limited (tier 2). */
  cacheMs?: number;
  now?: () => number;
}

/** A function that lists a user group's member ids, cached per instance. */
export function slackUserGroups(options: UserGroupOptions): (group: string) => Promise<readonly string[]> {
  const base = (options.apiUrl ?? SLACK_API_URL).replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const cacheMs = options.cacheMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; users: readonly string[] }>();
  return async (group) => {
    const hit = cache.get(group);
    if (hit && now() - hit.at < cacheMs) return hit.users;
    const url = `${base}/usergroups.users.list?usergroup=${encodeURIComponent(group)}`;
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: { authorization: `Bearer ${options.token}` },
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
        redirect: 'error',
      });
    } catch (error) {
      throw new TransientError(`slack usergroups.users.list: ${error instanceof Error ? error.name : 'request failed'}`);
    }
    if (response.status === 429 || response.status >= 500) throw new TransientError(`slack usergroups.users.list answered HTTP ${response.status}`);
    let body: { ok?: unknown; users?: unknown; error?: unknown };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new PermanentError(`slack usergroups.users.list answered HTTP ${response.status} without JSON`);
    }
    if (body.ok !== true || !Array.isArray(body.users)) {
      const why = typeof body.error === 'string' ? body.error.slice(0, 80) : `HTTP ${response.status}`;
      throw new PermanentError(`slack usergroups.users.list for ${group}: ${why}`);
    }
    const users = body.users.filter((u): u is string => typeof u === 'string').slice(0, 10_000);
    cache.set(group, { at: now(), users });
    return users;
  };
}
