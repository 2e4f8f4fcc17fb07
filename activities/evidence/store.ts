/**
 * The evidence store: artefacts taken from the cluster (heap profiles, previous logs) written to
 * disk as they stream in, hashed on the way, capped, and copied to the archive directory when one
 * is configured. One file per incident and artefact name, so a retried capture finds the first
 * one's file instead of writing a second (idempotency key: incident id + artefact name).
 *
 * Layout: `<dir>/<incident>/<name>` with `<name>.json` beside it (the EvidenceRef, written last:
 * its presence means the artefact is complete); copies in `<archive>/evidence/<incident>/`.
 */
import { createHash, type Hash } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { EvidenceRef, SharedEvidence } from './types';

/** Default cap of one artefact: a Go or JVM heap profile of a leaking service fits well within it. */
export const DEFAULT_EVIDENCE_MAX_BYTES = 64 * 2 ** 20;

export interface EvidenceStoreOptions {
  /** Where artefacts are kept (`<FIREBREAK_DATA_DIR>/evidence` by default). */
  dir: string;
  /** FIREBREAK_ARCHIVE_DIR: each artefact is also copied to `<archiveDir>/evidence/`. */
  archiveDir?: string;
  /** Cap of one artefact, in bytes. */
  maxBytes?: number;
}

/** A file-system-safe, collision-free directory name for an incident id. */
export function incidentDirName(incidentId: string): string {
  const readable = incidentId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return `${readable}-${createHash('sha256').update(incidentId).digest('hex').slice(0, 12)}`;
}

/** Artefact names are chosen by the activities from pod and container names; this keeps them to one path segment. */
export function artefactName(...parts: string[]): string {
  const name = parts
    .join('-')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_');
  return name.slice(0, 200) || 'artefact';
}

/**
 * A sink that writes the first `limit` bytes to a file and hashes them as they pass; anything
 * beyond marks it truncated and calls `onLimit` once (so the source can be stopped). Backpressure
 * follows the disk: a write completes when the file has it.
 */
export class CappedFileSink extends Writable {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  truncated = false;

  constructor(
    private readonly file: FileHandle,
    private readonly limit: number,
    private readonly onLimit: () => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const room = this.limit - this.bytes;
    if (chunk.length > room && !this.truncated) {
      this.truncated = true;
      this.onLimit();
    }
    const part = room > 0 ? chunk.subarray(0, room) : undefined;
    if (!part || part.length === 0) return done();
    this.bytes += part.length;
    this.hash.update(part);
    this.file.write(part).then(() => done(), done);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export class EvidenceStore {
  readonly dir: string;
  readonly archiveDir?: string;
  readonly maxBytes: number;

  constructor(options: EvidenceStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.archiveDir = options.archiveDir ? path.resolve(options.archiveDir) : undefined;
    this.maxBytes = options.maxBytes ?? DEFAULT_EVIDENCE_MAX_BYTES;
  }

  private incidentDir(incidentId: string): string {
    return path.join(this.dir, incidentDirName(incidentId));
  }

  /** The artefact a previous attempt completed, if its file is still whole. */
  async existing(incidentId: string, name: string): Promise<EvidenceRef | undefined> {
    const file = path.join(this.incidentDir(incidentId), name);
    let ref: EvidenceRef;
    try {
      ref = JSON.parse(await readFile(`${file}.json`, 'utf8')) as EvidenceRef;
      const size = (await stat(file)).size;
      if (size !== ref.bytes) return undefined;
    } catch {
      return undefined;
    }
    return ref;
  }

  /**
   * Captures one artefact: `fill` writes the source into the sink it is given (and may stop the
   * source when `stop` aborts: the cap was reached). Returns the existing artefact instead when a
   * previous attempt completed it. The bytes never sit in memory beyond a stream chunk.
   */
  async capture(
    incidentId: string,
    name: string,
    source: string,
    fill: (sink: Writable, stop: AbortSignal) => Promise<void>,
  ): Promise<EvidenceRef> {
    const done = await this.existing(incidentId, name);
    if (done) return done;
    const dir = this.incidentDir(incidentId);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, name);
    // One partial file per artefact: a retry after a crash overwrites it instead of leaving another.
    const partial = `${file}.partial`;
    const handle = await open(partial, 'w', 0o600);
    const stop = new AbortController();
    const sink = new CappedFileSink(handle, this.maxBytes, () => stop.abort());
    // A source may still write after the cap stopped it (an exec's socket delivers what was in
    // flight): that late write neither crashes the worker nor fails the capture.
    let failure: unknown;
    sink.on('error', (err: NodeJS.ErrnoException) => {
      if (stop.signal.aborted && err.code === 'ERR_STREAM_WRITE_AFTER_END') return;
      failure ??= err;
    });
    try {
      await fill(sink, stop.signal);
      if (!sink.writableEnded) sink.end();
      await finished(sink);
      if (failure) throw failure;
      await handle.sync();
    } catch (err) {
      sink.destroy();
      await handle.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw err;
    }
    await handle.close();
    await rename(partial, file);
    const ref: EvidenceRef = {
      name,
      source,
      path: file,
      copies: [],
      bytes: sink.bytes,
      sha256: sink.digest(),
      truncated: sink.truncated,
      maxBytes: this.maxBytes,
      capturedAt: new Date().toISOString(),
    };
    if (this.archiveDir) {
      const copyDir = path.join(this.archiveDir, 'evidence', incidentDirName(incidentId));
      await mkdir(copyDir, { recursive: true });
      const copy = path.join(copyDir, name);
      await copyFile(file, copy);
      ref.copies.push(copy);
      await writeFile(`${copy}.json`, JSON.stringify(ref, null, 2));
    }
    await writeFile(`${file}.json`, JSON.stringify(ref, null, 2));
    return ref;
  }

  /** Where an artefact was shared in Slack, if it was (the upload's idempotency record). */
  async shared(ref: EvidenceRef, thread: { channel: string; ts: string }): Promise<SharedEvidence | undefined> {
    try {
      const record = JSON.parse(await readFile(`${ref.path}.slack.json`, 'utf8')) as SharedEvidence;
      return record.channel === thread.channel && record.threadTs === thread.ts ? record : undefined;
    } catch {
      return undefined;
    }
  }

  async markShared(ref: EvidenceRef, shared: SharedEvidence): Promise<void> {
    await writeFile(`${ref.path}.slack.json`, JSON.stringify(shared));
  }
}
