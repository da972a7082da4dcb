// The project's SECURITY contacts from the Essential Contacts API (v1,
// projects.contacts.compute: inherited folder and organization contacts included).
//
// REST through google-auth-library (already a dependency: the GKE access path uses it),
// not the npm client @google-cloud/essential-contacts: that package is old (google-gax 2,
// a second gax and gRPC stack in the bundle and in memory) for one GET. The auth client's
// request() signs the call with Application Default Credentials and nothing else is needed.
//
// Test/dev only: ESSENTIAL_CONTACTS_API_ENDPOINT=http://127.0.0.1:PORT points it at a
// loopback fake, with no credentials at all (plain gaxios, the library's own HTTP client).
import { createRequire } from 'node:module';
import type { GoogleAuth } from 'google-auth-library';
import { isProjectId } from '../core/finding/k8s-names.ts';

export interface SecurityContacts {
  /** As the API gave them (unvalidated: src/core/summary/owners.ts checks each address). */
  emails: string[];
  /** More contacts existed than the page cap allowed reading. */
  truncated: boolean;
}

export interface EssentialContactsReader {
  /** Rejects with a message fit for the summary's owner notes. */
  securityContacts(project: string, options?: { signal?: AbortSignal }): Promise<SecurityContacts>;
}

export interface EssentialContactsOptions {
  env?: NodeJS.ProcessEnv;
  /** The instance's ADC client, to share its token cache; default a new one (cloud-platform scope). */
  auth?: GoogleAuth;
  /** Epoch ms, for the cache. */
  now?: () => number;
}

interface Requester {
  request<T>(options: { url: string; method: 'GET'; responseType: 'json'; retry: false; signal?: AbortSignal }): Promise<{ data: T }>;
}

const DEFAULT_ENDPOINT = 'https://essentialcontacts.googleapis.com';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
// Owners are capped at 20 in the summary: three pages of 50 are plenty, and bound the time.
const PAGE_SIZE = 50;
const MAX_PAGES = 3;
/** Per contact, only the address is kept; more than this per page is not a real answer. */
const MAX_CONTACTS_PER_PAGE = 1000;
// Contacts change rarely; a burst of findings in one project asks once per instance, not per finding.
const CACHE_TTL_MS = 10 * 60_000;
const CACHE_MAX = 64;

/** `http://127.0.0.1:PORT`, `http://localhost:PORT`, `http://[::1]:PORT`, nothing else (a test/dev setting). */
export function loopbackEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('ESSENTIAL_CONTACTS_API_ENDPOINT must be a loopback http URL such as http://127.0.0.1:8089 (it is a test/dev setting)');
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'http:' || !loopback || url.username !== '' || url.password !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new Error('ESSENTIAL_CONTACTS_API_ENDPOINT must be a loopback http URL such as http://127.0.0.1:8089 (it is a test/dev setting)');
  }
  return url.origin;
}

