// Renders the summary as a Google Chat webhook message with a cardsV2 card.
// Card text fields interpret a subset of HTML (<b>, <a href>, <font>, <br>):
// every attacker-influenced value is HTML-escaped (so no tag, link or
// <users/all> mention can form), URL schemes are defanged (no auto-link), the
// text is made one inert line and bounded. Only allow-listed links are buttons.
//
// Chat refuses a message over 32 000 bytes, so every part has a byte budget
// and the sum stays below it; within a part long lines are cut to fit, never
// dropped, and the child process and the outcome have widgets of their own.
//
// Owners are shown as text, never mentioned: an incoming webhook can mention a
// Chat user only by their numeric user id (`<users/123…>`), not a team or a
// group, and the owners found are teams and e-mail addresses.
import type { Summary, SummaryProcess } from '../document.ts';
import { safeHeadline } from '../slack/format.ts';
import {
  allowedLink,
  cutChatLine,
  defangUrls,
  fitLines,
  inertLine,
  MAX_OWNERS_SHOWN,
  ownerSourceWords,
  wireBytes,
  type FitLine,
} from '../sink-text.ts';

type Widget =
  | { textParagraph: { text: string } }
  | { decoratedText: { topLabel: string; text: string; wrapText: boolean } }
  | { buttonList: { buttons: { text: string; onClick: { openLink: { url: string } } }[] } };

export interface ChatMessage {
  text: string;
  cardsV2: {
    cardId: string;
    card: {
      header: { title: string; subtitle: string };
      sections: { header?: string; collapsible?: boolean; widgets: Widget[] }[];
    };
  }[];
}

// Wire bytes per part. Chat caps a message at 32 000 bytes; in sum (8 target
// fields, owners, 2 processes, decision, actions, evidence, warnings, budget,
// buttons and the JSON around them) these stay below ~30 000.
const PARAGRAPH_MAX = 3000;
const OWNERS_MAX = 1200;
const BUDGET_MAX = 2000;
const EVIDENCE_MAX = 3500;
const WARNINGS_MAX = 2000;
const FIELD_MAX = 600;
const REASON_MAX = 1200;
const TITLE_MAX = 200;
const BUTTON_URL_MAX = 2000;

export function escapeChatHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** An attacker-influenced value made safe for card HTML. */
export function chatText(value: string | null | undefined, max = 200): string {
  if (value === null || value === undefined) return '<i>none</i>';
  const line = inertLine(value, max);
  if (line.trim() === '') return '<i>empty</i>';
  return escapeChatHtml(defangUrls(line));
}

/** Lines fitted into one paragraph: cut to share the room, never split inside a tag, entity or pair. */
function within(lines: readonly (string | FitLine)[], max = PARAGRAPH_MAX): string {
  return fitLines(lines, {
    max,
    separator: '<br>',
    measure: wireBytes,
    cut: cutChatLine,
    more: (n) => `<i>… ${n} more line${n === 1 ? '' : 's'}</i>`,
  });
}

function processLines(label: string, p: SummaryProcess | null): string[] {
  if (p === null) return [];
  const env = p.env.map((e) => chatText(e.value === null ? `${e.name}=<redacted>` : `${e.name}=${e.value}`, 300));
  return [
    `<b>${label}</b> ${chatText(p.binary ?? p.name)} pid ${chatText(p.pid, 20)}${p.sha256 ? ` sha256 ${chatText(p.sha256, 64)}` : ''}`,
    `args: ${p.args.length ? p.args.map((a) => chatText(a, 300)).join(' ') : '<i>none</i>'}${p.argsTruncated ? ' <i>(truncated)</i>' : ''}`,
    ...(env.length ? [`env: ${env.join(' ')}${p.envTruncated ? ' <i>(truncated)</i>' : ''}`] : []),
  ];
}

function ownerLines(summary: Summary): FitLine[] | null {
  const owners = summary.owners;
  if (owners === undefined) return null;
  const lines: FitLine[] = owners.slice(0, MAX_OWNERS_SHOWN).map((o) => ({
    text: `<b>${chatText(o.who, 200)}</b> ${ownerSourceWords(o.source)}${o.key ? ` ${chatText(o.key, 100)}` : ''}`,
    priority: 1,
  }));
  if (owners.length === 0) lines.push({ text: '<i>none found</i>', priority: 1 });
  if (owners.length > MAX_OWNERS_SHOWN) lines.push({ text: `<i>… ${owners.length - MAX_OWNERS_SHOWN} more</i>`, priority: 1 });
  for (const note of (summary.ownerNotes ?? []).slice(0, MAX_OWNERS_SHOWN)) lines.push({ text: `<i>not found:</i> ${chatText(note, 300)}` });
  return lines;
}

function decorated(topLabel: string, value: string | null, max = 300, bytes = FIELD_MAX): Widget {
  return { decoratedText: { topLabel, text: cutChatLine(chatText(value, max), bytes), wrapText: true } };
}

