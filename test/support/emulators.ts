// Starts the Pub/Sub and Firestore emulators from the installed gcloud SDK on
// free loopback ports. Usable from jest and from plain Node (the demo reuses it).
//
// Each emulator runs in its own process group and is stopped by killing the
// group: killing `gcloud` alone leaves the Java emulator orphaned and listening.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface RunningEmulator {
  kind: 'pubsub' | 'firestore';
  host: string;
  port: number;
  /** "127.0.0.1:PORT", the form PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST take. */
  hostPort: string;
  stop(): Promise<void>;
}

/** The emulator could not be started (gcloud, the component or Java missing, or it never became ready). */
export class EmulatorUnavailableError extends Error {
  override readonly name = 'EmulatorUnavailableError';
}

const HOST = '127.0.0.1';
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that dies must not leave Java emulators listening.
  process.once('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  });
}

async function httpOk(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${HOST}:${port}/`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

export interface RefusingPort {
  port: number;
  close(): Promise<void>;
}

/**
 * A port where connections are refused, and stay refused: the local port of an
 * open outgoing connection. Nothing listens there, and nothing can start to
 * while the connection lives (a port freed after listen(0) could be taken by
 * another test process in the meantime).
 */
export async function refusingPort(): Promise<RefusingPort> {
  const server = net.createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  const client = net.connect({ host: HOST, port: typeof address === 'object' && address ? address.port : 0 });
  await new Promise((resolve) => client.once('connect', resolve));
  return {
    port: client.localPort!,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The port was taken between freePort() and the emulator's bind (both emulators then print a BindException). */
class PortTakenError extends Error {}

async function startEmulator(
  kind: RunningEmulator['kind'],
  argsFor: (hostPort: string) => string[],
  timeoutMs: number,
): Promise<RunningEmulator> {
  // A free port is only free until someone binds it, and a JVM takes seconds to get there:
  // another test process may take it first. Then try another port, not the whole timeout.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startEmulatorOnce(kind, argsFor, timeoutMs);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === 3) throw error;
    }
  }
}

async function startEmulatorOnce(
  kind: RunningEmulator['kind'],
  argsFor: (hostPort: string) => string[],
  timeoutMs: number,
): Promise<RunningEmulator> {
  const port = await freePort();
  const hostPort = `${HOST}:${port}`;
  const output: string[] = [];
  let exited: string | null = null;
  let portTaken = false;
  const child = spawn('gcloud', argsFor(hostPort), {
    detached: true, // own process group, so the Java child can be killed with it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
  });
  installExitHook();
  running.add(child);
  const keep = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (text.includes('java.net.BindException')) portTaken = true;
    output.push(text);
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (error) => {
    exited = `could not run gcloud: ${error.message}`;
  });
  child.once('exit', (code, signal) => {
    exited ??= `gcloud exited (code ${code}, signal ${signal})`;
    running.delete(child);
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) killGroup(child, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await isListening(port))) await sleep(100);
    killGroup(child, 'SIGKILL');
    running.delete(child);
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Checked before readiness: whatever took the port may answer the probe too.
    if (portTaken) {
      // Not stop(): it waits for the port to close, and the port is not the emulator's.
      killGroup(child, 'SIGKILL');
      running.delete(child);
      throw new PortTakenError(`${kind} emulator: port ${port} was taken before it could bind`);
    }
    if (exited !== null) {
      throw new EmulatorUnavailableError(`${kind} emulator: ${exited}\n${output.join('').slice(-2000)}`);
    }
    if (await httpOk(port)) return { kind, host: HOST, port, hostPort, stop };
    await sleep(150);
  }
  await stop();
  throw new EmulatorUnavailableError(`${kind} emulator not ready after ${timeoutMs} ms\n${output.join('').slice(-2000)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function startPubsubEmulator(options: { project?: string; timeoutMs?: number } = {}): Promise<RunningEmulator> {
  const project = options.project ?? 'test-project';
  return startEmulator(
    'pubsub',
    (hostPort) => ['beta', 'emulators', 'pubsub', 'start', `--host-port=${hostPort}`, `--project=${project}`, '--quiet'],
    options.timeoutMs ?? 60_000,
  );
}

export function startFirestoreEmulator(options: { timeoutMs?: number } = {}): Promise<RunningEmulator> {
  return startEmulator(
    'firestore',
    (hostPort) => ['emulators', 'firestore', 'start', `--host-port=${hostPort}`, '--quiet'],
    options.timeoutMs ?? 60_000,
  );
}

/**
 * Starts an emulator for a test file. Under CI=true a missing emulator is a
 * failure (the error propagates); elsewhere it returns null after a loud
 * message so the file can skip.
 */
export async function emulatorOrSkip(start: () => Promise<RunningEmulator>, what: string): Promise<RunningEmulator | null> {
  try {
    return await start();
  } catch (error) {
    if (process.env.CI === 'true' || !(error instanceof EmulatorUnavailableError)) throw error;
    const line = '!'.repeat(78);
    process.stderr.write(
      `\n${line}\n!! SKIPPING ${what}: ${error.message.split('\n')[0]}\n!! (under CI=true this is a failure)\n${line}\n`,
    );
    return null;
  }
}
