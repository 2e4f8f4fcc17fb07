/** What every test-bed component is: started once per run by test/run.ts, stopped at its end. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface BedOptions {
  /** A directory of the component's own inside the run's work root. */
  workDir: string;
  log: (msg: string) => void;
  /** What the components started before this one exported (the bed's Prometheus, say). */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface BedComponent {
  /** Variables for the test processes. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export type BedStarter = (opts: BedOptions) => Promise<BedComponent>;

/**
 * Runs one component outside `npm test` (`node --import tsx test/bed/<name>.ts [--for SECONDS]`):
 * prints its env as `export` lines and stops it on SIGINT/SIGTERM or after SECONDS (default 3600).
 * Its work directory goes with it.
 */
export function runStandalone(name: string, start: BedStarter): void {
  const forIndex = process.argv.indexOf('--for');
  const seconds = forIndex > 0 ? Number(process.argv[forIndex + 1]) : 3600;
  const log = (msg: string) => console.error(`${name}: ${msg}`);
  const workDir = mkdtemp(path.join(tmpdir(), `firebreak-${name}-`));
  void (async () => {
    const bed = await start({ workDir: await workDir, log, env: process.env });
    for (const [key, value] of Object.entries(bed.env)) console.log(`export ${key}=${value}`);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      timer = setTimeout(resolve, seconds * 1000);
    });
    clearTimeout(timer);
    log('stopping');
    await bed.stop();
    await rm(await workDir, { recursive: true, force: true });
  })().catch(async (err: unknown) => {
    console.error(err);
    // FIREBREAK_TEST_KEEP keeps the logs of a failed start, as it does for `npm test`.
    if (!process.env.FIREBREAK_TEST_KEEP) await rm(await workDir, { recursive: true, force: true });
    process.exit(1);
  });
}
