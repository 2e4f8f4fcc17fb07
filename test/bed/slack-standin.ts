/**
 * A loopback Slack Web API that speaks the documented protocol and records every call, for the
 * real `@slack/web-api` WebClient pointed at it with `slackApiUrl`:
 *
 *   POST /api/<method>   form-encoded (what WebClient sends) or JSON; token as `Authorization:
 *                        Bearer xoxb-…` (or a `token` form field, as Slack still accepts)
 *     200 {ok: true, …}                      auth.test, chat.postMessage, chat.update,
 *                                            chat.postEphemeral, chat.getPermalink,
 *                                            usergroups.users.list
 *     200 {ok: false, error: 'not_authed' | 'invalid_auth' | 'channel_not_found' | 'no_text' |
 *          'invalid_blocks' | 'message_not_found' | 'unknown_method' | 'no_such_subteam' | …}
 *     429 {ok: false, error: 'ratelimited'} with Retry-After, when programmed with `failNext`
 *
 * and the external file upload: `files.getUploadURLExternal` (filename, length > 0) answers
 * {ok, upload_url, file_id}; `POST <upload_url>` takes the bytes, raw or multipart/form-data, and
 * answers 200 `OK - <length>`; `files.completeUploadExternal` (files: [{id, title}], channel_id,
 * thread_ts, initial_comment) shares them and answers {ok, files: [{id, title}]} — or
 * `file_not_found` for an id it never handed out, never received bytes for, or already completed.
 * Tests read the bytes back with `file(id)` / `filesIn(channel, thread_ts)`.
 *
 * It also receives `response_url` posts (`POST /response/<id>`) as hooks.slack.com does: JSON
 * (`Content-type: application/json`) with `text` or `blocks` (or `delete_original`), optional
 * `response_type` (`ephemeral` | `in_channel`), `replace_original`, `delete_original`, `thread_ts`;
 * at most five posts per URL within 30 minutes of the command (then 404 `expired_url`); 400
 * `invalid_payload` for anything not a JSON object, `no_text` for a message with no text or
 * blocks, 404 `no_service` for a URL it never handed out. It signs
 * requests the way Slack signs its calls to our ingress (`signSlackRequest`), and plays Socket
 * Mode: `apps.connections.open` (app-level `xapp-` tokens only) hands out a `ws://` URL whose
 * connection gets `hello`, envelopes (`sendEnvelope`) and `disconnect` (`requestRefresh`). Like
 * Slack it pings every connection (`socketPingIntervalMs`) and answers the client's pings with
 * pongs; `dropSocketSilently` makes a link go dead without a close, as one does behind a NAT that
 * forgot it, so a client's liveness checks can be tested.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { closeServer, listenOnLoopback, readBody } from './process';

export interface RecordedCall {
  method: string;
  /** Parameters as the client sent them; JSON-encoded form fields (blocks) are decoded. */
  params: Record<string, unknown>;
  token?: string;
  contentType: string;
  /** The HTTP status answered; `error` is the Slack error code when ok was false. */
  status: number;
  error?: string;
  at: number;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  blocks?: unknown[];
  /** Every version of the message, oldest first (chat.update appends). */
  versions: Array<{ text?: string; blocks?: unknown[] }>;
  reply_broadcast?: boolean;
  /** Message metadata (event_type, event_payload) as posted; returned only to include_all_metadata. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text?: string;
  blocks?: unknown[];
  thread_ts?: string;
}

/** A file uploaded through the external upload flow. */
export interface UploadedFile {
  id: string;
  filename: string;
  /** The length announced to files.getUploadURLExternal. */
  length: number;
  /** The bytes posted to the upload URL (undefined until then). */
  bytes?: Buffer;
  /** How they came: `raw` body or `multipart` form. */
  encoding?: 'raw' | 'multipart';
  completed: boolean;
  title?: string;
  channel?: string;
  threadTs?: string;
  initialComment?: string;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Slack: a response_url takes up to five posts within 30 minutes of the interaction. */
const RESPONSE_URL_MAX_USES = 5;
const RESPONSE_URL_LIFETIME_MS = 30 * 60_000;
/** Largest file the upload URL takes (Slack's own limit is 1 GB; tests stay far below). */
const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
// Slack's documented Block Kit limits; the real API answers invalid_blocks beyond them.
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;
const MAX_HEADER_TEXT = 150;

export class SlackStandIn {
  readonly calls: RecordedCall[] = [];
  readonly messages: StoredMessage[] = [];
  readonly ephemerals: EphemeralMessage[] = [];
  readonly responses: ResponseUrlPost[] = [];
  /** Every response_url handed out: when, and how many posts it took. */
  private readonly responseUrls = new Map<string, { issuedAt: number; uses: number }>();
  private heldResponses?: ServerResponse[];
  /** Files by id, in the order their upload URLs were handed out. */
  readonly uploads = new Map<string, UploadedFile>();
  private readonly uploadKeys = new Map<string, string>();
  private fileCounter = 0;
  /** Answered to auth.test and stamped on posted messages. */
  readonly botUserId = 'U0FIREBREAK';
  readonly botId = 'B0FIREBREAK';
  readonly teamId = 'T0FIREBREAK';
  /** Member lists of user groups, for usergroups.users.list. */
  readonly usergroups = new Map<string, string[]>();
  /** Channels the bot has been invited to, for conversations.info's is_member. */
  readonly botChannels = new Set<string>();
  private readonly failures = new Map<
    string,
    Array<{ pass?: true; status: number; retryAfter?: string; error?: string }>
  >();
  private readonly validTokens: Set<string>;
  private tsCounter = 0;
  private server?: Server;
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  /** Open Socket Mode connections, newest last; `socketsOpened` counts every one ever opened. */
  readonly socketConnections: WebSocket[] = [];
  socketsOpened = 0;
  /** The TCP stream under each Socket Mode connection, to silence it. */
  private readonly streams = new WeakMap<WebSocket, Duplex>();
  /** Connections dropped silently: never read, written or pinged again; closed at `stop()`. */
  private readonly deadSockets: WebSocket[] = [];
  private readonly socketPingIntervalMs: number;
  private pinger?: NodeJS.Timeout;
  private readonly acks = new Map<string, (ack: Record<string, unknown>) => void>();
  baseUrl = '';

