/**
 * `firebreak start` as a real process, for the tests that kill things under it
 * (test/start-supervision.test.ts, test/replicas.test.ts): the CLI entry point with a given
 * environment, its output, its exit, its /healthz, and the processes left using a directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const BIN = path.resolve('bin/firebreak.mjs');

export interface StartedCli {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `firebreak start` with `env` over the test's own (no cluster, no kubeconfig unless given). */
export function startCli(env: Record<string, string>): StartedCli {
  let output = '';
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: '',
      KUBECONFIG: '',
      ...(process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE
        ? { FIREBREAK_WORKFLOW_BUNDLE: process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE }
        : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export type Health = Record<string, unknown> & {
  ok: boolean;
  temporal: { ok: boolean; state?: string; restarts?: number; lastExit?: string };
  worker: { state: string };
};

/** GET /healthz: its status and body, or status 0 when nothing answers within 3 s. */
export async function health(url: string): Promise<{ status: number; body?: Health }> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3_000) });
    return { status: response.status, body: (await response.json()) as Health };
  } catch {
    return { status: 0 };
  }
}

export async function waitForHealthy(url: string, started: StartedCli, timeoutMs = 90_000): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`firebreak start exited early:\n${started.output()}`);
    const answer = await health(url);
    if (answer.status === 200 && answer.body) return answer.body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not healthy within ${timeoutMs} ms:\n${started.output()}`);
}

/** `pid command` of every process whose command line names `dir`. */
export async function processesUsing(dir: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('pgrep', ['-af', dir]);
    return stdout.split('\n').filter((line) => line.trim() && !line.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** The pid of the embedded Temporal dev server a `firebreak start` on `dataDir` runs. */
export async function devServerPid(dataDir: string): Promise<number> {
  const line = (await processesUsing(dataDir)).find((l) => l.includes('start-dev'));
  if (!line) throw new Error(`no dev server runs on ${dataDir}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** Resolves with the exit code, or rejects after `ms`. */
export async function exitWithin(started: StartedCli, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${started.output()}`)), ms);
  });
  try {
    return await Promise.race([started.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
