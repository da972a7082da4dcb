// Builds the ledger, budget and summary sinks from the parsed config, each
// loaded lazily (dynamic import) and once per instance, so the ignore path
// loads neither Firestore nor Pub/Sub. Used by the composition root.
import type { EnvConfig } from './config.ts';
import type { Budget, IncidentStore, Ledger, SummarySink } from './core/ports.ts';
import { loadOnce } from './load-once.ts';

/** Ledger and budget documents expire (Firestore TTL on expireAt) this long after their last write. */
export const LEDGER_TTL_DAYS = 30;

export interface ReportWiring {
  ledger?: () => Promise<Ledger>;
  budget?: () => Promise<Budget>;
  /** The ledger's read side and release record (CLI `incidents` and `release`). */
  incidents?: () => Promise<IncidentStore>;
  summarySinks: () => Promise<SummarySink[]>;
}

type Env = Record<string, string | undefined>;

export function reportWiring(config: EnvConfig, env: Env): ReportWiring {
  const projectId = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  const wiring: ReportWiring = {
    summarySinks: loadOnce(async () => {
      const sinks: SummarySink[] = [];
      if (config.OPS_TOPIC) {
        const { pubsubSummarySink } = await import('./adapters/pubsub-sink.ts');
        sinks.push(
          pubsubSummarySink({
            topic: config.OPS_TOPIC,
            ...(projectId ? { projectId } : {}),
            ...(env.PUBSUB_EMULATOR_HOST ? { emulatorHost: env.PUBSUB_EMULATOR_HOST } : {}),
          }),
        );
      }
      if (config.SLACK_WEBHOOK_URL || config.CHAT_WEBHOOK_URL) {
        const { webhookSink } = await import('./adapters/webhook.ts');
        if (config.SLACK_WEBHOOK_URL) {
          const { formatSlack } = await import('./core/slack-format.ts');
          sinks.push(webhookSink('slack', config.SLACK_WEBHOOK_URL, formatSlack));
        }
        if (config.CHAT_WEBHOOK_URL) {
          const { formatChat } = await import('./core/chat-format.ts');
          sinks.push(webhookSink('chat', config.CHAT_WEBHOOK_URL, formatChat));
        }
      }
      return sinks;
    }),
  };
  if (config.FIRESTORE_DATABASE) {
    const database = config.FIRESTORE_DATABASE;
    const store = loadOnce(async () => {
      const { FirestoreLedger } = await import('./adapters/firestore-ledger.ts');
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
  }
  return wiring;
}
