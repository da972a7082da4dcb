// Routes and mentions, the pure parts: which routes a summary matches (one
// condition changed per case), which sinks it then goes to, how Slack mentions
// the owners (and how a hostile owner value cannot), and the start-up check of
// the routes' webhook variables.
import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseEnv } from '../src/config.ts';
import { formatChat } from '../src/core/summary/chat/format.ts';
import { validatePolicy, type PolicyRoute } from '../src/core/policy/policy.ts';
import type { SummarySink } from '../src/core/ports.ts';
import { matchRoutes, parseRouteSinkName, routeMatches, routeSinkName } from '../src/core/summary/routes.ts';
import { formatSlack, ownerMentions } from '../src/core/summary/slack/format.ts';
import type { Summary, SummaryOwner } from '../src/core/summary/document.ts';
import { reportingSinks } from '../src/pipeline/summary-delivery.ts';
import { reportWiring, routeWebhooks } from '../src/wiring/report-sinks.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryFor } from './support/summaries.ts';

const OWNER: SummaryOwner = { who: 'payments', source: 'namespace-label', key: 'team' };

/** The fixture's summary (example-shop-prod / shop-prod-1 / payments, CRITICAL, contained) with one owner. */
function summary(): Summary {
  return { ...summaryFor(notificationV1()), owners: [structuredClone(OWNER)] };
}

function route(match: Record<string, unknown>): PolicyRoute {
  return validatePolicy({ routes: [{ name: 'r', match, slackWebhookEnv: 'TEAM_SLACK_WEBHOOK_URL' }] }).routes[0]!;
}

describe('matching a route', () => {
  // Each condition once holding and once not, everything else as the fixture has it.
  const CASES: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['projects', { projects: ['example-shop-*'] }, { projects: ['other-*'] }],
    ['clusters', { clusters: ['shop-prod-?'] }, { clusters: ['shop-staging-*'] }],
    ['namespaces', { namespaces: ['payments'] }, { namespaces: ['checkout'] }],
    ['severities', { severities: ['HIGH', 'CRITICAL'] }, { severities: ['LOW'] }],
    ['outcomes', { outcomes: ['contained', 'partial'] }, { outcomes: ['failed'] }],
    ['owners', { owners: ['pay*'] }, { owners: ['billing'] }],
  ];

  it.each(CASES)('%s: holds when it matches, not when it does not', (_field, holds, fails) => {
    expect(routeMatches(route(holds), summary())).toBe(true);
    expect(routeMatches(route(fails), summary())).toBe(false);
  });

  it('an empty match routes every summary', () => {
    expect(routeMatches(route({}), summary())).toBe(true);
    const bare = summary();
    bare.target.namespace = null;
    delete bare.owners;
    expect(routeMatches(route({}), bare)).toBe(true);
  });

  it('every condition given must hold', () => {
    expect(routeMatches(route({ namespaces: ['payments'], severities: ['CRITICAL'] }), summary())).toBe(true);
    expect(routeMatches(route({ namespaces: ['payments'], severities: ['LOW'] }), summary())).toBe(false);
  });

  it('a condition on a value the summary lacks does not hold', () => {
    const s = summary();
    s.target.namespace = null;
    expect(routeMatches(route({ namespaces: ['*'] }), s)).toBe(false);
    const noSeverity = summary();
    noSeverity.finding.severity = null;
    expect(routeMatches(route({ severities: ['CRITICAL'] }), noSeverity)).toBe(false);
  });

  it('owners: any owner found may match; none found (or not resolved) does not', () => {
    const s = summary();
    s.owners = [{ who: 'alice@example.com', source: 'essential-contacts', key: null }, structuredClone(OWNER)];
    expect(routeMatches(route({ owners: ['payments'] }), s)).toBe(true);
    // Text globs: "*" runs over "@" and "/" alike.
    expect(routeMatches(route({ owners: ['*@example.com'] }), s)).toBe(true);
    const team = summary();
    team.owners = [{ who: 'org/payments', source: 'workload-label', key: 'app.kubernetes.io/part-of' }];
    expect(routeMatches(route({ owners: ['*payments'] }), team)).toBe(true);
    const none = summary();
    none.owners = [];
    expect(routeMatches(route({ owners: ['*'] }), none)).toBe(false);
    const unresolved = summary();
    delete unresolved.owners;
    expect(routeMatches(route({ owners: ['*'] }), unresolved)).toBe(false);
  });

  it('matchRoutes keeps the policy order and only the routes that match', () => {
    const policy = validatePolicy({
      routes: [
        { name: 'all', slackWebhookEnv: 'ALL_WEBHOOK_URL' },
        { name: 'billing', match: { namespaces: ['billing'] }, slackWebhookEnv: 'BILLING_WEBHOOK_URL' },
        { name: 'payments', match: { namespaces: ['payments'] }, pubsubTopic: 'projects/payments-prod/topics/incidents' },
      ],
    });
    expect(matchRoutes(policy.routes, summary()).map((r) => r.name)).toEqual(['all', 'payments']);
  });
});

