/**
 * Evidence activities: take what explains an OOM out of the cluster before any change replaces
 * the pod, keep it outside Temporal's payloads, and post it to the incident's Slack thread.
 *
 * - captureHeapProfile: the profile is fetched INSIDE the pod and streamed out through the exec's
 *   stdout — nothing is written in the pod, so nothing is lost when the pod goes.
 * - capturePreviousLogs: the killed container's log (`kubectl logs --previous --tail`), streamed.
 * - shareEvidence: Slack's external upload (files.getUploadURLExternal, a POST of the bytes to the
 *   upload URL, files.completeUploadExternal into the card's thread).
 *
 * Both captures stream to disk through the evidence store, hashing on the way and stopping at the
 * cap (FIREBREAK_EVIDENCE_MAX_BYTES, 64 MiB by default), so memory stays at a stream chunk whatever
 * the pod sends; the workflow only ever sees an EvidenceRef (name, path, size, sha256).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WebClient } from '@slack/web-api';
import { ErrorType } from '../../common/errors';
import { createKubeApi } from '../kubernetes/api';
import { call, toActivityError, type Access } from '../kubernetes/errors';
import { runExec } from '../kubernetes/exec';
import { clamp, pickContainer } from '../kubernetes/kubectl';
import { toActivityFailure, type SlackMessageRef } from '../slack';
import { artefactName, EvidenceStore } from './store';
import type { EvidenceRef, SharedEvidence } from './types';

export * from './types';
export { DEFAULT_EVIDENCE_MAX_BYTES, EvidenceStore, incidentDirName } from './store';

const DEFAULT_HEAP_PROFILE_TIMEOUT_SECONDS = 120;
const MAX_HEAP_PROFILE_TIMEOUT_SECONDS = 600;
const DEFAULT_LOG_TAIL_LINES = 500;
const MAX_LOG_TAIL_LINES = 100_000;
const UPLOAD_TIMEOUT_MS = 10 * 60_000;
/** A log stream silent this long is dead. */
const STREAM_IDLE_TIMEOUT_MS = 30_000;
/** Longest stderr of a failed in-pod command kept in the failure message. */
const STDERR_KEPT = 2_000;

export interface EvidenceDeps {
  kubeConfig: KubeConfig;
  store: EvidenceStore;
  /** Null when Slack is not configured: shareEvidence logs where the artefact is instead. */
  slack: WebClient | null;
  log?: (line: string) => void;
}

/** stderr kept small: the first bytes say why a command failed. */
class HeadBuffer extends Writable {
  private text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.text.length < STDERR_KEPT) this.text += chunk.toString('utf8').slice(0, STDERR_KEPT - this.text.length);
    done();
  }
  said(): string {
    return this.text.trim();
  }
}

/** What a reference says of its source stays a line, whatever URL or name it was given. */
function shorten(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Outside an activity (tests, benchmarks): nobody to tell.
  }
}

