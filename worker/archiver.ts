/**
 * Writes the postmortem (Markdown and JSON) of every closed incident to FIREBREAK_ARCHIVE_DIR, so
 * it outlives the namespace's retention. Idempotent and restart-safe: a file that exists is never
 * rewritten, and the close-time watermark it keeps beside the files only saves re-listing — losing
 * it costs one longer scan, never a missing postmortem.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { runbookKey } from '../common/search-attributes';
import { exportPostmortem } from '../postmortem';
import { writeFileAtomically } from './files';

export interface ArchiverOptions {
  client: Client;
  archiveDir: string;
  /** Only incidents of this task queue: engines sharing a namespace each archive their own. */
  taskQueue?: string;
  /** Between scans; default one minute. */
  intervalMs?: number;
  /** Postmortems written per scan at most, so a backlog never starves the worker. */
  maxPerTick?: number;
  log: (line: string) => void;
}

export interface Archiver {
  /** One scan now; resolves with the files written. Exposed for tests and `stop()`. */
  tick(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Visibility is eventually consistent: re-list this far behind the watermark. */
const VISIBILITY_LAG_MS = 5 * 60_000;
/** Executions looked at per scan, archived or not: bounds the work of a scan over a long history. */
const MAX_LISTED_PER_TICK = 2_000;
const STATE_FILE = '.archive-state.json';

export function startArchiver(options: ArchiverOptions): Archiver {
  const { client, archiveDir, log } = options;
  const intervalMs = options.intervalMs ?? 60_000;
  const maxPerTick = options.maxPerTick ?? 25;
  let running: Promise<string[]> | undefined;
  let stopped = false;

  const scan = async (): Promise<string[]> => {
    await mkdir(archiveDir, { recursive: true });
    const watermark = await readWatermark(archiveDir);
    const since = watermark ? new Date(watermark - VISIBILITY_LAG_MS).toISOString() : undefined;
    const query =
      `${runbookKey.name} IS NOT NULL AND ExecutionStatus != 'Running'` +
      (options.taskQueue ? ` AND TaskQueue = '${options.taskQueue.replace(/'/g, "\\'")}'` : '') +
      (since ? ` AND CloseTime > '${since}'` : '');
    const written: string[] = [];
    let newest = watermark ?? 0;
    let listed = 0;
    let complete = true;
    for await (const execution of client.workflow.list({ query })) {
      if (stopped) return written;
      if (++listed > MAX_LISTED_PER_TICK || written.length >= maxPerTick * 2) {
        complete = false;
        break;
      }
      const base = path.join(archiveDir, `${safeName(execution.workflowId)}-${execution.runId}`);
      if ((await exists(`${base}.md`)) && (await exists(`${base}.json`))) {
        newest = Math.max(newest, execution.closeTime?.getTime() ?? 0);
        continue;
      }
      try {
        const exported = await exportPostmortem(client, { workflowId: execution.workflowId, runId: execution.runId });
        await writeFileAtomically(`${base}.json`, exported.json);
        await writeFileAtomically(`${base}.md`, exported.markdown);
        written.push(`${base}.md`, `${base}.json`);
        newest = Math.max(newest, execution.closeTime?.getTime() ?? 0);
        log(`Archived the postmortem of ${execution.workflowId} (${execution.runId}) to ${base}.md`);
      } catch (err) {
        // Leave the watermark where it is: the next scan retries this one.
        complete = false;
        log(`Archiving ${execution.workflowId} failed: ${(err as Error).message}`);
      }
    }
    if (complete && newest > (watermark ?? 0)) await writeWatermark(archiveDir, newest);
    return written;
  };

  const tick = (): Promise<string[]> => {
    running ??= scan().finally(() => (running = undefined));
    return running;
  };

  const timer = setInterval(() => {
    tick().catch((err: unknown) => log(`Postmortem archive scan failed: ${(err as Error).message}`));
  }, intervalMs);
  timer.unref();
  // First scan soon after start-up, not a whole interval later.
  const first = setTimeout(
    () => void tick().catch((err: unknown) => log(`Postmortem archive scan failed: ${(err as Error).message}`)),
    1_000,
  );
  first.unref();

  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(first);
      await running?.catch(() => undefined);
    },
  };
}

/** Workflow ids contain `:` and `/`; file names keep only what every file system accepts. */
export function safeName(workflowId: string): string {
  return workflowId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 180);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function readWatermark(dir: string): Promise<number | undefined> {
  try {
    const state = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as { closedBefore?: string };
    const ms = state.closedBefore ? Date.parse(state.closedBefore) : NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

async function writeWatermark(dir: string, ms: number): Promise<void> {
  await writeFileAtomically(
    path.join(dir, STATE_FILE),
    `${JSON.stringify({ closedBefore: new Date(ms).toISOString() })}\n`,
  );
}