describe('route sinks', () => {
  const sink = (name: string): SummarySink => ({ name, deliver: async () => {} });
  const ALL = ['pubsub', 'slack', 'chat', 'route:payments:slack', 'route:payments:pubsub', 'route:billing:chat'].map(sink);

  it('names: route:<name>:<kind>, and back; the ops sinks are no route', () => {
    expect(routeSinkName('payments', 'slack')).toBe('route:payments:slack');
    expect(parseRouteSinkName('route:team.payments_1:chat')).toEqual({ route: 'team.payments_1', kind: 'chat' });
    for (const name of ['log', 'pubsub', 'slack', 'chat', 'route:x:email', 'route::slack', 'route:a:b:slack']) expect(parseRouteSinkName(name)).toBeNull();
  });

  it("the ops sinks get every summary; a route's sinks only a summary routed to it", () => {
    const s = summary();
    s.routes = ['payments'];
    expect(reportingSinks(s, ALL).map((x) => x.name)).toEqual(['pubsub', 'slack', 'chat', 'route:payments:slack', 'route:payments:pubsub']);
    s.routes = [];
    expect(reportingSinks(s, ALL).map((x) => x.name)).toEqual(['pubsub', 'slack', 'chat']);
    // Built before routes existed (a resumed ledger record): the ops sinks only.
    delete s.routes;
    expect(reportingSinks(s, ALL).map((x) => x.name)).toEqual(['pubsub', 'slack', 'chat']);
  });

  it("an excepted finding: the exception's sinks rule applies to route sinks of the same kind", () => {
    const policy = validatePolicy({
      dryRun: false,
      rules: [{ name: 'contain', actions: ['label-pod'] }],
      exceptions: [{ name: 'known', reason: 'expected', expires: '2099-01-01', match: { namespaces: ['payments'] }, sinks: ['slack'] }],
    });
    const s = summaryFor(notificationV1(), { policy });
    expect(s.outcome).toBe('excepted');
    s.routes = ['payments', 'billing'];
    expect(reportingSinks(s, ALL).map((x) => x.name)).toEqual(['slack', 'route:payments:slack']);
  });
});