/** "HTTP 403 PERMISSION_DENIED: Permission 'essentialcontacts.contacts.list' denied …", from Google's error body. */
function describeFailure(error: unknown): string {
  const e = error as { status?: unknown; code?: unknown; message?: unknown; response?: { data?: unknown } };
  if (e?.code === 'ABORT_ERR' || e?.code === 'AbortError' || (error as Error)?.name === 'AbortError') return 'out of time';
  const body = (e?.response?.data as { error?: { status?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof e?.status === 'number') {
    const status = typeof body?.status === 'string' ? ` ${body.status}` : '';
    const message = typeof body?.message === 'string' ? `: ${body.message}` : '';
    return `HTTP ${e.status}${status}${message}`;
  }
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e?.message === 'string' ? e.message : String(error)}`;
}

export function createEssentialContactsReader(options: EssentialContactsOptions = {}): EssentialContactsReader {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const override = env.ESSENTIAL_CONTACTS_API_ENDPOINT;
  const base = override ? loopbackEndpoint(override) : DEFAULT_ENDPOINT;
  let requester: Requester | undefined;
  interface CacheEntry {
    at: number;
    read: Promise<SecurityContacts>;
    controller: AbortController;
    /** Callers with a deadline still waiting; `unbounded`: one waits without a deadline. */
    waiting: number;
    unbounded: boolean;
    settled: boolean;
  }
  const cache = new Map<string, CacheEntry>();

  // require(), not import: see src/adapters/cloud-logging.ts. Loaded on the first call only.
  const client = (): Requester => {
    if (requester) return requester;
    const requireCjs = createRequire(import.meta.url);
    const library = requireCjs('google-auth-library') as typeof import('google-auth-library');
    requester = override
      ? (new library.gaxios.Gaxios() as unknown as Requester)
      : ((options.auth ?? new library.GoogleAuth({ scopes: [CLOUD_PLATFORM] })) as unknown as Requester);
    return requester;
  };

  /** A caller's wait on a shared read: its own abort ends its wait, and the read once nobody waits. */
  function waitFor(entry: CacheEntry, signal: AbortSignal | undefined): Promise<SecurityContacts> {
    if (entry.settled) return entry.read;
    if (signal === undefined) {
      entry.unbounded = true;
      return entry.read;
    }
    entry.waiting++;
    const leave = () => {
      entry.waiting--;
      if (entry.waiting === 0 && !entry.unbounded && !entry.settled) entry.controller.abort();
    };
    return new Promise<SecurityContacts>((resolve, reject) => {
      const onAbort = () => {
        leave();
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      entry.read.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          entry.waiting--;
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          entry.waiting--;
          reject(error);
        },
      );
    });
  }

  async function read(project: string, signal: AbortSignal | undefined): Promise<SecurityContacts> {
    const emails: string[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = new URL(`/v1/projects/${encodeURIComponent(project)}/contacts:compute`, base);
      url.searchParams.set('notificationCategories', 'SECURITY');
      url.searchParams.set('pageSize', String(PAGE_SIZE));
      if (pageToken !== undefined) url.searchParams.set('pageToken', pageToken);
      let data: unknown;
      try {
        ({ data } = await client().request<unknown>({ url: url.href, method: 'GET', responseType: 'json', retry: false, ...(signal ? { signal } : {}) }));
      } catch (error) {
        throw new Error(describeFailure(error).slice(0, 300), { cause: error });
      }
      const response = (typeof data === 'object' && data !== null ? data : {}) as { contacts?: unknown; nextPageToken?: unknown };
      const contacts = Array.isArray(response.contacts) ? response.contacts.slice(0, MAX_CONTACTS_PER_PAGE) : [];
      for (const contact of contacts) {
        const c = contact as { email?: unknown; validationState?: unknown } | null;
        // INVALID: an admin marked the address as not the right recipient any more.
        if (typeof c?.email === 'string' && c.validationState !== 'INVALID') emails.push(c.email);
      }
      const next = response.nextPageToken;
      if (typeof next !== 'string' || next === '') return { emails, truncated: false };
      pageToken = next.slice(0, 1024);
    }
    return { emails, truncated: true };
  }

  return {
    securityContacts(project, callOptions) {
      // The project comes from the finding: only a real project id becomes a path segment.
      if (!isProjectId(project)) return Promise.reject(new Error(`project ${JSON.stringify(project.slice(0, 80))} is not a valid project id: not looked up`));
      const at = now();
      let entry = cache.get(project);
      if (!entry || at - entry.at >= CACHE_TTL_MS) {
        // One read per project, shared by every finding that asks meanwhile. It is aborted only once
        // every caller waiting on it gave up: one finding's deadline must not cost the others their contacts.
        const controller = new AbortController();
        const pending = read(project, controller.signal);
        entry = { at, read: pending, controller, waiting: 0, unbounded: false, settled: false };
        const created = entry;
        cache.delete(project);
        cache.set(project, created);
        if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
        pending.then(
          () => void (created.settled = true),
          () => {
            created.settled = true;
            if (cache.get(project) === created) cache.delete(project);
          },
        );
      }
      return waitFor(entry, callOptions?.signal);
    },
  };
}