export function createEvidenceActivities(deps: EvidenceDeps) {
  const api = createKubeApi(deps.kubeConfig);
  const { store } = deps;
  const log = deps.log ?? ((line: string) => console.log(line));

  async function containerOf(namespace: string, pod: string, container?: string): Promise<string> {
    if (container) return container;
    const found = await call({ verb: 'get', resource: 'pods', namespace, name: pod }, () =>
      api.core.readNamespacedPod({ name: pod, namespace }),
    );
    return pickContainer(found.spec?.containers ?? [], found.metadata?.annotations, undefined).name;
  }

  return {
    /**
     * Fetches a heap profile inside the pod (`curl -sSf <url>` in the container, so the service's
     * loopback-only debug port is reachable) and streams it out through the exec's stdout into the
     * evidence store — nothing is written in the pod. Capped at the store's limit: a bigger profile
     * is cut there (`truncated: true`) and the exec ended. Changes nothing in the cluster.
     * Idempotency key: incident id + pod (a retry returns the stored artefact). Timeout profile
     * EVIDENCE (minutes, heartbeats every 5 s while the exec runs).
     */
    async captureHeapProfile(input: {
      incidentId: string;
      namespace: string;
      pod: string;
      container?: string;
      url: string;
      timeoutSeconds?: number;
    }): Promise<EvidenceRef> {
      if (!/^https?:\/\//.test(input.url)) {
        throw ApplicationFailure.nonRetryable(
          `heap profile URL must be http(s): ${input.url}`,
          ErrorType.INVALID_INPUT,
        );
      }
      const name = artefactName('heap-profile', input.pod, `${input.container ?? 'default'}.prof`);
      const where = shorten(`${input.namespace}/${input.pod}${input.container ? ` (${input.container})` : ''}`);
      return store.capture(
        input.incidentId,
        name,
        `heap profile of ${where} from ${shorten(input.url)}`,
        async (sink, stop) => {
          const stderr = new HeadBuffer();
          // Positional arguments, not interpolation: the URL never reaches the shell as code.
          const command = ['sh', '-c', 'exec curl -sSf "$1"', 'heap-profile', input.url];
          const timeoutSeconds = clamp(
            input.timeoutSeconds,
            DEFAULT_HEAP_PROFILE_TIMEOUT_SECONDS,
            MAX_HEAP_PROFILE_TIMEOUT_SECONDS,
          );
          const target = { namespace: input.namespace, pod: input.pod, container: input.container, command };
          const result = await runExec(api, { ...target, timeoutSeconds }, sink, stderr, stop).catch((err: unknown) => {
            // Past the cap the capture is complete; curl dying of the closed pipe says nothing.
            if (stop.aborted) return { stopped: true as const };
            throw err;
          });
          if ('exitCode' in result && result.exitCode !== 0 && !stop.aborted) {
            throw ApplicationFailure.nonRetryable(
              `heap profile command in ${where} exited ${result.exitCode}: ${stderr.said() || '(no stderr)'}`,
              ErrorType.EVIDENCE_UNAVAILABLE,
            );
          }
        },
      );
    },

    /**
     * The killed container's last log lines (`kubectl logs --previous --tail=<n>`), streamed into
     * the evidence store, capped like every artefact. Changes nothing. Idempotency key: incident id
     * + pod + container. Timeout profile EVIDENCE. No previous container → INVALID_INPUT (from the API).
     */
    async capturePreviousLogs(input: {
      incidentId: string;
      namespace: string;
      pod: string;
      container?: string;
      tailLines?: number;
    }): Promise<EvidenceRef> {
      const container = await containerOf(input.namespace, input.pod, input.container);
      const tailLines = clamp(input.tailLines, DEFAULT_LOG_TAIL_LINES, MAX_LOG_TAIL_LINES);
      const name = artefactName('previous-logs', input.pod, `${container}.log`);
      const source = `last ${tailLines} lines of the previous ${container} container of ${input.namespace}/${input.pod}`;
      return store.capture(input.incidentId, name, source, async (sink, stop) => {
        const query = new URLSearchParams({
          container,
          previous: 'true',
          tailLines: String(tailLines),
          // One byte over the cap tells the sink the log was longer.
          limitBytes: String(store.maxBytes + 1),
        });
        const apiPath = `/api/v1/namespaces/${encodeURIComponent(input.namespace)}/pods/${encodeURIComponent(input.pod)}/log?${query}`;
        await streamGet(deps.kubeConfig, apiPath, sink, stop, {
          verb: 'get',
          resource: 'pods/log',
          namespace: input.namespace,
          name: input.pod,
        });
      });
    },

    /**
     * Posts a stored artefact to the incident's Slack thread as a file: files.getUploadURLExternal,
     * the bytes streamed to the upload URL (hashed on the way: a file that no longer matches its
     * sha256 is refused, not shared), then files.completeUploadExternal with the card's channel and
     * thread. Changes: one file in the thread. Idempotency key: the artefact's path + thread (a
     * marker beside the file; a retry after the marker returns it). An empty artefact is not posted
     * (Slack refuses length 0). Timeout profile EVIDENCE. Without Slack or a card: logged, undefined.
     */
    async shareEvidence(input: {
      incidentId: string;
      ref?: SlackMessageRef;
      artefact: EvidenceRef;
      comment?: string;
    }): Promise<SharedEvidence | undefined> {
      const { artefact, ref } = input;
      if (!deps.slack || !ref) {
        log(
          `[slack] ${input.incidentId} evidence ${artefact.name} kept at ${artefact.path} (sha256 ${artefact.sha256})`,
        );
        return undefined;
      }
      const already = await store.shared(artefact, ref);
      if (already) return already;
      if (artefact.bytes === 0) return undefined;
      const size = await stat(artefact.path).then(
        (s) => s.size,
        () => -1,
      );
      if (size !== artefact.bytes) {
        throw ApplicationFailure.nonRetryable(
          `evidence ${artefact.name} is ${size < 0 ? 'missing' : `${size} bytes, not ${artefact.bytes}`} at ${artefact.path}`,
          ErrorType.EVIDENCE_UNAVAILABLE,
        );
      }
      const client = deps.slack;
      const what = `upload of ${artefact.name} for ${input.incidentId}`;
      const upload = await client.files
        .getUploadURLExternal({ filename: artefact.name, length: artefact.bytes })
        .catch((err: unknown) => {
          throw toActivityFailure(err, `files.getUploadURLExternal (${what})`);
        });
      if (!upload.upload_url || !upload.file_id) throw new Error(`Slack answered ${what} without upload_url/file_id`);
      const sha256 = await postFile(upload.upload_url, artefact.path, artefact.bytes, what);
      if (sha256 !== artefact.sha256) {
        // Not completed: Slack discards an upload that is never completed.
        throw ApplicationFailure.nonRetryable(
          `evidence ${artefact.name} no longer matches its sha256 (${sha256} ≠ ${artefact.sha256}); not shared`,
          ErrorType.EVIDENCE_UNAVAILABLE,
        );
      }
      await client.files
        .completeUploadExternal({
          files: [{ id: upload.file_id, title: artefact.name }],
          channel_id: ref.channel,
          thread_ts: ref.ts,
          ...(input.comment ? { initial_comment: input.comment.slice(0, 3_000) } : {}),
        })
        .catch((err: unknown) => {
          throw toActivityFailure(err, `files.completeUploadExternal (${what})`);
        });
      const shared: SharedEvidence = { fileId: upload.file_id, channel: ref.channel, threadTs: ref.ts };
      await store.markShared(artefact, shared);
      return shared;
    },
  };
}

