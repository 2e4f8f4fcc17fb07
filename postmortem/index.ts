/**
 * Exports a postmortem: fetch the incident's history from Temporal, build the model, render it.
 * Used by `firebreak postmortem` and by the worker's archiver.
 */
import type { Client } from '@temporalio/client';
import { buildPostmortem } from './build';
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
  markdown: string;
  json: string;
}

/** Reads every event of one run (the latest when runId is absent), following page tokens. */
export async function fetchHistoryEvents(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const response = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, ...(runId ? { runId } : {}) },
      maximumPageSize: PAGE_SIZE,
      nextPageToken,
    });
    for (const event of response.history?.events ?? []) events.push(event);
    if (!response.nextPageToken || response.nextPageToken.length === 0) return events;
    nextPageToken = response.nextPageToken;
  }
  throw new Error(`history of ${workflowId} has more than ${MAX_PAGES * PAGE_SIZE} events`);
}

export async function exportPostmortem(
  client: Client,
  execution: { workflowId: string; runId?: string },
  options: { generatedAt?: Date } = {},
): Promise<ExportedPostmortem> {
  const runId = execution.runId ?? (await client.workflow.getHandle(execution.workflowId).describe()).runId;
  const events = await fetchHistoryEvents(client, execution.workflowId, runId);
  const postmortem = buildPostmortem(events, { workflowId: execution.workflowId, runId, ...options });
  return { postmortem, markdown: renderMarkdown(postmortem), json: renderJson(postmortem) };
}
