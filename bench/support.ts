/** Small helpers the benchmarks share. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
