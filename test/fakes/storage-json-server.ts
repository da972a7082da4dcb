// A loopback fake of the Cloud Storage JSON API, as much of it as object
// uploads need: multipart uploads (uploadType=multipart) with
// ifGenerationMatch preconditions (412 like the service), media and metadata
// reads, deletes. It answers md5Hash for what it stored, so the client's
// integrity check runs for real. Point the client at it with
// STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT or apiEndpoint.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoredObject {
  bucket: string;
  name: string;
  bytes: Buffer;
  contentType: string;
  generation: number;
  md5Hash: string;
}

export interface RecordedStorageRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface FakeStorage {
  port: number;
  endpoint: string;
  objects: Map<string, StoredObject>;
  requests: RecordedStorageRequest[];
  /** Fail the next `times` uploads with this HTTP status. */
  failUploads(status: number, times: number): void;
  close(): Promise<void>;
}

function errorBody(code: number, message: string, reason: string) {
  return JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } });
}

/** Splits a multipart/related body into its parts (headers + body bytes). */
function parseMultipart(body: Buffer, boundary: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) throw new Error('unterminated multipart body');
    const chunk = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const split = chunk.indexOf('\r\n\r\n');
    if (split === -1) throw new Error('multipart part without headers');
    const headers: Record<string, string> = {};
    for (const line of chunk.subarray(0, split).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: chunk.subarray(split + 4) });
    pos = next;
  }
  return parts;
}

export async function startFakeStorage(options: { buckets?: string[] } = {}): Promise<FakeStorage> {
  const objects = new Map<string, StoredObject>();
  const requests: RecordedStorageRequest[] = [];
  let failure: { status: number; times: number } | undefined;
  let generation = 1_700_000_000_000_000;

  const resource = (o: StoredObject) => ({
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    size: String(o.bytes.length),
    md5Hash: o.md5Hash,
    timeCreated: new Date().toISOString(),
    updated: new Date().toISOString(),
  });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const query = Object.fromEntries(url.searchParams);
      requests.push({ method: req.method ?? '', path: url.pathname, query });
      const send = (status: number, body: string | Buffer, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      };
      const knownBucket = (b: string) => options.buckets === undefined || options.buckets.includes(b);

      const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      if (upload && req.method === 'POST') {
        const bucket = decodeURIComponent(upload[1] ?? '');
        if (!knownBucket(bucket)) return send(404, errorBody(404, 'The specified bucket does not exist.', 'notFound'));
        if (failure && failure.times > 0) {
          failure.times--;
          return send(failure.status, errorBody(failure.status, 'fake failure', 'backendError'));
        }
        if (query.uploadType !== 'multipart') return send(400, errorBody(400, `uploadType ${query.uploadType} not faked`, 'invalid'));
        const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
        if (!boundary) return send(400, errorBody(400, 'multipart body without boundary', 'invalid'));
        let parts;
        try {
          parts = parseMultipart(Buffer.concat(chunks), boundary);
        } catch (e) {
          return send(400, errorBody(400, String(e), 'invalid'));
        }
        const [metaPart, mediaPart] = parts;
        if (!metaPart || !mediaPart) return send(400, errorBody(400, 'expected metadata and media parts', 'invalid'));
        const metadata = JSON.parse(metaPart.body.toString('utf8')) as { contentType?: string; name?: string };
        const name = query.name ?? metadata.name;
        if (!name) return send(400, errorBody(400, 'object name required', 'required'));
        const key = `${bucket}/${name}`;
        const existing = objects.get(key);
        if (query.ifGenerationMatch !== undefined) {
          const want = Number(query.ifGenerationMatch);
          const have = existing?.generation ?? 0;
          if (want !== have) return send(412, errorBody(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet'));
        }
        const bytes = mediaPart.body;
        const stored: StoredObject = {
          bucket,
          name,
          bytes,
          contentType: metadata.contentType ?? mediaPart.headers['content-type'] ?? 'application/octet-stream',
          generation: ++generation,
          md5Hash: createHash('md5').update(bytes).digest('base64'),
        };
        objects.set(key, stored);
        return send(200, JSON.stringify(resource(stored)));
      }

      const object = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
      if (object) {
        const key = `${decodeURIComponent(object[1] ?? '')}/${decodeURIComponent(object[2] ?? '')}`;
        const found = objects.get(key);
        if (req.method === 'DELETE') {
          if (!found) return send(404, errorBody(404, 'No such object', 'notFound'));
          objects.delete(key);
          res.writeHead(204).end();
          return;
        }
        if (req.method === 'GET') {
          if (!found) return send(404, errorBody(404, `No such object: ${key}`, 'notFound'));
          if (query.alt === 'media') {
            res.writeHead(200, { 'content-type': found.contentType, 'x-goog-hash': `md5=${found.md5Hash}`, 'x-goog-generation': String(found.generation) });
            res.end(found.bytes);
            return;
          }
          return send(200, JSON.stringify(resource(found)));
        }
      }
      send(404, errorBody(404, `not faked: ${req.method} ${url.pathname}`, 'notFound'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    objects,
    requests,
    failUploads(status, times) {
      failure = { status, times };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
