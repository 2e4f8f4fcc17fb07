/**
 * The history digest's thread (digest-thread.ts starts it): each page of the history arrives as the
 * bytes of its GetWorkflowExecutionHistoryResponse, is decoded here and hashed — the same digest
 * (digest.ts) the main thread would take, while the main thread decodes and reduces the same page.
 */
import { parentPort } from 'node:worker_threads';
import { HistoryDigest } from './digest';
import { GetHistoryResponse } from './history-proto';
import type { HistoryEvent } from './history';

/** What the main thread sends: a page's bytes, or the end of the history. */
export type DigestRequest = { page: Uint8Array } | { end: true };
/** What comes back, once, after the end: the digest and how many events it covered. */
export type DigestAnswer = { digest: string; events: number } | { error: string };

const port = parentPort!;
const digest = new HistoryDigest();
let events = 0;
let failed = false;

port.on('message', (request: DigestRequest) => {
  if (failed) return;
  try {
    if ('page' in request) {
      const response = GetHistoryResponse.decode(request.page) as { history?: { events?: HistoryEvent[] } };
      for (const event of response.history?.events ?? []) {
        digest.add(event);
        events++;
      }
      return;
    }
    port.postMessage({ digest: digest.value(), events } satisfies DigestAnswer);
    port.close();
  } catch (err) {
    failed = true;
    port.postMessage({ error: err instanceof Error ? err.message : String(err) } satisfies DigestAnswer);
    port.close();
  }
});
