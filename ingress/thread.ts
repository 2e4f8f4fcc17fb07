/**
 * The ingress in a thread of its own (node:worker_threads), as `firebreak start` runs it: the HTTP
 * app answers on its own event loop with its own Temporal client (pure JavaScript), while the
 * Temporal worker, its activities and the native core bridge keep the main thread. Measured
 * (docs/performance.md): sharing one event loop put the Slack acknowledgement's p99 at seconds
 * behind the worker's activations, the starts and the response_url reports of the commands before.
 *
 * One process still: a SIGKILL takes both threads; the pending-command journal
 * (ingress/slack/pending.ts) is written and synced on the ingress thread before each
 * acknowledgement, as before. The main thread answers the thread's two questions — GET /healthz's
 * report (the worker's state) and the /metrics exposition — and applies the ingress's metric
 * updates to its registry.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/env';
import type { HealthReport } from './app';
import type { IngressMetrics } from './metrics';

/** What the thread is started with (structured-cloned: plain data only). */
export interface IngressThreadData {
  /** The environment variables, as the main thread parsed them. */
  source: Record<string, string | undefined>;
  /** The Temporal frontend (the embedded dev server's, or TEMPORAL_ADDRESS). */
  address: string;
  host: string;
  port: number;
  /** package.json's version, for the traces. */
  version: string;
}

/** The environment as plain strings, for the thread's `source` (it parses the same variables). */
export function plainEnvironment(source: NodeJS.ProcessEnv): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) if (typeof value === 'string') plain[name] = value;
  return plain;
}

export type ToMain =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string; configError: boolean }
  | { type: 'call'; id: number; what: 'health' | 'metrics' }
  | { type: 'metric'; field: string; method: 'inc' | 'dec' | 'set' | 'observe'; args: unknown[] }
  | { type: 'stopped'; error?: string };

export type ToIngress = { type: 'reply'; id: number; value?: unknown; error?: string } | { type: 'stop' };

export interface IngressThread {
  /** The port the ingress listens on (FIREBREAK_PORT, or the one chosen for port 0). */
  port: number;
  /** Rejects when the thread ends without being asked to (an uncaught error in it). */
  failed: Promise<never>;
  /** Stops taking requests, lets started work finish (boundedly), then ends the thread. */
  stop(): Promise<void>;
}

/** How long the thread may take to stop (its Slack background work drains for at most 10 s). */
const STOP_TIMEOUT_MS = 20_000;

/**
 * The thread's entry: the compiled one beside the compiled CLI (scripts/build-cli.mjs), else the
 * TypeScript source through a bootstrap that registers tsx in the thread (a loader registered with
 * tsx's API in the main thread does not reach worker threads).
 */
function threadEntry(): { file: string; workerData?: Record<string, unknown> } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.cjs')) {
    const compiled = fileURLToPath(new URL('./ingress-thread.cjs', import.meta.url));
    if (existsSync(compiled)) return { file: compiled };
  }
  return {
    file: fileURLToPath(new URL('../ingress/thread-boot.mjs', import.meta.url)),
    workerData: { entry: new URL('../ingress/thread-main.ts', import.meta.url).href },
  };
}

export function startIngressThread(options: {
  data: IngressThreadData;
  health: () => Promise<HealthReport>;
  metrics: IngressMetrics;
  /** Logs what goes wrong between the threads (a metric update that cannot be applied). */
  warn: (message: string) => void;
}): Promise<IngressThread> {
  const entry = threadEntry();
  const thread = new Worker(entry.file, {
    workerData: { ...entry.workerData, ...options.data },
    // The thread's stdout/stderr are the process's: its logger writes to fd 2 itself.
    stdout: false,
    stderr: false,
  });
  let stopRequested = false;
  let stopped: (() => void) | undefined;
  let rejectFailed!: (err: Error) => void;
  const failed = new Promise<never>((_resolve, reject) => (rejectFailed = reject));
  failed.catch(() => undefined);
  const metrics = options.metrics as unknown as Record<string, Record<string, (...args: unknown[]) => void>>;

  return new Promise<IngressThread>((resolve, reject) => {
    let listening = false;
    const reply = (message: ToIngress) => thread.postMessage(message);
    thread.on('message', (message: ToMain) => {
      switch (message.type) {
        case 'listening':
          listening = true;
          resolve({ port: message.port, failed, stop });
          return;
        case 'failed': {
          const err = message.configError ? new ConfigError(message.message) : new Error(message.message);
          void thread.terminate();
          if (listening) rejectFailed(err);
          else reject(err);
          return;
        }
        case 'call': {
          const answer = message.what === 'health' ? options.health() : options.metrics.render();
          answer.then(
            (value) => reply({ type: 'reply', id: message.id, value }),
            (err: unknown) => reply({ type: 'reply', id: message.id, error: (err as Error)?.message ?? String(err) }),
          );
          return;
        }
        case 'metric':
          try {
            metrics[message.field]![message.method]!(...message.args);
          } catch (err) {
            options.warn(`the ingress's metric ${message.field}.${message.method} failed: ${(err as Error).message}`);
          }
          return;
        case 'stopped':
          if (message.error) options.warn(`the ingress stopped with an error: ${message.error}`);
          stopped?.();
          return;
      }
    });
    thread.on('error', (err) => {
      if (listening) rejectFailed(err);
      else reject(err);
    });
    thread.on('exit', (code) => {
      stopped?.();
      const err = new Error(`the ingress thread ended (exit code ${code})`);
      if (!listening) reject(err);
      else if (!stopRequested) rejectFailed(err);
    });
  });

  async function stop(): Promise<void> {
    if (stopRequested) return;
    stopRequested = true;
    const done = new Promise<void>((resolve) => (stopped = resolve));
    thread.postMessage({ type: 'stop' } satisfies ToIngress);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)))]);
    clearTimeout(timer);
    await thread.terminate();
  }
}
