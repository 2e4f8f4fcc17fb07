/**
 * The `/runbook` commands acknowledged as starting whose outcome the person has not been told yet.
 * The ingress answers a command before Temporal has the incident (Temporal's latency is not Slack's
 * 3 s budget), so the command is written here first: a small file, synced to disk before the
 * acknowledgement (commands arriving together share one file and one sync), removed once the
 * outcomes of all it holds reached their people. An ingress that dies in between finds the file when
 * it starts again, starts the incident (the workflow id is the business key and the incident id is
 * derived from the time the command arrived, so a start that did happen is recognised, never
 * repeated) and reports through the command's response_url.
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
  /** Entries waiting for the next batch write, with their callers. */
  private queue: Array<{ entry: PendingCommand; done: (err?: unknown) => void }> = [];
  private writing = false;
  /** Which batch file holds each entry not yet removed, and what each file still holds. */
  private readonly fileOf = new Map<string, string>();
  private readonly remaining = new Map<string, Set<string>>();

  constructor(
    readonly dir: string,
    private readonly log: (message: string, extra?: Record<string, unknown>) => void,
  ) {}

  /** A new entry's id: sortable by arrival, unique across processes. */
  static newId(receivedAt: number): string {
    return `${receivedAt.toString().padStart(15, '0')}-${randomUUID()}`;
  }

  /**
   * Writes the entry and syncs it to disk; resolves once it is there. Throws when it cannot (disk
   * full, unwritable directory, too many in flight): the command must then be answered as not
   * started. Commands arriving together share one file and one sync (group commit): fifty at once
   * cost about one sync, not fifty queued behind each other.
   */
  record(entry: PendingCommand): Promise<void> {
    if (Buffer.byteLength(JSON.stringify(entry)) > MAX_ENTRY_BYTES) {
      return Promise.reject(new Error('the command is too large to record'));
    }
    if (this.count >= MAX_PENDING) {
      return Promise.reject(new Error(`${MAX_PENDING} starts are already waiting for Temporal`));
    }
    this.count++;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.writing) void this.writeBatches();
    });
  }

  private async writeBatches(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const name = `${batch[0]!.entry.id}${SUFFIX}`;
      try {
        this.ready ??= mkdir(this.dir, { recursive: true });
        await this.ready;
        // 'wx': a new file or nothing. A process killed while writing leaves a torn file of commands
        // it never acknowledged (Slack showed each person a failure); list() discards it.
        const file = await open(path.join(this.dir, name), 'wx');
        try {
          await file.writeFile(JSON.stringify(batch.map(({ entry }) => entry)));
          await file.datasync();
        } finally {
          await file.close();
        }
        this.track(
          name,
          batch.map(({ entry }) => entry.id),
        );
        for (const { done } of batch) done();
      } catch (err) {
        this.count -= batch.length;
        for (const { done } of batch) done(err ?? new Error('the pending-command journal failed'));
      }
    }
    this.writing = false;
  }

  private track(name: string, ids: string[]): void {
    this.remaining.set(name, new Set(ids));
    for (const id of ids) this.fileOf.set(id, name);
  }

  /** The outcome reached the person (or never can): the entry is done; its file goes with its last entry. */
  async remove(id: string): Promise<void> {
    const name = this.fileOf.get(id);
    if (!name) return;
    this.fileOf.delete(id);
    this.count = Math.max(0, this.count - 1);
    const left = this.remaining.get(name);
    left?.delete(id);
    if (left && left.size === 0) {
      this.remaining.delete(name);
      await rm(path.join(this.dir, name), { force: true });
    }
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
    for (const name of names) {
      if (this.remaining.has(name)) continue;
      const file = path.join(this.dir, name);
      const parsed = z
        .array(pendingCommandSchema)
        .min(1)
        .safeParse(await readJson(file));
      if (!parsed.success) {
        this.log(
          `discarding unreadable pending Slack commands ${name} (written by a process killed before it answered)`,
        );
        await rm(file, { force: true });
        continue;
      }
      const mine = parsed.data.filter(
        (entry) => entry.taskQueue === scope.taskQueue && entry.namespace === scope.namespace,
      );
      if (mine.length < parsed.data.length || entries.length + mine.length > MAX_PENDING) continue;
      this.track(
        name,
        mine.map((entry) => entry.id),
      );
      entries.push(...mine);
    }
    this.count += entries.length;
    return entries;
  }
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}
