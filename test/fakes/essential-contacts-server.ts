// A strict loopback fake of the Essential Contacts API v1, ComputeContacts only
// (GET /v1/{projects|folders|organizations/*}/contacts:compute), answering as Google's
// REST front end does for what scc-responder sends, and refusing what it refuses:
//   - notificationCategories must name NotificationCategory values (an unknown one is a
//     400 INVALID_ARGUMENT, as the JSON transcoding answers); our client always sends it,
//     so a request without it is refused too;
//   - pagination: pageSize (default 100), nextPageToken, and a pageToken that does not
//     belong to the same parent and categories is a 400;
//   - an unknown project is a 404 NOT_FOUND; a project the caller may not read is the
//     403 PERMISSION_DENIED body IAM gives, with its ErrorInfo detail;
//   - injected faults (any status, or a hang that answers only when released).
// Every request is recorded (path, query, Authorization header) so tests can assert what
// was sent, and that nothing was. Usable outside jest.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeContact {
  email: string;
  /** Default ["SECURITY"]. */
  notificationCategorySubscriptions?: string[];
  /** Default VALID. */
  validationState?: 'VALID' | 'INVALID' | 'VALIDATION_STATE_UNSPECIFIED';
  /** Where it is set; default the project itself (an inherited one names its folder or organization). */
  parent?: string;
}

export interface ContactsFault {
  /** Matched against the project id; absent: every project. */
  project?: string;
  /** An error status to answer (500, 503, 429, 403…). */
  status?: number;
  message?: string;
  /** Never answer until release() (or the client gives up and closes the connection). */
  hang?: boolean;
  /** How many requests it hits (default 1; Infinity for a lasting fault). */
  times?: number;
}

export interface ContactsRequest {
  method: string;
  path: string;
  query: Record<string, string[]>;
  authorization: string | null;
  status: number;
}

export interface FakeEssentialContacts {
  url: string;
  /** Project id → the contacts ComputeContacts sees for it (inherited ones included). */
  projects: Map<string, FakeContact[]>;
  /** Projects the caller has no essentialcontacts.contacts.list on. */
  denied: Set<string>;
  faults: ContactsFault[];
  requests: ContactsRequest[];
  /** Resolves once `count` requests have arrived (a condition to wait for, not a sleep). */
  arrived(count: number): Promise<void>;
  /** Lets every hung request go (answered 503, as a front end that gave up would). */
  release(): void;
  /** Resolves once `count` hung requests were closed by the client before any answer (it gave up: cancelled). */
  abandoned(count: number): Promise<void>;
  close(): Promise<void>;
}

const CATEGORIES = new Set([
  'NOTIFICATION_CATEGORY_UNSPECIFIED',
  'ALL',
  'SUSPENSION',
  'SECURITY',
  'TECHNICAL',
  'BILLING',
  'LEGAL',
  'PRODUCT_UPDATES',
  'TECHNICAL_INCIDENTS',
]);

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

class ApiError extends Error {
  readonly code: number;
  readonly details: unknown[];
  constructor(code: number, message: string, details: unknown[] = []) {
    super(message);
    this.code = code;
    this.details = details;
  }
  body() {
    return { error: { code: this.code, message: this.message, status: STATUS_NAMES[this.code] ?? 'UNKNOWN', ...(this.details.length ? { details: this.details } : {}) } };
  }
}

function permissionDenied(project: string): ApiError {
  return new ApiError(403, `Permission 'essentialcontacts.contacts.list' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`, [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'IAM_PERMISSION_DENIED',
      domain: 'iam.googleapis.com',
      metadata: { permission: 'essentialcontacts.contacts.list', resource: `projects/${project}` },
    },
  ]);
}

function pageToken(parent: string, categories: string[], offset: number): string {
  return Buffer.from(JSON.stringify({ parent, categories, offset })).toString('base64url');
}

