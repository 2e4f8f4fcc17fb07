/**
 * The two calls `firebreak postmortem` makes to Temporal — DescribeWorkflowExecution for the run id,
 * GetWorkflowExecutionHistory page by page — as plain gRPC over Node's own HTTP/2, decoded with the
 * history's descriptors alone (history-proto.ts). The SDK's client would load @grpc/grpc-js and
 * Temporal's whole protobuf root first: most of a cold `firebreak postmortem` before its first request.
 * It sends what the SDK sends (namespace, client name and version, API key) over the same TLS
 * settings (client/connection.ts); behind an HTTP proxy the CLI uses the SDK's client instead.
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import type { HistoryEvent } from './history';
import { DescribeRequest, DescribeResponse, GetHistoryRequest, GetHistoryResponse } from './history-proto';

/** What client/connection.ts's connectionSettings yields (the same shape; postmortem/ does not import client/). */
export interface ConnectionSettings {
  address: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer } | true;
  apiKey?: string;
}

const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService';
/** As the SDK's Connection (client/connection.ts connects with connectTimeout: 5 s). */
const CONNECT_TIMEOUT_MS = 5_000;
/** A page of a long history is megabytes: a large window saves round trips of flow control. */
const WINDOW_BYTES = 32 * 2 ** 20;

const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** A failed call, shaped as @grpc/grpc-js's ServiceError (code, details, metadata), so explain() reads it alike. */
export class GrpcCallError extends Error {
  readonly metadata: Record<string, unknown> = {};
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code} ${STATUS_NAMES[code] ?? 'UNKNOWN'}: ${details}`);
    this.name = 'GrpcCallError';
  }
}

/** The proxy variables @grpc/grpc-js honours: with one set, the SDK's client is the one that knows the way. */
export function proxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return ['grpc_proxy', 'https_proxy', 'http_proxy', 'GRPC_PROXY', 'HTTPS_PROXY', 'HTTP_PROXY'].some(
    (name) => env[name],
  );
}

export interface HistoryPage {
  events: HistoryEvent[];
  nextPageToken?: Uint8Array | null;
}

export class GrpcHistoryReader {
  private readonly session: http2.ClientHttp2Session;
  private readonly connected: Promise<void>;
  private readonly headers: http2.OutgoingHttpHeaders;

  constructor(
    settings: ConnectionSettings,
    private readonly namespace: string,
  ) {
    const tls = settings.tls;
    const options: http2.SecureClientSessionOptions = { settings: { initialWindowSize: WINDOW_BYTES } };
    if (tls && tls !== true) {
      if (tls.serverRootCACertificate) options.ca = tls.serverRootCACertificate;
      if (tls.clientCertPair) {
        options.cert = tls.clientCertPair.crt;
        options.key = tls.clientCertPair.key;
      }
    }
    this.session = http2.connect(`${tls ? 'https' : 'http'}://${settings.address}`, options);
    this.session.on('error', () => undefined); // each call reports its own failure
    this.connected = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new GrpcCallError(14, `no connection to ${settings.address} within ${CONNECT_TIMEOUT_MS} ms`));
        this.session.destroy();
      }, CONNECT_TIMEOUT_MS);
      this.session.once('connect', () => {
        clearTimeout(timer);
        this.session.setLocalWindowSize(WINDOW_BYTES);
        resolve();
      });
      this.session.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(new GrpcCallError(14, err.message));
      });
    });
    this.connected.catch(() => undefined);
    const client = clientVersion();
    this.headers = {
      'content-type': 'application/grpc',
      te: 'trailers',
      'temporal-namespace': namespace,
      'client-name': 'temporal-typescript',
      ...(client ? { 'client-version': client } : {}),
      ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
    };
  }

  /** Resolves once the connection is up; rejects (code 14) when it cannot be made. */
  ready(): Promise<void> {
    return this.connected;
  }

  /** The run id of the workflow's latest run. */
  async latestRunId(workflowId: string): Promise<string> {
    const request = DescribeRequest.encode({ namespace: this.namespace, execution: { workflowId } }).finish();
    const response = DescribeResponse.decode(await this.call('DescribeWorkflowExecution', request)) as {
      workflowExecutionInfo?: { execution?: { runId?: string } };
    };
    return response.workflowExecutionInfo?.execution?.runId ?? '';
  }

  async historyPage(workflowId: string, runId: string | undefined, pageSize: number, nextPageToken?: Uint8Array) {
    const request = GetHistoryRequest.encode({
      namespace: this.namespace,
      execution: { workflowId, ...(runId ? { runId } : {}) },
      maximumPageSize: pageSize,
      ...(nextPageToken ? { nextPageToken } : {}),
    }).finish();
    const response = GetHistoryResponse.decode(await this.call('GetWorkflowExecutionHistory', request)) as {
      history?: { events?: HistoryEvent[] };
      nextPageToken?: Uint8Array;
    };
    return { events: response.history?.events ?? [], nextPageToken: response.nextPageToken };
  }

  close(): void {
    this.session.close();
  }

  /** One unary call: a length-prefixed message out, one back, the status from the trailers. */
  private async call(method: string, message: Uint8Array): Promise<Buffer> {
    await this.connected;
    return new Promise((resolve, reject) => {
      const stream = this.session.request({ ...this.headers, ':method': 'POST', ':path': `${SERVICE}/${method}` });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let details = '';
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        if (headers['grpc-status'] !== undefined) {
          status = String(headers['grpc-status']);
          details = decodeMessage(headers['grpc-message']);
        }
      };
      stream.on('response', (headers) => {
        const httpStatus = Number(headers[':status']);
        if (httpStatus !== 200) {
          // As gRPC maps an HTTP answer that is not gRPC's.
          status = String(httpStatus === 401 ? 16 : httpStatus === 403 ? 7 : httpStatus === 404 ? 12 : 14);
          details = `Received HTTP status code ${httpStatus}`;
        } else readStatus(headers);
      });
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err: Error) => reject(new GrpcCallError(14, err.message)));
      stream.on('end', () => {
        if (status === undefined) return reject(new GrpcCallError(13, `${method}: the answer carried no status`));
        if (status !== '0') return reject(new GrpcCallError(Number(status), details));
        try {
          resolve(unframe(Buffer.concat(chunks), method));
        } catch (err) {
          reject(err);
        }
      });
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      stream.end(frame);
    });
  }
}

/** The one message of a unary answer (uncompressed: the request offered no compression). */
function unframe(body: Buffer, method: string): Buffer {
  if (body.length < 5) throw new GrpcCallError(13, `${method}: no message in the answer`);
  const length = body.readUInt32BE(1);
  if (body[0] !== 0) throw new GrpcCallError(13, `${method}: a compressed answer, which was not asked for`);
  if (body.length < 5 + length) throw new GrpcCallError(13, `${method}: the answer was cut short`);
  return body.subarray(5, 5 + length);
}

function decodeMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function clientVersion(): string | undefined {
  try {
    // Read, not required: the SDK's client itself stays unloaded.
    const file = createRequire(import.meta.url).resolve('@temporalio/client/package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}