  constructor(options: { tokens?: string[]; socketPingIntervalMs?: number } = {}) {
    this.validTokens = new Set(options.tokens ?? ['xoxb-firebreak-test']);
    this.socketPingIntervalMs = options.socketPingIntervalMs ?? 5_000;
  }

  /** The `slackApiUrl` for WebClient (ends with `/api/`). */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://slack');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== '/socket' || !this.tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.sockets.handleUpgrade(req, socket, head, (ws) => {
        this.streams.set(ws, socket);
        this.onSocket(ws);
      });
    });
    this.pinger = setInterval(() => {
      for (const ws of this.socketConnections) ws.ping(`standin ${Date.now()}`);
    }, this.socketPingIntervalMs);
    this.pinger.unref();
    this.baseUrl = `http://127.0.0.1:${await listenOnLoopback(server)}`;
    return this.apiUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    clearInterval(this.pinger);
    for (const ws of [...this.socketConnections, ...this.deadSockets]) ws.terminate();
    this.sockets.close();
    await closeServer(server);
  }

  private onSocket(ws: WebSocket): void {
    this.socketsOpened += 1;
    this.socketConnections.push(ws);
    ws.on('close', () => {
      const index = this.socketConnections.indexOf(ws);
      if (index >= 0) this.socketConnections.splice(index, 1);
    });
    ws.on('message', (data) => {
      let ack: Record<string, unknown>;
      try {
        ack = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      const id = typeof ack.envelope_id === 'string' ? ack.envelope_id : '';
      this.acks.get(id)?.(ack);
      this.acks.delete(id);
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.socketConnections.length,
        debug_info: { host: 'firebreak-standin', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0FIREBREAK' },
      }),
    );
  }

  /**
   * Sends an envelope (`slash_commands`, `interactive`, `events_api`) on the newest Socket Mode
   * connection and resolves with the app's acknowledgement.
   */
  sendEnvelope(type: string, payload: Record<string, unknown>, timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const ws = this.socketConnections.at(-1);
    if (!ws) return Promise.reject(new Error('no Socket Mode connection'));
    const envelopeId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(envelopeId);
        reject(new Error(`no acknowledgement of envelope ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      ws.send(
        JSON.stringify({
          envelope_id: envelopeId,
          type,
          payload,
          accepts_response_payload: type !== 'events_api',
          retry_attempt: 0,
          retry_reason: '',
        }),
      );
    });
  }

  /** Tells the newest connection that Slack is about to refresh it, as Slack does every few hours. */
  requestRefresh(): void {
    this.socketConnections
      .at(-1)
      ?.send(
        JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'firebreak-standin' } }),
      );
  }

  /**
   * The newest connection goes dead without a close: the stand-in stops reading it (so the
   * client's pings get no pong and its close frame is never seen) and stops pinging it.
   */
  dropSocketSilently(): void {
    const ws = this.socketConnections.pop();
    if (!ws) return;
    this.deadSockets.push(ws);
    this.streams.get(ws)?.pause();
  }

  /**
   * Until the returned function is called, response_url posts get no answer and are not recorded —
   * a Slack that hangs — so a test can kill the poster while it waits. Releasing drops them.
   */
  holdResponseUrls(): () => void {
    this.heldResponses = [];
    return () => {
      const held = this.heldResponses ?? [];
      this.heldResponses = undefined;
      for (const res of held) res.destroy();
    };
  }

  /** A fresh response_url, as Slack puts in each command and interaction payload. */
  responseUrl(): string {
    const id = randomUUID();
    this.responseUrls.set(id, { issuedAt: Date.now(), uses: 0 });
    return `${this.baseUrl}/response/${id}`;
  }

  /**
   * The next `times` calls of `method` fail before anything is stored: 429 with Retry-After
   * (seconds, as text) by default, or `{ok:false, error}` with status 200 when `error` is given.
   */
  failNext(
    method: string,
    times: number,
    options: { status?: number; retryAfter?: string; error?: string } = {},
  ): void {
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) {
      queue.push({
        status: options.status ?? (options.error ? 200 : 429),
        retryAfter: options.retryAfter,
        error: options.error,
      });
    }
    this.failures.set(method, queue);
  }

  /**
   * A rate-limit storm: of the next `calls` calls of `method`, every `every`-th one is answered
   * 429 with Retry-After, starting with the first.
   */
  storm(method: string, options: { calls: number; every?: number; retryAfter?: string }): void {
    const queue = this.failures.get(method) ?? [];
    const every = options.every ?? 2;
    for (let i = 0; i < options.calls; i++) {
      queue.push(
        i % every === 0 ? { status: 429, retryAfter: options.retryAfter ?? '1' } : { pass: true, status: 200 },
      );
    }
    this.failures.set(method, queue);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Top-level messages (not thread replies) of a channel, oldest first. */
  channelMessages(channel: string): StoredMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.thread_ts === undefined);
  }

  /** Replies in a thread, in the order Slack stored them (ts order). */
  thread(channel: string, ts: string): StoredMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.thread_ts === ts);
  }

  /** Polls until `predicate` holds; throws with `what` after `timeoutMs`. */
  async waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`Slack stand-in: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A file by id, once completed (shared). */
  file(id: string): UploadedFile | undefined {
    const file = this.uploads.get(id);
    return file?.completed ? file : undefined;
  }

  /** Files shared in a thread (or a channel, with no thread_ts), in upload order. */
  filesIn(channel: string, threadTs?: string): UploadedFile[] {
    return [...this.uploads.values()].filter(
      (f) => f.completed && f.channel === channel && (threadTs === undefined || f.threadTs === threadTs),
    );
  }

  private async receiveUpload(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'POST') return text(405, 'method_not_allowed');
    const file = this.uploads.get(this.uploadKeys.get(key) ?? '');
    if (!file || file.completed) {
      req.resume();
      return text(404, 'upload_url_not_found');
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_UPLOAD_BYTES);
    } catch {
      return text(413, 'file_too_large');
    }
    const contentType = String(req.headers['content-type'] ?? '');
    if (contentType.startsWith('multipart/form-data')) {
      const part = multipartFile(body, contentType);
      if (!part) return text(400, 'invalid_form_data');
      file.bytes = part;
      file.encoding = 'multipart';
    } else {
      file.bytes = body;
      file.encoding = 'raw';
    }
    return text(200, `OK - ${file.bytes.length}`);
  }

  private nextTs(): string {
    this.tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const upload = /^\/upload\/v1\/([\w-]+)$/.exec(new URL(req.url ?? '/', 'http://slack').pathname);
    if (upload) return this.receiveUpload(req, res, upload[1]!);
    let raw: string;
    try {
      raw = (await readBody(req, MAX_BODY_BYTES)).toString('utf8');
    } catch {
      return reply(413, { ok: false, error: 'request_too_large' });
    }
    const url = new URL(req.url ?? '/', 'http://slack');
    if (req.method !== 'POST') return reply(405, { ok: false, error: 'method_not_allowed' });

    const responseMatch = /^\/response\/([\w-]+)$/.exec(url.pathname);
    if (responseMatch) {
      const text = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(body);
      };
      if (this.heldResponses) return void this.heldResponses.push(res);
      const issued = this.responseUrls.get(responseMatch[1]!);
      if (!issued) return text(404, 'no_service');
      if (issued.uses >= RESPONSE_URL_MAX_USES || Date.now() - issued.issuedAt > RESPONSE_URL_LIFETIME_MS) {
        return text(404, 'expired_url');
      }
      let body: unknown;
      try {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) throw new Error('not JSON');
        body = JSON.parse(raw);
      } catch {
        return text(400, 'invalid_payload');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return text(400, 'invalid_payload');
      const message = body as Record<string, unknown>;
      if (!message.text && !message.blocks && message.delete_original !== true) return text(400, 'no_text');
      issued.uses++;
      this.responses.push({ id: responseMatch[1]!, body: message, at: Date.now() });
      return text(200, 'ok');
    }

    const methodMatch = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (!methodMatch) return reply(404, { ok: false, error: 'unknown_method' });
    const method = methodMatch[1]!;
    const contentType = String(req.headers['content-type'] ?? '');
    const params = parseParams(raw, contentType);
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    const token = auth?.[1] ?? (typeof params.token === 'string' ? params.token : undefined);
    delete params.token;
    const record = (status: number, error?: string): RecordedCall => {
      const call: RecordedCall = { method, params, token, contentType, status, at: Date.now() };
      if (error) call.error = error;
      this.calls.push(call);
      return call;
    };

    const failure = this.failures.get(method)?.shift();
    if (failure && !failure.pass) {
      if (failure.status === 429) {
        record(429, 'ratelimited');
        return reply(
          429,
          { ok: false, error: 'ratelimited' },
          failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
        );
      }
      record(failure.status, failure.error ?? 'internal_error');
      return reply(failure.status, { ok: false, error: failure.error ?? 'internal_error' });
    }
    // JSON bodies must carry the token in the header: Slack ignores a `token` field in JSON.
    if (!token) {
      record(200, 'not_authed');
      return reply(200, { ok: false, error: 'not_authed' });
    }
    if (!this.validTokens.has(token)) {
      record(200, 'invalid_auth');
      return reply(200, { ok: false, error: 'invalid_auth' });
    }
    // App-level tokens open Socket Mode connections and nothing else; bot tokens cannot open them.
    if ((method === 'apps.connections.open') !== token.startsWith('xapp-')) {
      record(200, 'not_allowed_token_type');
      return reply(200, { ok: false, error: 'not_allowed_token_type' });
    }
    const result = this.dispatch(method, params);
    record(200, result.ok ? undefined : String(result.error));
    return reply(200, result);
  }

  private dispatch(method: string, params: Record<string, unknown>): Record<string, unknown> {
    const fail = (error: string) => ({ ok: false, error });
    const channel = typeof params.channel === 'string' ? params.channel : undefined;
    const text = typeof params.text === 'string' ? params.text : undefined;
    const blocks = params.blocks;
    const checkContent = (): string | undefined => {
      if (blocks !== undefined) {
        if (!Array.isArray(blocks)) return 'invalid_blocks_format';
        if (!validBlocks(blocks)) return 'invalid_blocks';
      }
      if (!text && !(Array.isArray(blocks) && blocks.length > 0)) return 'no_text';
      if (text && text.length > 40_000) return 'msg_too_long';
      return undefined;
    };

    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://firebreak-test.slack.com/',
          team: 'Firebreak Test',
          user: 'firebreak',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        };
      case 'conversations.info': {
        if (!channel || !/^[CG][A-Z0-9]{2,}$/.test(channel)) return { ok: false, error: 'channel_not_found' };
        return { ok: true, channel: { id: channel, is_channel: true, is_member: this.botChannels.has(channel) } };
      }
      case 'chat.postMessage': {
        if (!channel || !/^[CGD][A-Z0-9]+$/.test(channel)) return fail('channel_not_found');
        const problem = checkContent();
        if (problem) return fail(problem);
        const ts = this.nextTs();
        const threadTs = typeof params.thread_ts === 'string' ? params.thread_ts : undefined;
        if (threadTs && !this.message(channel, threadTs)) return fail('thread_not_found');
        const stored: StoredMessage = {
          channel,
          ts,
          ...(threadTs ? { thread_ts: threadTs } : {}),
          ...(text !== undefined ? { text } : {}),
          ...(Array.isArray(blocks) ? { blocks } : {}),
          versions: [{ text, blocks: Array.isArray(blocks) ? blocks : undefined }],
          ...(params.reply_broadcast === true || params.reply_broadcast === 'true' ? { reply_broadcast: true } : {}),
        };
        if (params.metadata !== undefined) {
          const metadata = parseMetadata(params.metadata);
          if (!metadata) return fail('invalid_metadata_format');
          stored.metadata = metadata;
        }
        this.messages.push(stored);
        return {
          ok: true,
          channel,
          ts,
          message: {
            type: 'message',
            subtype: 'bot_message',
            text: text ?? '',
            user: this.botUserId,
            bot_id: this.botId,
            ts,
            ...(threadTs ? { thread_ts: threadTs } : {}),
            ...(Array.isArray(blocks) ? { blocks } : {}),
          },
        };
      }
      case 'conversations.history': {
        // Newest first, `limit` per page (default 100, at most 999), a cursor for the next; a bot
        // reads only channels it was invited to (botChannels), whatever chat:write.public allows.
        if (!channel || !/^[CG][A-Z0-9]{2,}$/.test(channel)) return fail('channel_not_found');
        if (!this.botChannels.has(channel)) return fail('not_in_channel');
        const limit = Math.min(Math.max(Number(params.limit ?? 100) || 100, 1), 999);
        const start = typeof params.cursor === 'string' && params.cursor ? Number(params.cursor) : 0;
        if (!Number.isInteger(start) || start < 0) return fail('invalid_cursor');
        const withMetadata = params.include_all_metadata === true || params.include_all_metadata === 'true';
        const newestFirst = this.channelMessages(channel).reverse();
        const page = newestFirst.slice(start, start + limit);
        const more = start + limit < newestFirst.length;
        return {
          ok: true,
          messages: page.map((m) => ({
            type: 'message',
            subtype: 'bot_message',
            user: this.botUserId,
            bot_id: this.botId,
            ts: m.ts,
            text: m.text ?? '',
            ...(m.blocks ? { blocks: m.blocks } : {}),
            ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
          })),
          has_more: more,
          response_metadata: { next_cursor: more ? String(start + limit) : '' },
        };
      }
      case 'chat.update': {
        if (!channel) return fail('channel_not_found');
        const ts = typeof params.ts === 'string' ? params.ts : undefined;
        const stored = ts ? this.message(channel, ts) : undefined;
        if (!stored) return fail('message_not_found');
        const problem = checkContent();
        if (problem) return fail(problem);
        stored.text = text;
        stored.blocks = Array.isArray(blocks) ? blocks : undefined;
        stored.versions.push({ text, blocks: stored.blocks });
        return {
          ok: true,
          channel,
          ts: stored.ts,
          text: text ?? '',
          message: { text: text ?? '', blocks: stored.blocks },
        };
      }
      case 'chat.postEphemeral': {
        if (!channel || !/^[CGD][A-Z0-9]+$/.test(channel)) return fail('channel_not_found');
        const user = typeof params.user === 'string' ? params.user : undefined;
        if (!user) return fail('user_not_in_channel');
        const problem = checkContent();
        if (problem) return fail(problem);
        this.ephemerals.push({
          channel,
          user,
          ...(text !== undefined ? { text } : {}),
          ...(Array.isArray(blocks) ? { blocks } : {}),
          ...(typeof params.thread_ts === 'string' ? { thread_ts: params.thread_ts } : {}),
        });
        return { ok: true, message_ts: this.nextTs() };
      }
      case 'chat.getPermalink': {
        const ts = typeof params.message_ts === 'string' ? params.message_ts : undefined;
        if (!channel || !ts || !this.message(channel, ts)) return fail('message_not_found');
        return {
          ok: true,
          channel,
          permalink: `https://firebreak-test.slack.com/archives/${channel}/p${ts.replace('.', '')}`,
        };
      }
      case 'apps.connections.open': {
        const ticket = randomUUID();
        this.tickets.add(ticket);
        return { ok: true, url: `${this.baseUrl.replace('http', 'ws')}/socket?ticket=${ticket}` };
      }
      case 'files.getUploadURLExternal': {
        const filename = typeof params.filename === 'string' ? params.filename : '';
        const length = Number(params.length);
        // Slack: "missing_argument — typically only occurs when the length provided is 0".
        if (!filename || !Number.isInteger(length) || length <= 0) return fail('missing_argument');
        this.fileCounter += 1;
        const id = `F0FB${String(this.fileCounter).padStart(7, '0')}`;
        const key = randomUUID();
        this.uploadKeys.set(key, id);
        this.uploads.set(id, { id, filename, length, completed: false });
        return { ok: true, upload_url: `${this.baseUrl}/upload/v1/${key}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const files = params.files;
        if (!Array.isArray(files) || files.length === 0) return fail('invalid_arguments');
        const channelId = typeof params.channel_id === 'string' ? params.channel_id : undefined;
        if (channelId !== undefined && !/^[CGD][A-Z0-9]+$/.test(channelId)) return fail('channel_not_found');
        const threadTs = typeof params.thread_ts === 'string' ? params.thread_ts : undefined;
        const wanted: { file: UploadedFile; title?: string }[] = [];
        for (const entry of files as unknown[]) {
          const id = entry && typeof entry === 'object' ? (entry as { id?: unknown }).id : undefined;
          const file = typeof id === 'string' ? this.uploads.get(id) : undefined;
          if (!file || file.completed || file.bytes === undefined) return fail('file_not_found');
          const title = (entry as { title?: unknown }).title;
          wanted.push({ file, ...(typeof title === 'string' ? { title } : {}) });
        }
        for (const { file, title } of wanted) {
          file.completed = true;
          file.title = title ?? file.filename;
          if (channelId) file.channel = channelId;
          if (threadTs) file.threadTs = threadTs;
          if (typeof params.initial_comment === 'string') file.initialComment = params.initial_comment;
        }
        return { ok: true, files: wanted.map(({ file }) => ({ id: file.id, title: file.title })) };
      }
      case 'usergroups.users.list': {
        const group = typeof params.usergroup === 'string' ? params.usergroup : undefined;
        const users = group ? this.usergroups.get(group) : undefined;
        if (!users) return fail('no_such_subteam');
        return { ok: true, users };
      }
      default:
        return fail('unknown_method');
    }
  }
}

/**
 * Signs a request the way Slack does: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` with
 * the app's signing secret, sent with the timestamp in X-Slack-Request-Timestamp.
 */
export function signSlackRequest(
  signingSecret: string,
  rawBody: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${rawBody}`).digest('hex');
  return {
    'x-slack-request-timestamp': String(timestampSeconds),
    'x-slack-signature': `v0=${signature}`,
    'content-type': 'application/x-www-form-urlencoded',
  };
}

/** A slash-command body exactly as Slack form-encodes it. */
export function slashCommandBody(fields: {
  command: string;
  text: string;
  userId: string;
  userName: string;
  channelId: string;
  responseUrl: string;
}): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0FIREBREAK',
    team_domain: 'firebreak-test',
    channel_id: fields.channelId,
    channel_name: 'incidents',
    user_id: fields.userId,
    user_name: fields.userName,
    command: fields.command,
    text: fields.text,
    api_app_id: 'A0FIREBREAK',
    is_enterprise_install: 'false',
    response_url: fields.responseUrl,
    trigger_id: `${Date.now()}.${Math.floor(Math.random() * 1e9)}.abcdef`,
  }).toString();
}

/** A block_actions interaction body: form field `payload` holding the JSON, as Slack sends it. */
export function blockActionsBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Form fields that hold JSON (blocks, attachments, metadata) are decoded, as Slack does. */
function parseParams(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(raw);
      return parsed && typeof parsed === 'object' ? { ...(parsed as Record<string, unknown>) } : {};
    } catch {
      return {};
    }
  }
  const params: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (['blocks', 'attachments', 'metadata', 'files'].includes(key)) {
      try {
        params[key] = JSON.parse(value);
      } catch {
        params[key] = value;
      }
    } else {
      params[key] = value;
    }
  }
  return params;
}

/** The first file part of a multipart/form-data body (the part with a filename, else the first). */
function multipartFile(body: Buffer, contentType: string): Buffer | undefined {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: string; content: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    if (split >= 0)
      parts.push({ headers: part.subarray(0, split).toString('utf8'), content: part.subarray(split + 4) });
    at = next;
  }
  return (parts.find((p) => /filename=/i.test(p.headers)) ?? parts[0])?.content;
}

function validBlocks(blocks: unknown[]): boolean {
  if (blocks.length > MAX_BLOCKS) return false;
  return blocks.every((block) => {
    if (!block || typeof block !== 'object') return false;
    const b = block as { type?: unknown; text?: { text?: unknown }; fields?: Array<{ text?: unknown }> };
    if (typeof b.type !== 'string') return false;
    const text = typeof b.text?.text === 'string' ? b.text.text : '';
    if (b.type === 'header') return text.length > 0 && text.length <= MAX_HEADER_TEXT;
    if (b.type === 'section') {
      if (text.length > MAX_SECTION_TEXT) return false;
      if (b.fields && (b.fields.length > 10 || b.fields.some((f) => String(f.text ?? '').length > 2000))) return false;
      return text.length > 0 || (b.fields?.length ?? 0) > 0;
    }
    return true;
  });
}

/** chat.postMessage's `metadata`: a JSON object (or its string form) with event_type and event_payload. */
function parseMetadata(value: unknown): StoredMessage['metadata'] | undefined {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const { event_type: eventType, event_payload: payload } = parsed as Record<string, unknown>;
  if (typeof eventType !== 'string' || !payload || typeof payload !== 'object') return undefined;
  return { event_type: eventType, event_payload: payload as Record<string, unknown> };
}