export async function startFakeEssentialContacts(projects: Record<string, FakeContact[]> = {}): Promise<FakeEssentialContacts> {
  const state = {
    projects: new Map(Object.entries(projects)),
    denied: new Set<string>(),
    faults: [] as ContactsFault[],
    requests: [] as ContactsRequest[],
  };
  const waiters: { count: number; resolve: () => void }[] = [];
  const hung = new Set<() => void>();
  let abandonedCount = 0;
  const abandonWaiters: { count: number; resolve: () => void }[] = [];

  function takeFault(project: string): ContactsFault | undefined {
    const idx = state.faults.findIndex((f) => f.project === undefined || f.project === project);
    if (idx < 0) return undefined;
    const fault = state.faults[idx]!;
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) state.faults.splice(idx, 1);
    else fault.times = left;
    return fault;
  }

  function compute(parent: string, url: URL) {
    const categories = url.searchParams.getAll('notificationCategories');
    if (categories.length === 0) throw new ApiError(400, 'notification_categories: at least one notification category is required by this fake (the responder always sends SECURITY)');
    categories.forEach((c, i) => {
      if (!CATEGORIES.has(c)) {
        throw new ApiError(400, `Invalid value at 'notification_categories[${i}]' (type.googleapis.com/google.cloud.essentialcontacts.v1.NotificationCategory), "${c}"`);
      }
    });
    if (!parent.startsWith('projects/')) throw new ApiError(404, `Resource '${parent}' not found in this fake (only projects are served).`);
    const project = parent.slice('projects/'.length);
    const fault = takeFault(project);
    if (fault?.hang) return 'hang' as const;
    if (fault?.status !== undefined) throw new ApiError(fault.status, fault.message ?? `injected fault ${fault.status}`);
    if (state.denied.has(project)) throw permissionDenied(project);
    const contacts = state.projects.get(project);
    if (!contacts) throw new ApiError(404, `Project '${project}' not found.`);
    const sizeParam = url.searchParams.get('pageSize');
    const size = sizeParam !== null && Number(sizeParam) > 0 ? Math.min(Number(sizeParam), 1000) : 100;
    let offset = 0;
    const token = url.searchParams.get('pageToken');
    if (token !== null && token !== '') {
      let decoded: { parent?: unknown; categories?: unknown; offset?: unknown } = {};
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        // an invalid token is refused below
      }
      if (decoded.parent !== parent || JSON.stringify(decoded.categories) !== JSON.stringify(categories) || typeof decoded.offset !== 'number') {
        throw new ApiError(400, 'Invalid page token.');
      }
      offset = decoded.offset;
    }
    const matching = contacts
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => (c.notificationCategorySubscriptions ?? ['SECURITY']).some((s) => s === 'ALL' || categories.includes(s) || categories.includes('ALL')));
    const page = matching.slice(offset, offset + size).map(({ c, i }) => ({
      name: `${c.parent ?? parent}/contacts/${1000 + i}`,
      email: c.email,
      notificationCategorySubscriptions: c.notificationCategorySubscriptions ?? ['SECURITY'],
      languageTag: 'en',
      validationState: c.validationState ?? 'VALID',
      validateTime: '2026-06-01T09:00:00Z',
    }));
    const next = offset + size < matching.length ? pageToken(parent, categories, offset + size) : undefined;
    return { ...(page.length ? { contacts: page } : {}), ...(next ? { nextPageToken: next } : {}) };
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query: Record<string, string[]> = {};
    for (const k of new Set(url.searchParams.keys())) query[k] = url.searchParams.getAll(k);
    const record: ContactsRequest = { method: req.method ?? 'GET', path: url.pathname, query, authorization: req.headers.authorization ?? null, status: 0 };
    state.requests.push(record);
    for (const w of [...waiters]) {
      if (state.requests.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    const send = (code: number, body: unknown) => {
      record.status = code;
      res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(body));
    };
    try {
      const m = /^\/v1\/((?:projects|folders|organizations)\/[^/]+)\/contacts:compute$/.exec(url.pathname);
      if (!m || record.method !== 'GET') throw new ApiError(404, `The requested URL ${url.pathname} was not found on this server.`);
      const result = compute(decodeURIComponent(m[1]!), url);
      if (result === 'hang') {
        const answer = () => send(503, new ApiError(503, 'The service is currently unavailable.').body());
        hung.add(answer);
        res.on('close', () => {
          if (!hung.delete(answer)) return;
          abandonedCount += 1;
          for (const w of [...abandonWaiters]) {
            if (abandonedCount >= w.count) {
              abandonWaiters.splice(abandonWaiters.indexOf(w), 1);
              w.resolve();
            }
          }
        });
        return;
      }
      send(200, result);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      send(error.code, error.body());
    }
  }

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ...state,
    arrived: (count) =>
      state.requests.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    release: () => {
      const answers = [...hung];
      hung.clear();
      for (const answer of answers) answer();
    },
    abandoned: (count) =>
      abandonedCount >= count ? Promise.resolve() : new Promise<void>((resolve) => abandonWaiters.push({ count, resolve })),
    close: async () => {
      const answers = [...hung];
      hung.clear();
      for (const answer of answers) answer();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
