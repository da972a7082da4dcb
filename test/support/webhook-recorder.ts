// A loopback HTTP server that stands in for Slack / Google Chat incoming
// webhooks: it records every POST body per path and answers with scripted
// statuses (default 200), so tests can make a sink fail and recover.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedPost {
  path: string;
  body: string;
  json: unknown;
  status: number;
}

export interface WebhookRecorder {
  url(path: string): string;
  posts(path?: string): RecordedPost[];
  /** The next responses for `path`, in order; after them, 200. */
  script(path: string, statuses: number[]): void;
  close(): Promise<void>;
}

export async function startWebhookRecorder(): Promise<WebhookRecorder> {
  const posts: RecordedPost[] = [];
  const scripts = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const status = scripts.get(path)?.shift() ?? 200;
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as text
      }
      posts.push({ path, body, json, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'invalid_payload');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    posts: (path) => posts.filter((p) => (path === undefined || p.path === path) && p.status === 200),
    script: (path, statuses) => scripts.set(path, [...statuses]),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
