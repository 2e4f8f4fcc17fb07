/**
 * The `/runbook` commands acknowledged as starting whose outcome the person has not been told yet.
 * The ingress answers a command before Temporal has the incident (Temporal's latency is not Slack's
 * 3 s budget), so the command is written here first: one small file per command, synced to disk
 * before the acknowledgement, removed once its outcome reached the person. An ingress that dies in
 * between finds the file when it starts again, starts the incident (the workflow id is the business
 * key and the incident id is derived from the time the command arrived, so a start that did happen
 * is recognised, never repeated) and reports through the command's response_url.
 *
 * Each ingress has its own directory (`<FIREBREAK_DATA_DIR>/slack-commands`) and takes back only the
 * entries of its own task queue and namespace. Bounded: at most MAX_PENDING entries, each holding
 * only the command's fields (Slack caps the text at a few KB; MAX_ENTRY_BYTES refuses more).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/** More starts than this in flight at once means Temporal is not taking them: refuse, do not queue. */
export const MAX_PENDING = 1_000;
const MAX_ENTRY_BYTES = 64 * 1024;
const SUFFIX = '.json';

/** The fields of the slash command that the start needs again after a restart. */
export const pendingCommandSchema = z.object({
  id: z.string(),
  receivedAt: z.number().int().positive(),
  taskQueue: z.string(),
  namespace: z.string(),
  command: z.string(),
  text: z.string(),
  userId: z.string(),
  userName: z.string().optional(),
  channelId: z.string(),
  responseUrl: z.string().optional(),
});
export type PendingCommand = z.infer<typeof pendingCommandSchema>;

export class PendingCommandJournal {
  private ready?: Promise<unknown>;
  private count = 0;

  constructor(
    readonly dir: string,
    private readonly log: (message: string, extra?: Record<string, unknown>) => void,
  ) {}

  /** A new entry's id: sortable by arrival, unique across processes. */
  static newId(receivedAt: number): string {
    return `${receivedAt.toString().padStart(15, '0')}-${randomUUID()}`;
  }

  /**
   * Writes the entry and syncs it to disk. Throws when it cannot (disk full, unwritable directory,
   * too many in flight): the command must then be answered as not started.
   */
  async record(entry: PendingCommand): Promise<void> {
    const body = JSON.stringify(entry);
    if (Buffer.byteLength(body) > MAX_ENTRY_BYTES) throw new Error('the command is too large to record');
    if (this.count >= MAX_PENDING) throw new Error(`${MAX_PENDING} starts are already waiting for Temporal`);
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    this.count++;
    try {
      // 'wx': a new file or nothing. A process killed while writing leaves a torn file for a command
      // it never acknowledged (Slack showed the person a failure); list() discards it.
      const file = await open(this.file(entry.id), 'wx');
      try {
        await file.writeFile(body);
        await file.datasync();
      } finally {
        await file.close();
      }
    } catch (err) {
      this.count--;
      throw err;
    }
  }

  /** The outcome reached the person (or never can): the entry is done. */
  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
    this.count = Math.max(0, this.count - 1);
  }

  /** Entries left by an earlier process for this task queue and namespace, oldest first. */
  async list(scope: { taskQueue: string; namespace: string }): Promise<PendingCommand[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((name) => name.endsWith(SUFFIX)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: PendingCommand[] = [];
    for (const name of names.slice(0, MAX_PENDING)) {
      const file = path.join(this.dir, name);
      const parsed = pendingCommandSchema.safeParse(await readJson(file));
      if (!parsed.success || `${parsed.data.id}${SUFFIX}` !== name) {
        this.log(
          `discarding an unreadable pending Slack command ${name} (written by a process killed before it answered)`,
        );
        await rm(file, { force: true });
        continue;
      }
      if (parsed.data.taskQueue === scope.taskQueue && parsed.data.namespace === scope.namespace) {
        entries.push(parsed.data);
      }
    }
    this.count += entries.length;
    return entries;
  }

  private file(id: string): string {
    if (!/^[\w-]+$/.test(id)) throw new Error(`not a pending command id: ${id}`);
    return path.join(this.dir, `${id}${SUFFIX}`);
  }
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}
