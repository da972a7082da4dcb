// Renders the summary as a Slack Block Kit message for an incoming webhook.
// Attacker-influenced text only ever appears inside inline code, with & < >
// escaped (so <!channel>, <@U…> and <url|text> cannot form), backticks
// replaced (so the code span cannot be closed), @channel/@here broken up, and
// every value bounded. Only allow-listed links are clickable.
//
// Nothing can be crowded out: the child process and the outcome (decision and
// each action's status and reason) have blocks of their own, and within a
// block long lines are cut to fit rather than dropped (sink-text fitLines).
//
// Mentions: the only `<@…>` / `<!subteam^…>` in a message are built here from
// the policy's mentions.slack map, for owners whose value is one of its keys,
// and only from IDs that are Slack IDs. An owner value (an attacker can set a
// label) is shown as code like any other value: it can pick one of the mentions
// the policy lists, never write one.
import { approvalBlocks, type ApprovalBlock } from './approval-blocks.ts';
import { SLACK_GROUP_ID, SLACK_USER_ID } from '../../policy/policy.ts';
import { truncate } from '../summary.ts';
import { type Summary, type SummaryOwner, type SummaryProcess } from '../document.ts';
import { allowedLink, cutSlackLine, displayName, fitLines, MAX_OWNERS_SHOWN, ownerSourceWords, type FitLine } from '../sink-text.ts';
import { escapeSlack, slackCode } from './text.ts';

export { escapeSlack, slackCode };

type TextObject = { type: 'mrkdwn' | 'plain_text'; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' }
  | ApprovalBlock;

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
  unfurl_links: false;
  unfurl_media: false;
}

// Block Kit limits: section text 3000, field 2000, header 150, 10 fields, 50 blocks.
const SECTION_MAX = 2900;

/** Escapes the three characters Slack mrkdwn treats as control characters. */
function slackLink(url: string | null | undefined, label: string): string | null {
  const href = allowedLink(url);
  return href ? `<${href}|${escapeSlack(label)}>` : null;
}

/** Lines fitted into one block: cut to share the room, never split inside an escape, code span or link. */
function within(lines: readonly (string | FitLine)[], max = SECTION_MAX): string {
  return fitLines(lines, {
    max,
    separator: '\n',
    measure: (text) => text.length,
    cut: cutSlackLine,
    more: (n) => `_… ${n} more line${n === 1 ? '' : 's'}_`,
  });
}

function mrkdwn(text: string): TextObject {
  return { type: 'mrkdwn', text };
}

/** The headline from trusted parts only: our verdict words and validated names. */
export function safeHeadline(summary: Summary): string {
  const t = summary.target;
  const where = [
    displayName(t.cluster, 'label'),
    displayName(t.namespace, 'label'),
    displayName(t.pod, 'subdomain'),
  ].join('/');
  const verdict = summary.decision.dryRun && summary.outcome === 'dry-run' ? 'dry-run' : summary.outcome;
  return `${summary.budget.exceeded ? 'BUDGET EXCEEDED · ' : ''}Unexpected Child Shell · ${verdict} · ${where}`;
}

function processLines(label: string, p: SummaryProcess | null): string[] {
  if (p === null) return [];
  const env = p.env.map((e) => (e.value === null ? slackCode(`${e.name}=<redacted>`, 120) : slackCode(`${e.name}=${e.value}`, 300)));
  return [
    `*${label}* ${slackCode(p.binary ?? p.name)} pid ${slackCode(p.pid, 20)}${p.sha256 ? ` sha256 ${slackCode(p.sha256, 64)}` : ''}`,
    `    args ${p.args.length ? p.args.map((a) => slackCode(a, 300)).join(' ') : '_none_'}${p.argsTruncated ? ' _(truncated)_' : ''}`,
    ...(env.length ? [`    env ${env.join(' ')}${p.envTruncated ? ' _(truncated)_' : ''}`] : []),
  ];
}

export interface SlackFormatOptions {
  /** policy.mentions.slack: an owner value → the Slack member (U…/W…) or user-group (S…) ID to mention. */
  mentions?: Readonly<Record<string, string>>;
}

/** The mention for an ID, or null when it is not a Slack ID (the map is policy-validated; this is the last line). */
export function slackMention(id: string): string | null {
  if (SLACK_USER_ID.test(id)) return `<@${id}>`;
  if (SLACK_GROUP_ID.test(id)) return `<!subteam^${id}>`;
  return null;
}

/** The mentions for these owners, each once, in owner order. Own keys only: an owner named "constructor" is no key. */
export function ownerMentions(owners: readonly SummaryOwner[] | undefined, mentions: Readonly<Record<string, string>> = {}): string[] {
  const out = new Set<string>();
  for (const o of owners ?? []) {
    if (!Object.hasOwn(mentions, o.who)) continue;
    const mention = slackMention(mentions[o.who]!);
    if (mention !== null) out.add(mention);
  }
  return [...out];
}

function ownerLines(summary: Summary, map: Readonly<Record<string, string>>): FitLine[] | null {
  const owners = summary.owners;
  if (owners === undefined) return null;
  const lines: FitLine[] = [{ text: `*Owners*${owners.length === 0 ? ' _none found_' : ''}`, priority: 2 }];
  for (const o of owners.slice(0, MAX_OWNERS_SHOWN)) {
    const mention = Object.hasOwn(map, o.who) ? slackMention(map[o.who]!) : null;
    lines.push({
      text: `• ${slackCode(o.who, 200)} ${ownerSourceWords(o.source)}${o.key ? ` ${slackCode(o.key, 100)}` : ''}${mention ? ` ${mention}` : ''}`,
      priority: 1,
    });
  }
  if (owners.length > MAX_OWNERS_SHOWN) lines.push({ text: `_… ${owners.length - MAX_OWNERS_SHOWN} more_`, priority: 1 });
  for (const note of (summary.ownerNotes ?? []).slice(0, MAX_OWNERS_SHOWN)) lines.push({ text: `• _not found:_ ${slackCode(note, 300)}` });
  return lines;
}