describe('Slack mentions of the owners', () => {
  const MENTIONS = { payments: 'S0PAYMENTS', 'alice@example.com': 'U0ALICE1', 'W-team': 'W0ENTERPRISE' };
  const texts = (s: Summary, mentions: Record<string, string> = MENTIONS) => JSON.stringify(formatSlack(s, { mentions }));
  const ownersBlock = (s: Summary, mentions: Record<string, string> = MENTIONS) =>
    formatSlack(s, { mentions }).blocks.flatMap((b) => (b.type === 'section' && b.text?.text.startsWith('*Owners*') ? [b.text.text] : []));

  it('a team in the map is mentioned as its user group, beside the owner and in the notification text', () => {
    const s = summary();
    const [block] = ownersBlock(s);
    expect(block).toBe('*Owners*\n• `payments` namespace label `team` <!subteam^S0PAYMENTS>');
    expect(formatSlack(s, { mentions: MENTIONS }).text).toMatch(/ <!subteam\^S0PAYMENTS>$/);
  });

  it('a person in the map is mentioned as a member (U…, and W… on Enterprise Grid)', () => {
    const s = summary();
    s.owners = [
      { who: 'alice@example.com', source: 'essential-contacts', key: null },
      { who: 'W-team', source: 'cluster-label', key: 'owner' },
    ];
    expect(ownersBlock(s)[0]).toBe(
      '*Owners*\n• `alice@example.com` Essential Contacts (security) <@U0ALICE1>\n• `W-team` cluster label `owner` <@W0ENTERPRISE>',
    );
  });

  it('an owner not in the map is shown, not mentioned; the notification mentions an ID once', () => {
    const s = summary();
    s.owners = [{ who: 'billing', source: 'workload-label', key: 'team' }, structuredClone(OWNER), { ...OWNER, source: 'workload-label' }];
    const [block] = ownersBlock(s);
    expect(block).toContain('• `billing` workload label `team`\n');
    expect(formatSlack(s, { mentions: MENTIONS }).text.match(/<!subteam\^S0PAYMENTS>/g)).toHaveLength(1);
    expect(texts(s, {})).not.toMatch(/<@|<!subteam/);
  });

  it('no owners found says so; owners not resolved (an older summary) shows no block', () => {
    const s = summary();
    s.owners = [];
    s.ownerNotes = ['essential-contacts: timed out after 3 s'];
    expect(ownersBlock(s)[0]).toBe('*Owners* _none found_\n• _not found:_ `essential-contacts: timed out after 3 s`');
    delete s.owners;
    expect(ownersBlock(s)).toEqual([]);
  });

  it('hostile owner values are escaped code: no mention, link or formatting forms, whatever the map holds', () => {
    const hostile = ['<!channel>', '<@U0ALICE1>', '<!subteam^S0PAYMENTS>', '<https://evil.example|fix>', '@here `x` *b*', 'a&amp;b', '__proto__', 'constructor'];
    const s = summary();
    s.owners = hostile.map((who) => ({ who, source: 'workload-label', key: 'team' }));
    // Keys that look like mentions are only keys: the owner value must equal one exactly.
    const json = texts(s, { ...MENTIONS, '&lt;!channel&gt;': 'S0CHANNEL' });
    expect(json).not.toMatch(/<!channel>|<!here>|<https:\/\/evil|<@U0ALICE1>|<!subteam/);
    expect(json).not.toMatch(/@(channel|here|everyone)/);
    expect(json).toContain('`&lt;!channel&gt;`');
    expect(json).toContain('`&lt;@U0ALICE1&gt;`');
    expect(json).toContain('`a&amp;amp;b`');
    expect(json).toContain('`@\u200bhere ˋxˋ *b*`');
    // Own keys only: "constructor" and "__proto__" owners find nothing on Object.prototype.
    expect(ownerMentions(s.owners, MENTIONS)).toEqual([]);
  });

  it('a mention is only ever a Slack ID: a map value that is not one is never rendered', () => {
    const s = summary();
    const forged = { payments: '<!channel>' } as Record<string, string>;
    expect(ownerMentions(s.owners, forged)).toEqual([]);
    expect(texts(s, forged)).not.toContain('<!channel>');
    expect(ownerMentions(s.owners, { payments: 'C0CHANNEL1' })).toEqual([]);
  });

  it('Google Chat shows the owners as escaped text and mentions no one', () => {
    const s = summary();
    s.owners = [structuredClone(OWNER), { who: '<users/all> <b>x</b>', source: 'workload-label', key: 'team' }];
    const section = formatChat(s).cardsV2[0]!.card.sections.find((x) => x.header === 'Owners')!;
    const text = JSON.stringify(section);
    expect(text).toContain('<b>payments</b> namespace label team');
    expect(text).toContain('&lt;users/all&gt; &lt;b&gt;x&lt;/b&gt;');
    expect(JSON.stringify(formatChat(s))).not.toMatch(/<users\//);
  });
});

describe("the routes' webhook variables, checked at start", () => {
  const policy = validatePolicy({
    routes: [
      { name: 'payments', match: { namespaces: ['payments'] }, slackWebhookEnv: 'PAYMENTS_SLACK_WEBHOOK_URL', chatWebhookEnv: 'PAYMENTS_CHAT_WEBHOOK_URL' },
      { name: 'audit', pubsubTopic: 'projects/audit-project/topics/incidents' },
    ],
  });
  const GOOD = { PAYMENTS_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/secret-token', PAYMENTS_CHAT_WEBHOOK_URL: 'http://127.0.0.1:9/chat' };

  it('reads each route URL from the variable it names', () => {
    expect(routeWebhooks(policy, GOOD)).toEqual([
      { route: 'payments', kind: 'slack', url: GOOD.PAYMENTS_SLACK_WEBHOOK_URL },
      { route: 'payments', kind: 'chat', url: GOOD.PAYMENTS_CHAT_WEBHOOK_URL },
    ]);
  });

  it.each([
    ['unset', { PAYMENTS_CHAT_WEBHOOK_URL: GOOD.PAYMENTS_CHAT_WEBHOOK_URL }, 'route payments: PAYMENTS_SLACK_WEBHOOK_URL is not set'],
    ['empty', { ...GOOD, PAYMENTS_SLACK_WEBHOOK_URL: '' }, 'route payments: PAYMENTS_SLACK_WEBHOOK_URL is not set'],
    ['plain http to another host', { ...GOOD, PAYMENTS_SLACK_WEBHOOK_URL: 'http://hooks.example.com/secret-token' }, 'route payments: PAYMENTS_SLACK_WEBHOOK_URL is not an https:// webhook URL'],
    ['not a URL', { ...GOOD, PAYMENTS_SLACK_WEBHOOK_URL: 'secret-token' }, 'route payments: PAYMENTS_SLACK_WEBHOOK_URL is not an https:// webhook URL'],
  ])('%s: the instance does not start, and the error names the route and variable, never the value', (_case, env, message) => {
    let error: unknown = null;
    try {
      reportWiring(parseEnv(env), env, policy);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toContain(message);
    expect(String(error)).not.toContain('secret-token');
  });

  it("a route may not name the ops webhooks (they get every summary already)", () => {
    // validate-policy says so first; the startup check holds it for a policy built in code.
    expect(() => validatePolicy({ routes: [{ name: 'dup', slackWebhookEnv: 'SLACK_WEBHOOK_URL' }] })).toThrow('name a variable of its own');
    const ops = { ...validatePolicy({}), routes: [{ name: 'dup', match: {}, slackWebhookEnv: 'SLACK_WEBHOOK_URL' }] };
    const env = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x' };
    expect(() => routeWebhooks(ops, env)).toThrow('route dup: slack webhook SLACK_WEBHOOK_URL is the ops webhook');
  });

  it('without a policy (the CLI ledger commands) nothing is checked; a policy without routes needs nothing', () => {
    expect(() => reportWiring(parseEnv({}), {})).not.toThrow();
    expect(() => reportWiring(parseEnv({}), {}, validatePolicy({}))).not.toThrow();
  });

  it('builds one sink per destination, named for the ledger', async () => {
    const env = { ...GOOD, OPS_TOPIC: 'ops', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/ops', PUBSUB_EMULATOR_HOST: '127.0.0.1:9', GOOGLE_CLOUD_PROJECT: 'test-project' };
    const sinks = await reportWiring(parseEnv(env), env, policy).summarySinks();
    expect(sinks.map((s) => s.name).sort()).toEqual(['pubsub', 'route:audit:pubsub', 'route:payments:chat', 'route:payments:slack', 'slack'].sort());
  });
});
