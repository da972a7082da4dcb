// The Pub/Sub client, for the summary sinks (pubsub-sink.ts) and the Slack
// endpoint's approval publisher (approval-publisher.ts): production, or the
// emulator without credentials. Nothing else, so the public endpoint loads no
// other adapter through it.
import { createRequire } from 'node:module';
import type { ClientConfig, PubSub as PubSubClient } from '@google-cloud/pubsub';

// require(), not import: see src/adapters/cloud-logging.ts.
const { PubSub } = createRequire(import.meta.url)('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');

export interface PubsubClientOptions {
  projectId?: string;
  /** "host:port" of the Pub/Sub emulator; PUBSUB_EMULATOR_HOST also works (the library reads it). */
  emulatorHost?: string;
}

// gRPC codes that waiting cannot fix: INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED,
// FAILED_PRECONDITION, UNIMPLEMENTED, UNAUTHENTICATED.
export const PERMANENT_CODES: ReadonlySet<number> = new Set([3, 5, 7, 9, 12, 16]);

/** A Pub/Sub client for production, or for the emulator (PUBSUB_EMULATOR_HOST) without credentials. */
export function pubsubClient(options: PubsubClientOptions): PubSubClient {
  const config: ClientConfig = {};
  if (options.projectId) config.projectId = options.projectId;
  if (options.emulatorHost) {
    config.apiEndpoint = options.emulatorHost;
    config.emulatorMode = true;
    // Without a universe domain the client probes the metadata server; with one it needs emulatorMode.
    config.universeDomain = 'googleapis.com';
  }
  return new PubSub(config);
}
