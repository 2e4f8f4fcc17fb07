/**
 * Exports a postmortem: fetch the incident's history from Temporal, build the model, render it.
 * Used by `firebreak postmortem` and by the worker's archiver.
 */
import type { Client } from '@temporalio/client';
import { PostmortemBuilder } from './build';
import type { HistoryEvent } from './history';
import type { Postmortem } from './model';
import { renderJson, renderMarkdown } from './render';

export { buildPostmortem } from './build';
export { latestRecord } from './history';
export { renderJson, renderMarkdown } from './render';
export { POSTMORTEM_SCHEMA_VERSION, type Postmortem } from './model';

/** Pages of this size keep a 10,000-event export to ten round trips. */
const PAGE_SIZE = 1000;
/** A history is capped at 51,200 events by the server; this bound only stops a runaway loop. */
const MAX_PAGES = 200;

export interface ExportedPostmortem {
  postmortem: Postmortem;
  /** Rendered on first read: `firebreak postmortem` prints one format, the archiver both. */
  readonly markdown: string;
  readonly json: string;
}

/**
 * Where a history is read from: the SDK's client, or the CLI's own lean gRPC reader (grpc.ts), which
 * answers the same two calls without loading the SDK.
 */
export interface HistorySource {
  latestRunId(workflowId: string): Promise<string>;
  historyPage(
    workflowId: string,
    runId: string | undefined,
    pageSize: number,
    nextPageToken?: Uint8Array,
  ): Promise<{ events: HistoryEvent[]; nextPageToken?: Uint8Array | null }>;
}

function sourceOf(from: Client | HistorySource): HistorySource {
  if (!('workflowService' in from)) return from;
  const client = from;
  return {
    latestRunId: async (workflowId) => (await client.workflow.getHandle(workflowId).describe()).runId,
    historyPage: async (workflowId, runId, pageSize, nextPageToken) => {
      const response = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId, ...(runId ? { runId } : {}) },
        maximumPageSize: pageSize,
        nextPageToken,
      });
      return { events: response.history?.events ?? [], nextPageToken: response.nextPageToken };
    },
  };
}

/** Reads every event of one run (the latest when runId is absent), following page tokens. */
export async function fetchHistoryEvents(
  from: Client | HistorySource,
  workflowId: string,
  runId?: string,
): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  await forEachHistoryPage(from, workflowId, runId, (page) => {
    for (const event of page) events.push(event);
  });
  return events;
}

/**
 * Hands each page of one run's history to `onPage` in order, asking for the next page before
 * handing over the current one, so reading a page overlaps with the server preparing the next.
 */
export async function forEachHistoryPage(
  from: Client | HistorySource,
  workflowId: string,
  runId: string | undefined,
  onPage: (events: HistoryEvent[]) => void,
  pageSize = PAGE_SIZE,
): Promise<void> {
  const source = sourceOf(from);
  const request = (nextPageToken?: Uint8Array) => source.historyPage(workflowId, runId, pageSize, nextPageToken);
  let pending = request();
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const response = await pending;
      const more = response.nextPageToken && response.nextPageToken.length > 0;
      if (!more) return onPage(response.events);
      pending = request(response.nextPageToken!);
      onPage(response.events);
    }
  } catch (err) {
    // A page already asked for is not wanted any more: its failure is not this one's.
    pending.catch(() => undefined);
    throw err;
  }
  pending.catch(() => undefined);
  throw new Error(`history of ${workflowId} has more than ${MAX_PAGES * pageSize} events`);
}

export async function exportPostmortem(
  from: Client | HistorySource,
  execution: { workflowId: string; runId?: string },
  options: { generatedAt?: Date } = {},
): Promise<ExportedPostmortem> {
  const source = sourceOf(from);
  const runId = execution.runId ?? (await source.latestRunId(execution.workflowId));
  const builder = new PostmortemBuilder();
  await forEachHistoryPage(source, execution.workflowId, runId, (events) => builder.add(events));
  const postmortem = builder.finish({ workflowId: execution.workflowId, runId, ...options });
  let markdown: string | undefined;
  let json: string | undefined;
  return {
    postmortem,
    get markdown() {
      return (markdown ??= renderMarkdown(postmortem));
    },
    get json() {
      return (json ??= renderJson(postmortem));
    },
  };
}
