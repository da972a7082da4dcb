// Terminal output for the demo: colour only on a TTY (and never with NO_COLOR),
// one line per step with its time, and every value that came from a finding or
// a log made inert before it reaches the terminal (a hostile finding could
// otherwise carry escape sequences that rewrite the screen).

export interface Out {
  color: boolean;
  tty: boolean;
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  line(s?: string): void;
  err(s: string): void;
  /** Runs one set-up step and reports it: "✔ <done text> (1.2 s)" or "✖ <label>: <error>". */
  step<T>(label: string, run: () => Promise<T>, done?: (value: T) => string): Promise<T>;
}

/** C0/C1 controls, DEL, bidi overrides and zero-width characters → visible, harmless text. */
export function inert(value: unknown, max = 400): string {
  const text = String(value ?? '')
    .replace(/\r?\n/g, '\\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]/g, '?');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function shorten(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

export function createOut(options: { stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream; env?: NodeJS.ProcessEnv; streaming?: boolean } = {}): Out {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const tty = stdout.isTTY === true;
  const color = tty && !('NO_COLOR' in env && env.NO_COLOR !== '') && env.TERM !== 'dumb';
  const paint = (code: number, reset: number) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[${reset}m` : s);
  const green = paint(32, 39);
  const red = paint(31, 39);
  const out: Out = {
    color,
    tty,
    bold: paint(1, 22),
    dim: paint(2, 22),
    green,
    yellow: paint(33, 39),
    red,
    cyan: paint(36, 39),
    line: (s = '') => void stdout.write(`${s}\n`),
    err: (s) => void stderr.write(`${s}\n`),
    async step(label, run, done) {
      const start = Date.now();
      // On a terminal the pending step shows at once and is replaced when it ends;
      // elsewhere (a pipe, a CI log) only the result is written.
      const live = tty && options.streaming !== true;
      if (live) stdout.write(`  ${out.dim('…')} ${label}`);
      else if (options.streaming) stdout.write(`  … ${label}\n`);
      try {
        const value = await run();
        const text = done ? done(value) : label;
        if (live) stdout.write('\r\x1b[2K');
        stdout.write(`  ${green('✔')} ${text} ${out.dim(`(${seconds(Date.now() - start)})`)}\n`);
        return value;
      } catch (error) {
        if (live) stdout.write('\r\x1b[2K');
        stdout.write(`  ${red('✖')} ${label}\n`);
        throw error;
      }
    },
  };
  return out;
}
