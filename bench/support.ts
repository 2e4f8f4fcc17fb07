/** Small helpers the benchmarks share. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type proto from '@temporalio/proto';

/** Writes a benchmark's figures, stamped with the time, to bench/results/<name>.json; returns the path. */
export async function writeBenchResult(name: string, figures: Record<string, unknown>): Promise<string> {
  const out = fileURLToPath(new URL(`./results/${name}.json`, import.meta.url));
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2)}\n`);
  return out;
}

/** `--name N` as a positive integer, or the fallback when absent. */
export function positiveIntArg(argv: string[], name: string, fallback: number): number {
  const index = argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(argv[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/** Nearest-rank percentile of values sorted ascending; NaN when there are none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * The pid of the Temporal server at `address`: the bed's (FIREBREAK_TEST_TEMPORAL_PID, the dev
 * server or the cluster on PostgreSQL), else a dev server listening there (its `--port`), found in
 * /proc; undefined when it is not a local process (another machine, or not Linux).
 */
export async function temporalServerPid(address: string): Promise<number | undefined> {
  const bedPid = process.env.FIREBREAK_TEST_TEMPORAL_PID;
  if (bedPid && address === process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS) return Number(bedPid);
  const { readdir, readFile } = await import('node:fs/promises');
  const port = address.split(':').at(-1);
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const at = argv.indexOf('--port');
    if (argv.includes('start-dev') && at >= 0 && argv[at + 1] === port) return Number(entry);
  }
  return undefined;
}

/** CPU time (user + system) a process (or, by its stat file, one thread) has used so far, in ms; NaN when it cannot be read. */
export async function processCpuMs(pid: number | undefined, statPath = `/proc/${pid}/stat`): Promise<number> {
  if (pid === undefined) return NaN;
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(statPath, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at once; returns each call's latency in ms, sorted. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await work(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

/** The marker sdk-core records for a local activity (a MarkerRecorded event, no ActivityTaskScheduled). */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** A local activity's marker data (sdk-core LocalActivityMarkerData, JSON in the marker's `data` detail). */
export interface LocalActivityMark {
  activity_type?: string;
  /** The workflow's time when the local activity was scheduled (its task's start) + the run's length. */
  complete_time?: { seconds?: unknown; nanos?: unknown } | null;
  /** When the worker scheduled it (its wall clock). */
  original_schedule_time?: { seconds?: unknown; nanos?: unknown } | null;
}

/** The local activity a MarkerRecorded event records, or undefined for any other event (patch markers too). */
export function localActivityMark(event: proto.temporal.api.history.v1.IHistoryEvent): LocalActivityMark | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== LOCAL_ACTIVITY_MARKER) return undefined;
  const data = marker.details?.['data']?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8')) as LocalActivityMark;
  } catch {
    return undefined;
  }
}
