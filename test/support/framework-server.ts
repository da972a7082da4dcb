// The package's other entry points (the Slack interactivity endpoint, the
// approval consumer) on the real functions-framework server, through the same
// helper as the responder's (test/support/function-server.ts), and their
// start-up alone for the cases where it must refuse to start.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFunctionServer, type FrameworkTarget, type FunctionServer } from './function-server.ts';

export type { FrameworkTarget };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const SLACK_ENDPOINT: FrameworkTarget = { target: 'sccResponderSlack', signatureType: 'http', source: 'src/functions/slack-endpoint.ts' };
export const APPROVAL_CONSUMER: FrameworkTarget = { target: 'sccResponderApproval', signatureType: 'cloudevent', source: 'src/functions/approval-consumer.ts' };

export function startFrameworkServer(what: FrameworkTarget, env: Record<string, string>): Promise<FunctionServer> {
  return startFunctionServer(env, what);
}

/** Runs an entry's start-up only (env parsing), for the cases where it must refuse to start; resolves with its exit code and output. */
export function startupFailure(what: FrameworkTarget, env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'), `--target=${what.target}`, `--signature-type=${what.signatureType}`, `--source=${join(ROOT, what.source)}`, '--port=0'],
      { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } },
    );
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      reject(new Error(`${what.target} did not exit within ${timeoutMs} ms: ${output.slice(-500)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
