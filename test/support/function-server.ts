// Runs the real functions-framework server (its own bin, on src/index.ts) as a
// child process in its own process group, with exactly the environment given,
// and collects its JSON log lines. The framework has no host option (it listens
// on all interfaces); tests only ever talk to it on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freePort } from './emulators.ts';
import { noteSummaryLine } from './summary-check.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FunctionServer {
  port: number;
  /** The push endpoint for a topic: the path carries projects/P/topics/T, so the framework converts a raw push into a CloudEvent. */
  pushUrl(project: string, topic: string): string;
  /** Every JSON line the function wrote to stdout, plus {stderr} chunks. */
  lines: Record<string, any>[];
  /** Resolves with the probe's value once it is not undefined; rejects with the log tail after timeoutMs. */
  until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs?: number): Promise<T>;
  stop(): void;
}

/** Which of the package's functions to serve, and from which entry file (relative to the repository root). */
export interface FrameworkTarget {
  /** The registered function name (--target). */
  target: string;
  signatureType: 'http' | 'cloudevent';
  source: string;
}

export const RESPONDER: FrameworkTarget = { target: 'sccResponder', signatureType: 'cloudevent', source: 'src/index.ts' };

export async function startFunctionServer(env: Record<string, string>, what: FrameworkTarget = RESPONDER): Promise<FunctionServer> {
  // A port free a moment ago can be taken before the framework binds it: try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(what, env, await freePort());
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String(error))) throw error;
    }
  }
}

async function startOnce(what: FrameworkTarget, env: Record<string, string>, port: number): Promise<FunctionServer> {
  const lines: Record<string, any>[] = [];
  const child: ChildProcess = spawn(
    process.execPath, // Node 22 (jest runs under it); the .ts entry loads through Node's type stripping
    [
      join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'),
      `--target=${what.target}`,
      `--signature-type=${what.signatureType}`,
      `--source=${join(ROOT, what.source)}`,
      `--port=${port}`,
    ],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
  );
  let serving = false;
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith('Serving function')) serving = true;
      try {
        lines.push(noteSummaryLine(JSON.parse(line), `${what.target} summary log line`));
      } catch {
        // the framework's banner
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => lines.push({ stderr: chunk.toString('utf8') }));

  const until = async <T>(label: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${label}; ${what.target} log tail:\n${lines.slice(-12).map((l) => JSON.stringify(l)).join('\n')}`);
  };
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  try {
    await until('the framework to serve', () => (serving ? true : child.exitCode !== null ? Promise.reject(new Error(JSON.stringify(lines))) : undefined), 60_000);
  } catch (error) {
    stop();
    throw error;
  }
  return { port, pushUrl: (project, topic) => `http://127.0.0.1:${port}/projects/${project}/topics/${topic}`, lines, until, stop };
}
