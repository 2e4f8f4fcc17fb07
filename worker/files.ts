/** File writes the worker side shares (bundle cache, kept builds, postmortem archive). */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `body` to `file` so that a reader sees the old file or the whole new one, never a part:
 * written beside it under a name of this process (two processes may write the same file) and renamed.
 */
export async function writeFileAtomically(file: string, body: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, body);
  await rename(temporary, file);
}
