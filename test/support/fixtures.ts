// Loads the realistic SCC notifications in test/fixtures and wraps them the
// ways they arrive: a Pub/Sub message, a push body, a CloudEvent.
import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../fixtures/', import.meta.url);

export function loadFixture<T = Record<string, any>>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;
}

export const notificationV1 = (): Record<string, any> => loadFixture('notification-v1.json');
export const notificationV2 = (): Record<string, any> => loadFixture('notification-v2.json');

export function pubsubMessage(payload: unknown, attributes: Record<string, string> = {}) {
  return {
    data: Buffer.from(JSON.stringify(payload)).toString('base64'),
    attributes,
    messageId: '17368394120495518',
    publishTime: '2026-11-20T14:03:31.204Z',
  };
}

export function pushBody(payload: unknown, subscription = 'projects/example-sec-ops/subscriptions/scc-findings-push') {
  return { message: pubsubMessage(payload), subscription };
}

export function cloudEvent(payload: unknown) {
  return {
    specversion: '1.0',
    id: '17368394120495518',
    source: '//pubsub.googleapis.com/projects/example-sec-ops/topics/scc-findings',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    datacontenttype: 'application/json',
    time: '2026-11-20T14:03:31.204Z',
    data: pushBody(payload),
  };
}