export function formatSlack(summary: Summary, options: SlackFormatOptions = {}): SlackMessage {
  const headline = safeHeadline(summary);
  const t = summary.target;
  const map = options.mentions ?? {};
  const mentions = ownerMentions(summary.owners, map);
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(headline, 150), emoji: false } }];

  if (summary.budget.exceeded) {
    blocks.push({
      type: 'section',
      text: mrkdwn(
        within([
          ':rotating_light: *Blast-radius budget exceeded: these actions were NOT taken*',
          ...summary.budget.denied.map((d) => `• ${slackCode(d.action, 40)} ${slackCode(d.reason, 400)}`),
        ]),
      ),
    });
  }

  const fields: [string, string | null][] = [
    ['Cluster', t.cluster],
    ['Namespace', t.namespace],
    ['Pod', t.pod],
    ['Container', t.container],
    ['Image', t.image],
    ['Node', t.node],
    ['Severity', summary.finding.severity],
    ['Event time', summary.finding.eventTime],
  ];
  blocks.push({
    type: 'section',
    fields: [
      ...fields.map(([label, value]) => mrkdwn(`*${label}*\n${slackCode(value, 300)}`)),
      mrkdwn(`*Decision*\n${slackCode(summary.decision.rule ?? 'no rule')} ${summary.decision.dryRun ? '*dry-run*' : '*live*'}`),
      mrkdwn(`*Outcome*\n*${summary.outcome}*`),
    ],
  });

  // Its own block, right after the target: a long process or evidence list cannot push the owners out.
  const owners = ownerLines(summary, map);
  if (owners) blocks.push({ type: 'section', text: mrkdwn(within(owners)) });

  // One block each, the child first: the parent's args cannot push the child's command out.
  for (const [label, p] of [['Child', summary.processes.child], ['Parent', summary.processes.parent]] as const) {
    const lines = processLines(label, p);
    if (lines.length) blocks.push({ type: 'section', text: mrkdwn(within(lines)) });
  }

  const exception = summary.exception;
  if (exception) {
    // Policy text, but shown as code like every other value: a reason is free text too.
    const mute = exception.muteRule;
    blocks.push({
      type: 'section',
      text: mrkdwn(
        within([
          `*Excepted* by ${slackCode(exception.name, 63)} until ${slackCode(exception.expires, 40)}${exception.owner ? ` · owner ${slackCode(exception.owner, 200)}` : ''}`,
          `    reason ${slackCode(exception.reason, 500)}`,
          ...(mute
            ? [
                `    suggested SCC mute rule (not applied) ${slackCode(mute.filter, 600)}`,
                ...(mute.broaderBy.length ? [`    _broader than the exception: it cannot filter on ${mute.broaderBy.map((b) => slackCode(b, 40)).join(', ')}_`] : []),
              ]
            : []),
        ]),
      ),
    });
  }

  blocks.push({
    type: 'section',
    text: mrkdwn(
      within([
        `*Decision* ${slackCode(summary.decision.reason, 400)}`,
        ...(summary.actions.length
          ? summary.actions.map((a) => `• ${slackCode(a.type, 40)} *${a.status}* ${slackCode(a.reason, 400)}`)
          : ['• no actions (report only)']),
      ]),
    ),
  });

  const ev = summary.evidence;
  if (ev) {
    // Excerpts give way first; a query's line keeps its count even when its link does not fit.
    const lines: FitLine[] = [{ text: '*Evidence*', priority: 2 }];
    for (const q of ev.queries) {
      const link = slackLink(q.url, 'Logs Explorer');
      lines.push({
        text: `• ${slackCode(q.kind, 60)} ${q.count} entr${q.count === 1 ? 'y' : 'ies'}${q.incomplete ? ` (incomplete: ${slackCode(q.incomplete, 120)})` : ''}${link ? ` ${link}` : ''}`,
        priority: 1,
      });
      for (const e of q.excerpts) lines.push({ text: `    ${slackCode(e, 300)}` });
    }
    if (ev.bundle) lines.push({ text: `• bundle ${slackCode(ev.bundle, 300)}`, priority: 1 });
    for (const n of ev.notes) lines.push({ text: `• ${slackCode(n, 300)}`, priority: 1 });
    blocks.push({ type: 'section', text: mrkdwn(within(lines)) });
  }

  if (summary.warnings.length || t.problems.length) {
    blocks.push({
      type: 'section',
      text: mrkdwn(within([':warning: *Warnings*', ...[...summary.warnings, ...t.problems].map((w) => `• ${slackCode(w, 400)}`)])),
    });
  }

  const links = [
    slackLink(summary.finding.consoleUrl, 'Open in Security Command Center'),
    ...summary.links.mitre.map((m) => slackLink(m.url, m.id || m.name)),
    ...summary.links.virusTotal.map((u) => slackLink(u, 'VirusTotal')),
  ].filter((l): l is string => l !== null);
  // approval: required, awaiting a person: Contain / Dismiss, bound to the summary id only.
  blocks.push(...approvalBlocks(summary));
  blocks.push({
    type: 'context',
    elements: [...(links.length ? [mrkdwn(cutSlackLine(links.join(' · '), 1900))] : []), mrkdwn(`id ${slackCode(summary.id, 64)}`)],
  });

  // The fallback text is what a notification shows: the mentions ride there too.
  return { text: `${escapeSlack(headline)}${mentions.length ? ` ${mentions.join(' ')}` : ''}`, blocks, unfurl_links: false, unfurl_media: false };
}
