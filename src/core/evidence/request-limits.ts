// Keeps one instance under Cloud Logging's read quota (entries.list: 60
// requests per minute per project, RESOURCE_EXHAUSTED is not retried by the
// client) and lets identical queries share one request. Pure: time comes in
// as a clock, waiting is the caller's job.

export interface RateLimiterOptions {
  /** Most requests in any `windowMs` span, per key. */
  limit: number;
  windowMs: number;
  /** Requests allowed back to back; the rest of the limit refills evenly over the window. */
  burst: number;
  now: () => number;
}

/**
 * A token bucket per key (project). A plain bucket of size `limit` refilled at
 * limit/window lets a burst of `limit` plus a window's worth of refill through
 * in one sliding window (up to 2×). Here capacity = burst and the refill rate is
 * (limit − burst)/window, so any window of length `windowMs` sees at most
 * burst + (limit − burst) = limit requests.
 *
 * `reserve` books a future slot (the bucket may go negative): callers waiting
 * in line are served in order, and a caller whose slot is further away than it
 * can wait books nothing.
 */
export class RateLimiter {
  readonly #opts: RateLimiterOptions;
  readonly #ratePerMs: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: RateLimiterOptions) {
    if (!(opts.limit >= 1) || !(opts.windowMs > 0) || !(opts.burst >= 1) || opts.burst > opts.limit) {
      throw new RangeError('rate limiter needs limit ≥ burst ≥ 1 and a positive window');
    }
    this.#opts = opts;
    // With burst == limit there is no refill budget left; refill one token per window/limit instead
    // and accept that case's looser bound (the constructor's callers never ask for it).
    const refill = opts.limit - opts.burst > 0 ? opts.limit - opts.burst : opts.limit;
    this.#ratePerMs = refill / opts.windowMs;
  }

  /** Milliseconds to wait before the request may go, or null if that is more than `maxWaitMs` (nothing booked). */
  reserve(key: string, maxWaitMs: number): number | null {
    const now = this.#opts.now();
    const b = this.#buckets.get(key) ?? { tokens: this.#opts.burst, at: now };
    const tokens = Math.min(this.#opts.burst, b.tokens + (now - b.at) * this.#ratePerMs);
    const wait = tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.#ratePerMs);
    if (wait > maxWaitMs) {
      this.#buckets.set(key, { tokens, at: now });
      return null;
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    return wait;
  }
}

/** Cloud Logging's documented read quota, with a burst small enough to leave the rest evenly spread. */
export function loggingReadLimiter(now: () => number): RateLimiter {
  return new RateLimiter({ limit: 60, windowMs: 60_000, burst: 10, now });
}

/**
 * Shares the promise of a running or recently finished request by key, for
 * `ttlMs`. Bounded: the oldest entries go first.
 */
export class Coalescer<T, M = undefined> {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { at: number; value: Promise<T>; meta: M | undefined }>();

  constructor(opts: { ttlMs: number; maxEntries?: number; now: () => number }) {
    this.#ttlMs = opts.ttlMs;
    this.#max = opts.maxEntries ?? 500;
    this.#now = opts.now;
  }

  /**
   * Runs `run` unless a live entry exists for `key`. `keepResult` decides
   * whether a settled result is worth sharing (an incomplete one is not: the
   * next caller should try again once the running request is over).
   * `share`, when given, stores `meta` with a new entry and shares a live one
   * only if `accept(its meta)` (e.g. its time window overlaps the caller's).
   */
  run(
    key: string,
    run: () => Promise<T>,
    keepResult: (value: T) => boolean,
    share?: { meta: M; accept: (existing: M | undefined) => boolean },
  ): { value: Promise<T>; shared: boolean; meta: M | undefined } {
    const now = this.#now();
    for (const [k, e] of this.#entries) {
      if (now - e.at > this.#ttlMs) this.#entries.delete(k);
      else break;
    }
    const live = this.#entries.get(key);
    if (live && now - live.at <= this.#ttlMs && (!share || share.accept(live.meta))) {
      return { value: live.value, shared: true, meta: live.meta };
    }
    const value = run();
    const entry = { at: now, value, meta: share?.meta };
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    value.then(
      (v) => {
        if (!keepResult(v) && this.#entries.get(key) === entry) this.#entries.delete(key);
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    return { value, shared: false, meta: share?.meta };
  }
}

/** Wait before retry `attempt` (0-based) after RESOURCE_EXHAUSTED: 1 s, 2 s, 4 s, … capped at 16 s. */
export function quotaBackoffMs(attempt: number): number {
  return Math.min(16_000, 1000 * 2 ** Math.max(0, attempt));
}
