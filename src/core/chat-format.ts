// Renders the summary as a Google Chat webhook message with a cardsV2 card.
// Card text fields interpret a subset of HTML (<b>, <a href>, <font>, <br>):
// every attacker-influenced value is HTML-escaped (so no tag, link or
// <users/all> mention can form), URL schemes are defanged (no auto-link), the
// text is made one inert line and bounded. Only allow-listed links are buttons.
import type { Summary, SummaryProcess } from './summary.ts';
import { safeHeadline } from './slack-format.ts';
import { allowedLink, defangUrls, inertLine } from './sink-text.ts';

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

// Chat caps a message at 32 000 bytes; widgets stay well below that in sum.
const PARAGRAPH_MAX = 3000;

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

function within(lines: string[], max = PARAGRAPH_MAX): string {
  let out = '';
  for (const line of lines) {
    const next = out === '' ? line : `${out}<br>${line}`;
    if (next.length > max) return `${out}<br>…`;
    out = next;
  }
  return out;
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

function decorated(topLabel: string, value: string | null, max = 300): Widget {
  return { decoratedText: { topLabel, text: chatText(value, max), wrapText: true } };
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
            text: within([
              '<font color="#d93025"><b>These actions were NOT taken:</b></font>',
              ...summary.budget.denied.map((d) => `${chatText(d.action, 40)}: ${chatText(d.reason, 400)}`),
            ]),
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

  const proc = [...processLines('Parent', summary.processes.parent), ...processLines('Child', summary.processes.child)];
  if (proc.length) sections.push({ header: 'Processes', widgets: [{ textParagraph: { text: within(proc) } }] });

  sections.push({
    header: `Decision: ${summary.decision.dryRun ? 'dry-run' : 'live'}`,
    widgets: [
      decorated('Rule', summary.decision.rule ?? 'no rule'),
      decorated('Reason', summary.decision.reason, 400),
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
    const lines: string[] = [];
    for (const q of ev.queries) {
      const href = allowedLink(q.url);
      lines.push(
        `<b>${chatText(q.kind, 60)}</b> ${q.count} entr${q.count === 1 ? 'y' : 'ies'}${q.incomplete ? ` (incomplete: ${chatText(q.incomplete, 120)})` : ''}${href ? ` <a href="${escapeChatHtml(href)}">Logs Explorer</a>` : ''}`,
      );
      for (const e of q.excerpts) lines.push(`&nbsp;&nbsp;${chatText(e, 300)}`);
    }
    if (ev.bundle) lines.push(`bundle: ${chatText(ev.bundle, 300)}`);
    for (const n of ev.notes) lines.push(chatText(n, 300));
    sections.push({ header: 'Evidence', collapsible: true, widgets: [{ textParagraph: { text: within(lines.length ? lines : ['none']) } }] });
  }

  const warnings = [...summary.warnings, ...t.problems];
  if (warnings.length) {
    sections.push({ header: 'Warnings', widgets: [{ textParagraph: { text: within(warnings.map((w) => chatText(w, 400))) } }] });
  }

  const buttons = [
    { text: 'Open in SCC', url: allowedLink(summary.finding.consoleUrl) },
    ...summary.links.mitre.map((m) => ({ text: (m.id || 'MITRE').slice(0, 20), url: allowedLink(m.url) })),
    ...summary.links.virusTotal.map((u) => ({ text: 'VirusTotal', url: allowedLink(u) })),
  ]
    .filter((b): b is { text: string; url: string } => b.url !== null)
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
          header: { title: escapeChatHtml(headline).slice(0, 200), subtitle: escapeChatHtml(`outcome: ${summary.outcome}`) },
          sections,
        },
      },
    ],
  };
}
