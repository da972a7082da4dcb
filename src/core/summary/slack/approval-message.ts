// The messages the approval consumer sends back through Slack's response_url:
// the clicked message replaced by the outcome, or a note only the clicker sees.
import { APPROVAL_BLOCK_ID, type ApprovalRefusal } from '../../approval/approval.ts';
import { approvalBlocks, who, type ApprovalBlock } from './approval-blocks.ts';
import { formatSlack, slackCode, type SlackMessage } from './format.ts';
import type { Summary } from '../document.ts';

type Mrkdwn = { type: 'mrkdwn'; text: string };
const mrkdwn = (text: string): Mrkdwn => ({ type: 'mrkdwn', text });

/** A response_url body that replaces the clicked message with this summary (its approval shown, no buttons left). */
export interface SlackReplacement extends Omit<SlackMessage, 'blocks'> {
  replace_original: true;
  blocks: unknown[];
}

/**
 * The clicked message replaced by `summary` with its approval, and the attempts
 * that were refused (who, why) summarised under it.
 */
export function replacementMessage(summary: Summary, refusals: readonly ApprovalRefusal[] = []): SlackReplacement {
  const message = formatSlack(summary);
  const blocks: unknown[] = [...message.blocks];
  // Whether or not formatSlack renders the approval itself, it appears once.
  const rendered = blocks.some((b) => typeof b === 'object' && b !== null && String((b as { block_id?: unknown }).block_id ?? '').startsWith(APPROVAL_BLOCK_ID));
  const extra: ApprovalBlock[] = rendered ? [] : approvalBlocks(summary);
  if (refusals.length > 0) {
    const shown = refusals.slice(-5).map((r) => `${who({ user: r.user, name: null })} ${slackCode(r.reason, 160)}`);
    extra.push({
      type: 'context',
      block_id: `${APPROVAL_BLOCK_ID}-refused`,
      elements: [mrkdwn(`Refused attempts (${refusals.length}): ${shown.join(' · ')}${refusals.length > 5 ? ' · …' : ''}`)],
    });
  }
  // Before the last block (the links and id), so the decision reads with the outcome.
  blocks.splice(Math.max(0, blocks.length - 1), 0, ...extra);
  return { ...message, blocks: blocks.slice(0, 50), replace_original: true };
}

/** A response_url body only the clicking user sees; the message itself stays as it is. */
export function ephemeralMessage(text: string): { response_type: 'ephemeral'; replace_original: false; text: string } {
  return { response_type: 'ephemeral', replace_original: false, text };
}
