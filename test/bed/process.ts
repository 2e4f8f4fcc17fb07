/** Lifecycle helpers shared by the bed's server processes and loopback stand-ins. */
import type { ChildProcess } from 'node:child_process';
import type { IncomingMessage, Server } from 'node:http';
import { asServiceUser } from './service-user';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `probe` says the server is ready: a URL is polled at `<url>/-/ready` (Prometheus and
 * Alertmanager's readiness endpoint) until it answers 2xx; a function until it resolves true.
 */
export async function waitForReady(
  name: string,
  probe: string | (() => Promise<boolean>),
  child: ChildProcess,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited early (${child.exitCode ?? child.signalCode})`);
    }
    try {
      if (typeof probe === 'function') {
        if (await probe()) return;
        last = 'not ready yet';
      } else {
        const res = await fetch(`${probe}/-/ready`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${name} not ready within ${timeoutMs} ms (${last})`);
}

/** SIGTERM (or `signal`), then SIGKILL if the process has not exited within `timeoutMs`. */
export async function stopChild(
  child: ChildProcess,
  timeoutMs = 10_000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Listens on a free loopback port and returns it. */
export async function listenOnLoopback(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the server has no address');
  return address.port;
}

/** Closes a server, cutting keep-alive connections so the close does not wait for clients. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Reads a request body, refusing more than `maxBytes`. */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface LaunchOptions {
  name: string;
  binary: string;
  args: string[];
  /** Ready when `<url>/-/ready` answers 2xx, or when this probe resolves true. */
  ready: string | (() => Promise<boolean>);
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  /** The signal that asks for a clean, quick shutdown (PostgreSQL's "fast" one is SIGINT). */
  stopSignal?: NodeJS.Signals;
  /** A server that refuses to run as root runs as this system user when the bed is root. */
  user?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also append everything the server prints to this file, for a failing test to point at. */
  logFile?: string;
  alsoStop?: () => Promise<void>;
}

export interface LaunchedServer {
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a server binary, waits until it is ready, and returns how to stop it. The process is
 * killed if the test process exits without stopping it; `alsoStop` runs after it on stop (its
 * helper servers). A failed start stops everything and reports the server's last output.
 */
export async function launchServer(options: LaunchOptions): Promise<LaunchedServer> {
  const { name } = options;
  const { spawn } = await import('node:child_process');
  const { createWriteStream } = await import('node:fs');
  const command = asServiceUser(options.user, options.binary, options.args);
  const child = spawn(command.binary, command.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  const logFile = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    logFile?.write(chunk);
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await stopChild(child, options.stopTimeoutMs, options.stopSignal);
    logFile?.end();
    await options.alsoStop?.();
  };
  try {
    await waitForReady(name, options.ready, child, options.readyTimeoutMs);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${name} output:\n${output.join('').slice(-4000)}`, { cause: err });
  }
  return { process: child, stop };
}
