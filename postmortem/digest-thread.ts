/**
 * The history digest taken on a thread of its own (digest-worker.ts), so that on a machine with a
 * second core hashing the history — canonical JSON of every event + sha256, a third of a long
 * export's CPU — runs beside the main thread's decoding and reduction of the same pages. Used when
 * the history arrives as bytes (the CLI's lean gRPC reader): each page's bytes go to the thread,
 * which decodes and hashes them; the value is the one HistoryDigest gives on the main thread.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DigestAnswer, DigestRequest } from './digest-worker';

/**
 * The thread's code: beside the compiled CLI (scripts/build-cli.mjs makes it an entry of its own),
 * or the TypeScript source loaded through tsx, as the rest of a dev checkout is (a worker does not
 * inherit the main thread's loader on Node 20, so the thread registers it itself).
 */
function startWorker(): Worker {
  if (import.meta.url.endsWith('.cjs')) return new Worker(new URL('./postmortem-digest.cjs', import.meta.url));
  const source = new URL('./digest-worker.ts', import.meta.url).href;
  // tsx's ES module API (its CommonJS one does not load from an eval'd thread), beside the CommonJS one.
  const api = path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/esm/api')), 'index.mjs');
  const code = `import(${JSON.stringify(pathToFileURL(api).href)}).then(({ tsImport }) => tsImport(${JSON.stringify(source)}, ${JSON.stringify(source)}))`;
  return new Worker(code, { eval: true });
}

export class DigestThread {
  private readonly worker: Worker;
  private readonly answer: Promise<{ digest: string; events: number }>;
  private ended = false;

  constructor() {
    this.worker = startWorker();
    this.answer = new Promise((resolve, reject) => {
      const fail = (reason: string) => reject(new Error(`the history digest's thread failed: ${reason}`));
      this.worker.once('message', (answer: DigestAnswer) => {
        if ('error' in answer) fail(answer.error);
        else resolve(answer);
      });
      this.worker.once('error', (err) => fail(err.message));
      this.worker.once('messageerror', (err) => fail(err.message));
      this.worker.once('exit', (code) => fail(`it exited (code ${code}) before answering`));
    });
    // Read by value(); a failure before then must not be an unhandled rejection.
    this.answer.catch(() => undefined);
  }

  /** One page: the bytes of a GetWorkflowExecutionHistoryResponse, copied to the thread. */
  add(page: Uint8Array): void {
    this.worker.postMessage({ page } satisfies DigestRequest);
  }

  /** The digest of every page added, once the thread has hashed them all; `events` is how many. */
  async value(): Promise<{ digest: string; events: number }> {
    if (!this.ended) {
      this.ended = true;
      this.worker.postMessage({ end: true } satisfies DigestRequest);
    }
    try {
      return await this.answer;
    } finally {
      void this.worker.terminate();
    }
  }

  /** Stops the thread (the export failed or no longer needs it). */
  close(): void {
    void this.worker.terminate();
  }
}
