// Slack mrkdwn text from values nobody vouches for: escaped, so no formatting,
// mention or link can form inside (core/summary/slack/format.ts and the approval blocks).
import { inertLine } from '../sink-text.ts';

export function escapeSlack(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function breakMentions(value: string): string {
  return value.replace(/@(channel|here|everyone)/gi, '@\u200b$1');
}

/** An attacker-influenced value as inline code: no formatting, mention or link can form inside. */
export function slackCode(value: string | null | undefined, max = 200): string {
  if (value === null || value === undefined) return '_none_';
  const line = inertLine(value, max);
  if (line.trim() === '') return '_empty_';
  return `\`${breakMentions(escapeSlack(line)).replace(/`/g, 'ˋ')}\``;
}
