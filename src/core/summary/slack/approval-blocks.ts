// The Slack blocks of an approval: Contain / Dismiss on a dry-run summary that
// awaits a person, and the decision once there is one. Pure. The buttons'
// `value` is the summary id (the ledger key id) and nothing else: whatever a
// click carries back, the consumer looks the rest up in the ledger.
import { APPROVAL_ACTION, APPROVAL_BLOCK_ID, DISMISS_REASONS, type DismissReason } from '../../approval/approval.ts';
import { SLACK_USER_ID } from '../../policy/policy.ts';
import { slackCode } from './text.ts';
import type { Summary } from '../document.ts';

type PlainText = { type: 'plain_text'; text: string; emoji?: boolean };
type Mrkdwn = { type: 'mrkdwn'; text: string };
type Confirm = { title: PlainText; text: PlainText; confirm: PlainText; deny: PlainText; style?: 'primary' | 'danger' };
type Button = { type: 'button'; action_id: string; text: PlainText; value: string; style?: 'primary' | 'danger'; confirm?: Confirm };
type StaticSelect = { type: 'static_select'; action_id: string; placeholder: PlainText; options: { text: PlainText; value: string }[] };

export type ApprovalBlock =
  | { type: 'actions'; block_id: string; elements: (Button | StaticSelect)[] }
  | { type: 'context'; block_id?: string; elements: Mrkdwn[] }
  | { type: 'section'; block_id?: string; text: Mrkdwn; fields?: undefined };

const plain = (text: string): PlainText => ({ type: 'plain_text', text, emoji: false });
const mrkdwn = (text: string): Mrkdwn => ({ type: 'mrkdwn', text });

/** A user id validated as one is shown as a Slack mention; anything else as inert code. */
export function who(by: { user: string; name: string | null } | null): string {
  if (by === null) return '_unknown_';
  return SLACK_USER_ID.test(by.user) ? `<@${by.user}>` : slackCode(by.user, 30);
}

function reasonText(reason: string | null): string {
  if (reason === null) return '';
  const label = Object.hasOwn(DISMISS_REASONS, reason) ? DISMISS_REASONS[reason as DismissReason] : reason;
  return ` · reason ${slackCode(label, 200)}`;
}

/**
 * The blocks for the summary's approval: buttons while it awaits a person,
 * one line with the decision after. [] for a summary without approval.
 */
export function approvalBlocks(summary: Summary): ApprovalBlock[] {
  const approval = summary.approval;
  if (!approval) return [];
  const expires = approval.expiresAt ? slackCode(approval.expiresAt, 40) : '_no expiry_';
  switch (approval.status) {
    case 'awaiting': {
      // Action types are enum names (core/policy/policy.ts ACTION_ORDER); still shown as code like every value.
      const actions = summary.actions.map((a) => a.type);
      const list = actions.length ? actions.join(', ') : 'none';
      return [
        {
          type: 'section',
          block_id: `${APPROVAL_BLOCK_ID}-ask`,
          text: mrkdwn(`:raised_hand: *Approval required.* *Contain* runs ${actions.map((a) => slackCode(a, 40)).join(', ') || '_nothing_'} for real, after every preflight check again; *Dismiss* records that it is expected. Approvers only, until ${expires}.`),
        },
        {
          type: 'actions',
          block_id: APPROVAL_BLOCK_ID,
          elements: [
            {
              type: 'button',
              action_id: APPROVAL_ACTION.contain,
              text: plain('Contain'),
              style: 'primary',
              value: summary.id,
              // Contain deletes or isolates a production pod: one slip of the mouse must not do it.
              confirm: {
                title: plain('Contain this pod?'),
                text: plain(`Runs for real, after the preflight checks again: ${list}.`.slice(0, 300)),
                confirm: plain('Contain'),
                deny: plain('Cancel'),
                style: 'primary',
              },
            },
            {
              type: 'static_select',
              action_id: APPROVAL_ACTION.reason,
              placeholder: plain('Dismiss reason (optional)'),
              options: Object.entries(DISMISS_REASONS).map(([value, text]) => ({ text: plain(text), value })),
            },
            {
              type: 'button',
              action_id: APPROVAL_ACTION.dismiss,
              text: plain('Dismiss'),
              style: 'danger',
              value: summary.id,
              confirm: {
                title: plain('Dismiss this finding?'),
                text: plain('Nothing is done to the pod; the dismissal is recorded with your name and the reason chosen.'),
                confirm: plain('Dismiss'),
                deny: plain('Cancel'),
                style: 'danger',
              },
            },
          ],
        },
      ];
    }
    case 'approved': {
      // "Ran for real" only on the approved run's own summary, and only when it was not a dry run.
      const note = approval.reason ? `: ${slackCode(approval.reason, 300)}` : '';
      const text = !summary.decision.dryRun
        ? `:white_check_mark: *Approved* by ${who(approval.by)}: the actions ran for real (outcome above)${approval.reason ? ` · ${slackCode(approval.reason, 300)}` : ''}`
        : approval.reason
          ? `:white_check_mark: *Approved* by ${who(approval.by)}${note}`
          : `:warning: *Approved* by ${who(approval.by)}, but the run above was a dry run: *nothing ran for real*`;
      return [{ type: 'context', block_id: APPROVAL_BLOCK_ID, elements: [mrkdwn(text)] }];
    }
    case 'dismissed':
      return [{ type: 'context', block_id: APPROVAL_BLOCK_ID, elements: [mrkdwn(`:no_entry_sign: *Dismissed* by ${who(approval.by)}${reasonText(approval.reason)}: nothing was done`)] }];
    case 'expired':
      return [{ type: 'context', block_id: APPROVAL_BLOCK_ID, elements: [mrkdwn(`:hourglass: *Approval expired* at ${expires}: nothing was done; the finding stays a dry run`)] }];
    case 'refused':
      return [{ type: 'context', block_id: APPROVAL_BLOCK_ID, elements: [mrkdwn(`:warning: *Approval not possible*${approval.reason ? `: ${slackCode(approval.reason, 300)}` : ''}`)] }];
  }
}
