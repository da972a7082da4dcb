// A clock for the burst benchmark that runs at real speed but skips every
// sleep: the Logging limiter and quota backoff wait in virtual time, while the
// Firestore emulator, the fake Kubernetes API and the fake Logging server are
// real I/O. Sleepers wake in the order of their deadlines, one per tick, so
// requests that follow a wait are stamped no earlier than they would be with a
// real clock (two parallel waits of 1 s and 2 s end at +1 s and +2 s, not +3 s).
export class FastClock {
  #offsetMs = 0;
  readonly #sleepers: Array<{ at: number; resolve: () => void }> = [];
  #draining = false;

  readonly nowMs = (): number => Date.now() + this.#offsetMs;
  readonly now = (): Date => new Date(this.nowMs());

  /** Total virtual time skipped so far. */
  get skippedMs(): number {
    return this.#offsetMs;
  }

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.#sleepers.push({ at: this.nowMs() + Math.max(0, ms), resolve });
      this.#sleepers.sort((a, b) => a.at - b.at);
      if (!this.#draining) {
        this.#draining = true;
        setImmediate(() => this.#drain());
      }
    });

  #drain(): void {
    const next = this.#sleepers.shift();
    if (!next) {
      this.#draining = false;
      return;
    }
    const behind = next.at - this.nowMs();
    if (behind > 0) this.#offsetMs += behind;
    next.resolve();
    // One sleeper per tick: what it starts (a request) runs before the clock moves on.
    setImmediate(() => this.#drain());
  }
}