/**
 * A GET whose 200 body is piped into `sink` (ended with it); a stop (the cap) ends it early and is
 * not an error. Any other status is mapped onto the error catalogue like every Kubernetes call.
 */
async function streamGet(
  kubeConfig: KubeConfig,
  apiPath: string,
  sink: Writable,
  stop: AbortSignal,
  access: Access,
): Promise<void> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster)
    throw ApplicationFailure.nonRetryable('the kubeconfig has no current cluster', ErrorType.NOT_CONFIGURED);
  const url = new URL(apiPath, cluster.server);
  const options: RequestOptions = { method: 'GET', timeout: STREAM_IDLE_TIMEOUT_MS };
  await kubeConfig.applyToHTTPSOptions(options);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await call(
    access,
    () =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = request(url, options, resolve);
        req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname} timed out`)));
        req.on('error', reject);
        req.end();
      }),
  );
  if (response.statusCode !== 200) {
    const body = await readSmall(response);
    const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, String(v)]));
    throw toActivityError(new ApiException(response.statusCode ?? 0, 'request failed', body, headers), access);
  }
  // Not pipeline(): stopping at the cap must end the response, not destroy the sink that holds the capture.
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (!sink.write(chunk)) await once(sink, 'drain');
      if (stop.aborted) break;
    }
  } catch (err) {
    throw new Error(`reading ${url.pathname} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    response.destroy();
  }
}

/**
 * Streams a file as the raw body of a POST (Slack accepts raw bytes or multipart at the upload
 * URL; 200 means received) and returns the sha256 of what was sent. Memory: one stream chunk.
 */
async function postFile(url: string, file: string, bytes: number, what: string): Promise<string> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const hash = createHash('sha256');
  let sent = 0;
  const req = request(target, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes) },
    timeout: UPLOAD_TIMEOUT_MS,
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${what} timed out`)));
  });
  const body = createReadStream(file, { end: bytes - 1 });
  body.on('data', (chunk) => {
    hash.update(chunk);
    sent += chunk.length;
    heartbeat({ sent });
  });
  try {
    await pipeline(body, req);
  } catch (err) {
    throw new Error(`${what} did not get through: ${(err as Error).message}`, { cause: err });
  }
  const response = await answered.catch((err: unknown) => {
    throw new Error(`${what} did not get through: ${(err as Error).message}`, { cause: err });
  });
  const text = await readSmall(response);
  if (response.statusCode !== 200) {
    const status = response.statusCode ?? 0;
    const message = `Slack answered HTTP ${status} to ${what}: ${text.slice(0, 200)}`;
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      throw ApplicationFailure.nonRetryable(message, ErrorType.PROVIDER_REJECTED);
    }
    throw new Error(message);
  }
  return hash.digest('hex');
}

/** The upload service's answer is a line ("OK - 1234"); anything longer is not read. */
async function readSmall(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) if (text.length < 1_000) text += String(chunk);
  return text;
}

export type EvidenceActivities = ReturnType<typeof createEvidenceActivities>;
