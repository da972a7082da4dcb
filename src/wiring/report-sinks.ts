// Builds the ledger, budget and summary sinks (the ops sinks and each policy
// route's) from the parsed config and the policy, each loaded lazily (dynamic
// import) and once per instance, so the ignore path loads neither Firestore nor
// Pub/Sub. Used by the composition root.
import { ConfigError, envSchema, type EnvConfig } from '../config.ts';
import type { Policy } from '../core/policy/policy.ts';
import type { ApprovalStore } from '../core/approval/approval.ts';
import type { Budget, IncidentStore, Ledger, SummarySink } from '../core/ports.ts';
import { routeSinkName } from '../core/summary/routes.ts';
import { loadOnce } from './load-once.ts';

/** Ledger and budget documents expire (Firestore TTL on expireAt) this long after their last write. */
export const LEDGER_TTL_DAYS = 30;

export interface ReportWiring {
  ledger?: () => Promise<Ledger>;
  budget?: () => Promise<Budget>;
  /** The ledger's read side and release record (CLI `incidents` and `release`). */
  incidents?: () => Promise<IncidentStore>;
  /** approval: required rules: the dry run's request and the person's decision, in the ledger. */
  approvals?: () => Promise<ApprovalStore>;
  summarySinks: () => Promise<SummarySink[]>;
}

type Env = Record<string, string | undefined>;

/** What report wiring reads of the policy: where routes send, and whom the Slack messages mention. */
export type ReportPolicy = Pick<Policy, 'routes' | 'mentions'>;

/** The ops webhooks: every summary goes there already, so a route naming one would only post it twice. */
const OPS_WEBHOOK_ENV = new Set(['SLACK_WEBHOOK_URL', 'CHAT_WEBHOOK_URL']);

// The same rule as SLACK_WEBHOOK_URL's (https, or http to loopback only), from the schema itself.
const isWebhookUrl = (value: string) => envSchema.shape.SLACK_WEBHOOK_URL.safeParse(value).success;

export interface RouteWebhook {
  route: string;
  kind: 'slack' | 'chat';
  url: string;
}

/**
 * The webhook URL of every route's Slack and Chat destination, read from the
 * environment variable the route names (a Secret Manager secret Cloud Run mounts:
 * terraform `route_webhook_secrets`). Throws a ConfigError naming each route and
 * variable that is unset or not a webhook URL, so a misconfigured route stops the
 * instance at start, as a bad SLACK_WEBHOOK_URL does. Never echoes a value.
 */
export function routeWebhooks(policy: ReportPolicy, env: Env): RouteWebhook[] {
  const out: RouteWebhook[] = [];
  const problems: string[] = [];
  for (const route of policy.routes) {
    for (const [kind, name] of [['slack', route.slackWebhookEnv], ['chat', route.chatWebhookEnv]] as const) {
      if (name === undefined) continue;
      const value = env[name];
      if (OPS_WEBHOOK_ENV.has(name)) problems.push(`route ${route.name}: ${kind} webhook ${name} is the ops webhook, which gets every summary already`);
      else if (value === undefined || value === '') problems.push(`route ${route.name}: ${name} is not set (mount the route's webhook secret: terraform route_webhook_secrets)`);
      else if (!isWebhookUrl(value)) problems.push(`route ${route.name}: ${name} is not an https:// webhook URL (value not shown: it is a secret)`);
      else out.push({ route: route.name, kind, url: value });
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return out;
}

/**
 * `policy` absent: the ops sinks only (the CLI's ledger commands, which send no summary).
 * With a policy, its routes' webhooks are checked now: throws ConfigError (see routeWebhooks).
 */
export function reportWiring(config: EnvConfig, env: Env, policy?: ReportPolicy): ReportWiring {
  const projectId = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  const webhooks = policy ? routeWebhooks(policy, env) : [];
  const topics = (policy?.routes ?? []).flatMap((r) => (r.pubsubTopic ? [{ name: routeSinkName(r.name, 'pubsub'), topic: r.pubsubTopic }] : []));
  const mentions = policy?.mentions.slack ?? {};
  const wiring: ReportWiring = {
    summarySinks: loadOnce(async () => {
      const sinks: SummarySink[] = [];
      const published = [...(config.OPS_TOPIC ? [{ name: 'pubsub', topic: config.OPS_TOPIC }] : []), ...topics];
      if (published.length > 0) {
        const { pubsubSummarySinks } = await import('../adapters/pubsub-sink.ts');
        const options = { ...(projectId ? { projectId } : {}), ...(env.PUBSUB_EMULATOR_HOST ? { emulatorHost: env.PUBSUB_EMULATOR_HOST } : {}) };
        sinks.push(...pubsubSummarySinks(options, published).sinks);
      }
      const slack = [...(config.SLACK_WEBHOOK_URL ? [{ name: 'slack', url: config.SLACK_WEBHOOK_URL }] : []), ...webhooks.filter((w) => w.kind === 'slack').map((w) => ({ name: routeSinkName(w.route, 'slack'), url: w.url }))];
      const chat = [...(config.CHAT_WEBHOOK_URL ? [{ name: 'chat', url: config.CHAT_WEBHOOK_URL }] : []), ...webhooks.filter((w) => w.kind === 'chat').map((w) => ({ name: routeSinkName(w.route, 'chat'), url: w.url }))];
      if (slack.length > 0 || chat.length > 0) {
        const { webhookSink } = await import('../adapters/webhook.ts');
        if (slack.length > 0) {
          const { formatSlack } = await import('../core/summary/slack/format.ts');
          // The ops channel mentions the owners too: they are told wherever the summary lands.
          for (const s of slack) sinks.push(webhookSink(s.name, s.url, (summary) => formatSlack(summary, { mentions })));
        }
        if (chat.length > 0) {
          const { formatChat } = await import('../core/summary/chat/format.ts');
          for (const c of chat) sinks.push(webhookSink(c.name, c.url, formatChat));
        }
      }
      return sinks;
    }),
  };
  if (config.FIRESTORE_DATABASE) {
    const database = config.FIRESTORE_DATABASE;
    const store = loadOnce(async () => {
      const { FirestoreLedger } = await import('../adapters/firestore-ledger.ts');
      return new FirestoreLedger({
        ...(projectId ? { projectId } : {}),
        databaseId: database,
        collection: config.LEDGER_COLLECTION,
        leaseSeconds: config.LEDGER_LEASE_SECONDS,
        ttlDays: LEDGER_TTL_DAYS,
        ...(env.FIRESTORE_EMULATOR_HOST ? { emulatorHost: env.FIRESTORE_EMULATOR_HOST } : {}),
      });
    });
    wiring.ledger = store;
    wiring.budget = store;
    wiring.incidents = store;
    wiring.approvals = store;
  }
  return wiring;
}
