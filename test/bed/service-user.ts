/**
 * Servers from Debian's packages that refuse root (PostgreSQL) or never deliver to it (Exim's
 * fixed never_users) run as their package's system user when the bed runs as root, as on CI; a
 * developer's own account runs them as itself.
 */
import { execFile } from 'node:child_process';
import { stat, chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const runningAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * The command line that runs `binary` as `user` when the bed is root: setpriv execs the server
 * itself (no intermediate process, so signals reach it and its pid is the server's), and the
 * parent-death signal takes it down if the bed dies without stopping it.
 */
export function asServiceUser(
  user: string | undefined,
  binary: string,
  args: string[],
): { binary: string; args: string[] } {
  if (!user || !runningAsRoot()) return { binary, args };
  return {
    binary: 'setpriv',
    args: [`--reuid=${user}`, `--regid=${user}`, '--init-groups', '--pdeathsig=TERM', '--', binary, ...args],
  };
}

/**
 * Gives `dir` (and everything in it) to `user` when the bed is root, and lets that user reach it:
 * every ancestor directory gets the search bit for others (the bed's work root is created 0700),
 * which allows passing through, not listing.
 */
export async function handOver(dir: string, user: string): Promise<void> {
  if (!runningAsRoot()) return;
  await execFileAsync('chown', ['-R', `${user}:`, dir], { timeout: 30_000 });
  for (let current = path.dirname(path.resolve(dir)); ; current = path.dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, mode | 0o001);
    if (current === path.dirname(current)) break;
  }
}