export function formatChat(summary: Summary): ChatMessage {
  const headline = safeHeadline(summary);
  const t = summary.target;
  const sections: ChatMessage['cardsV2'][number]['card']['sections'] = [];

  if (summary.budget.exceeded) {
    sections.push({
      header: 'Blast-radius budget exceeded',
      widgets: [
        {
          textParagraph: {
            text: within(
              [
                '<font color="#d93025"><b>These actions were NOT taken:</b></font>',
                ...summary.budget.denied.map((d) => `${chatText(d.action, 40)}: ${chatText(d.reason, 400)}`),
              ],
              BUDGET_MAX,
            ),
          },
        },
      ],
    });
  }

  sections.push({
    header: 'Target',
    widgets: [
      decorated('Cluster', t.cluster),
      decorated('Namespace', t.namespace),
      decorated('Pod', t.pod),
      decorated('Container', t.container),
      decorated('Image', t.image),
      decorated('Node', t.node),
      decorated('Severity', summary.finding.severity),
      decorated('Event time', summary.finding.eventTime),
    ],
  });

  const owners = ownerLines(summary);
  if (owners) sections.push({ header: 'Owners', widgets: [{ textParagraph: { text: within(owners, OWNERS_MAX) } }] });

  // A paragraph each, the child first: the parent's args cannot push the child's command out.
  const proc = [processLines('Child', summary.processes.child), processLines('Parent', summary.processes.parent)].filter((l) => l.length);
  if (proc.length) sections.push({ header: 'Processes', widgets: proc.map((lines) => ({ textParagraph: { text: within(lines) } })) });

  const exception = summary.exception;
  if (exception) {
    const mute = exception.muteRule;
    sections.push({
      header: 'Excepted (expected, no action)',
      widgets: [
        decorated('Exception', exception.name, 63),
        decorated('Expires', exception.expires, 40),
        ...(exception.owner ? [decorated('Owner', exception.owner, 200)] : []),
        decorated('Reason', exception.reason, 500, REASON_MAX),
        ...(mute
          ? [
              decorated('Suggested SCC mute rule (not applied)', mute.filter, 600, REASON_MAX),
              ...(mute.broaderBy.length ? [decorated('Broader than the exception: cannot filter on', mute.broaderBy.join(', '), 300)] : []),
            ]
          : []),
      ],
    });
  }

  sections.push({
    header: `Decision: ${summary.decision.dryRun ? 'dry-run' : 'live'}`,
    widgets: [
      decorated('Rule', summary.decision.rule ?? 'no rule'),
      decorated('Reason', summary.decision.reason, 400, REASON_MAX),
      {
        textParagraph: {
          text: within(
            summary.actions.length
              ? summary.actions.map((a) => `<b>${chatText(a.type, 40)}</b> ${chatText(a.status, 20)}: ${chatText(a.reason, 400)}`)
              : ['no actions (report only)'],
          ),
        },
      },
    ],
  });

  const ev = summary.evidence;
  if (ev) {
    // Excerpts give way first; a query's line keeps its count even when its link does not fit.
    const lines: FitLine[] = [];
    for (const q of ev.queries) {
      const href = allowedLink(q.url);
      lines.push({
        text: `<b>${chatText(q.kind, 60)}</b> ${q.count} entr${q.count === 1 ? 'y' : 'ies'}${q.incomplete ? ` (incomplete: ${chatText(q.incomplete, 120)})` : ''}${href ? ` <a href="${escapeChatHtml(href)}">Logs Explorer</a>` : ''}`,
        priority: 1,
      });
      for (const e of q.excerpts) lines.push({ text: `&nbsp;&nbsp;${chatText(e, 300)}` });
    }
    if (ev.bundle) lines.push({ text: `bundle: ${chatText(ev.bundle, 300)}`, priority: 1 });
    for (const n of ev.notes) lines.push({ text: chatText(n, 300), priority: 1 });
    sections.push({
      header: 'Evidence',
      collapsible: true,
      widgets: [{ textParagraph: { text: within(lines.length ? lines : ['none'], EVIDENCE_MAX) } }],
    });
  }

  const warnings = [...summary.warnings, ...t.problems];
  if (warnings.length) {
    sections.push({ header: 'Warnings', widgets: [{ textParagraph: { text: within(warnings.map((w) => chatText(w, 400)), WARNINGS_MAX) } }] });
  }

  const buttons = [
    { text: 'Open in SCC', url: allowedLink(summary.finding.consoleUrl) },
    ...summary.links.mitre.map((m) => ({ text: (m.id || 'MITRE').slice(0, 20), url: allowedLink(m.url) })),
    ...summary.links.virusTotal.map((u) => ({ text: 'VirusTotal', url: allowedLink(u) })),
  ]
    .filter((b): b is { text: string; url: string } => b.url !== null && wireBytes(b.url) <= BUTTON_URL_MAX)
    .slice(0, 6)
    .map((b) => ({ text: b.text, onClick: { openLink: { url: b.url } } }));
  sections.push({
    widgets: [...(buttons.length ? [{ buttonList: { buttons } }] : []), { textParagraph: { text: `id ${chatText(summary.id, 64)}` } }],
  });

  return {
    text: escapeChatHtml(headline),
    cardsV2: [
      {
        cardId: `scc-responder-${summary.id.slice(0, 16)}`,
        card: {
          header: { title: cutChatLine(escapeChatHtml(headline), TITLE_MAX), subtitle: escapeChatHtml(`outcome: ${summary.outcome}`) },
          sections,
        },
      },
    ],
  };
}
