// Test setup against the Pub/Sub emulator through its REST surface: create
// topics and subscriptions, publish, pull and ack. (The code under test uses
// the real @google-cloud/pubsub client; this is only the test's own plumbing.)
export interface PulledMessage {
  ackId: string;
  data: string;
  attributes: Record<string, string>;
  messageId: string;
}

export function pubsubRest(hostPort: string, project: string) {
  const base = `http://${hostPort}/v1/projects/${project}`;
  async function call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<any> {
    const res = await fetch(`${base}/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`pubsub emulator ${method} ${path}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }
  return {
    topicName: (id: string) => `projects/${project}/topics/${id}`,
    createTopic: (id: string) => call('PUT', `topics/${id}`, {}),
    createPullSubscription: (id: string, topic: string) =>
      call('PUT', `subscriptions/${id}`, { topic: `projects/${project}/topics/${topic}`, ackDeadlineSeconds: 30 }),
    deleteSubscription: (id: string) => call('DELETE', `subscriptions/${id}`),
    createPushSubscription: (id: string, topic: string, endpoint: string) =>
      call('PUT', `subscriptions/${id}`, { topic: `projects/${project}/topics/${topic}`, ackDeadlineSeconds: 30, pushConfig: { pushEndpoint: endpoint } }),
    async publish(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
      const r = await call('POST', `topics/${topic}:publish`, {
        messages: [{ data: Buffer.from(JSON.stringify(data)).toString('base64'), attributes }],
      });
      return r.messageIds[0];
    },
    /**
     * Pulls what is there now, acks it, and returns it decoded. With `waitMs`, the
     * pull waits for a message instead (it returns as soon as one is there), and
     * gives up empty-handed after `waitMs`.
     */
    async pullAll(subscription: string, options: { waitMs?: number } = {}): Promise<PulledMessage[]> {
      const request = { maxMessages: 100, returnImmediately: options.waitMs === undefined };
      let r;
      try {
        r = await call('POST', `subscriptions/${subscription}:pull`, request, options.waitMs === undefined ? undefined : AbortSignal.timeout(options.waitMs));
      } catch (error) {
        if ((error as { name?: string }).name === 'TimeoutError') return [];
        throw error;
      }
      const received: PulledMessage[] = (r.receivedMessages ?? []).map((m: any) => ({
        ackId: m.ackId,
        data: Buffer.from(m.message.data ?? '', 'base64').toString('utf8'),
        attributes: m.message.attributes ?? {},
        messageId: m.message.messageId,
      }));
      if (received.length) await call('POST', `subscriptions/${subscription}:acknowledge`, { ackIds: received.map((m) => m.ackId) });
      return received;
    },
  };
}
