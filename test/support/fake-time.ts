// A manual clock for code that takes `now` and `sleep` as parameters: sleeps
// wait until the test advances time, so timing can be checked without waiting.
export class FakeTime {
  #t: number;
  #timers: Array<{ at: number; resolve: () => void }> = [];

  constructor(start: Date | number) {
    this.#t = typeof start === 'number' ? start : start.getTime();
  }

  readonly nowMs = (): number => this.#t;
  readonly now = (): Date => new Date(this.#t);
  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.#timers.push({ at: this.#t + Math.max(0, ms), resolve });
      this.#timers.sort((a, b) => a.at - b.at);
    });

  /** Lets pending I/O callbacks and promise chains run. */
  static async settle(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Runs `work` to completion, jumping the clock to the next sleeper whenever
   * nothing else can make progress. Only for work whose other waits are
   * in-memory (setImmediate-settled), not real network I/O.
   */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const guarded = work.finally(() => {
      done = true;
    });
    for (let i = 0; i < 1_000_000 && !done; i++) {
      await FakeTime.settle();
      if (done) break;
      const next = this.#timers.shift();
      if (!next) continue;
      this.#t = Math.max(this.#t, next.at);
      next.resolve();
    }
    return guarded;
  }
}
