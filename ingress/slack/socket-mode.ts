/**
 * Socket Mode: with SLACK_APP_TOKEN set, Firebreak opens the connection to Slack itself
 * (`apps.connections.open` → WebSocket), so no public URL is needed. Slash commands and clicks
 * arrive as envelopes and run through the same handlers as HTTP; each envelope is acknowledged
 * with its `envelope_id` (a command's answer rides on the acknowledgement). Requests need no
 * signature here: the connection itself is authenticated by the app-level token.
 *
 * Slack's own client, @slack/socket-mode, speaks the protocol: `hello`, acknowledgements,
 * `disconnect` (refresh) and the ping/pong liveness checks that notice a link that died without
 * a close. Reconnecting stays ours: the client's automatic reconnect gives up on an unreachable
 * Slack and leaves its failure unhandled, where a 3 a.m. outage needs a bounded backoff that never
 * stops trying and never takes the process down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LogLevel, SocketModeClient, type Logger as SlackLogger } from '@slack/socket-mode';
import type { FastifyBaseLogger } from 'fastify';

export interface SocketModeConnection {
  /** Resolves on Slack's first `hello`. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export interface SocketModeLiveness {
  /** How long a ping to Slack may go unanswered before the link counts as dead; 5 s by default. */
  clientPingTimeoutMs?: number;
  /** How long Slack may stay silent between its pings before the link counts as dead; 30 s by default. */
  serverPingTimeoutMs?: number;
}

interface SlackEnvelope {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  body?: Record<string, unknown>;
}

const MAX_BACKOFF_MS = 30_000;
/** Connection attempts are at least this far apart, however a link fails. */
const MIN_ATTEMPT_SPACING_MS = 1_000;
/** Closing waits this long for Slack's close frame, then tears the socket down. */
const STOP_TIMEOUT_MS = 2_000;

export function startSocketMode(
  options: {
    appToken: string;
    slackApiUrl?: string;
    /** The app's logger (Fastify's view of the process's pino logger). */
    logger: FastifyBaseLogger;
    /** Answers a slash command (fields as in the HTTP form); the answer is sent with the ack. */
    onCommand: (fields: URLSearchParams) => Promise<unknown>;
    /** Handles a click (form field `payload`), after the envelope is acknowledged. */
    onInteraction: (fields: URLSearchParams) => Promise<void>;
  } & SocketModeLiveness,
): SocketModeConnection {
  const logger = options.logger.child({ component: 'socket-mode' });
  const client = new SocketModeClient({
    appToken: options.appToken,
    logger: slackLogger(logger),
    autoReconnectEnabled: false,
    clientPingTimeout: options.clientPingTimeoutMs,
    serverPingTimeout: options.serverPingTimeoutMs,
    // One attempt per connection: the loop below does the retrying, with its own backoff.
    clientOptions: { slackApiUrl: options.slackApiUrl, retryConfig: { retries: 0 }, timeout: 10_000 },
  });

  let stopped = false;
  let failures = 0;
  let lastAttemptAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  client.on('connected', () => {
    failures = 0;
    markReady();
  });
  // A refresh, a ping that went unanswered, a dropped socket, a failed start: open the next link.
  client.on('disconnected', () => reconnect());

  const reconnect = () => {
    if (stopped || timer) return;
    const backoff = failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(failures - 1, 5));
    const delay = Math.max(backoff, lastAttemptAt + MIN_ATTEMPT_SPACING_MS - Date.now());
    failures += 1;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
  };

  async function connect(): Promise<void> {
    if (stopped) return;
    lastAttemptAt = Date.now();
    try {
      await client.start();
    } catch (err) {
      logger.warn({ error: (err as Error).message }, 'Socket Mode: connecting to Slack failed; retrying');
      reconnect();
    }
  }

  client.on('slash_commands', async ({ ack, body }: SlackEnvelope) => {
    const fields = new URLSearchParams();
    for (const [key, value] of Object.entries(body ?? {})) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        fields.set(key, String(value));
      }
    }
    await settle('slash_commands', ack, async () => {
      const answer = await options.onCommand(fields);
      return answer && typeof answer === 'object' ? (answer as Record<string, unknown>) : undefined;
    });
  });

  client.on('interactive', async ({ ack, body }: SlackEnvelope) => {
    // Acknowledged first: the click's work runs after Slack's 3 s, like over HTTP.
    await settle('interactive', ack, async () => undefined);
    if (!body) return;
    try {
      await options.onInteraction(new URLSearchParams({ payload: JSON.stringify(body) }));
    } catch (err) {
      logger.warn({ err }, 'Socket Mode: an interaction failed');
    }
  });

  // Anything else (events we do not subscribe to) is acknowledged so Slack does not redeliver it.
  client.on('slack_event', ({ ack, type }: SlackEnvelope & { type: string }) => {
    if (type !== 'slash_commands' && type !== 'interactive') void settle(type, ack, async () => undefined);
  });

  /** Acknowledges an envelope with what `answer` returns; a failed answer is still acknowledged, empty. */
  async function settle(
    type: string,
    ack: SlackEnvelope['ack'],
    answer: () => Promise<Record<string, unknown> | undefined>,
  ): Promise<void> {
    let response: Record<string, unknown> | undefined;
    try {
      response = await answer();
    } catch (err) {
      logger.warn({ err, type }, 'Socket Mode: an envelope failed');
    }
    try {
      await ack(response);
    } catch (err) {
      // The link closed under us; Slack redelivers the envelope on the next one.
      logger.warn({ err, type }, 'Socket Mode: an acknowledgement could not be sent');
    }
  }

  void connect();
  return {
    ready,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const giveUp = new AbortController();
      const closed = await Promise.race([
        client.disconnect().then(() => true),
        sleep(STOP_TIMEOUT_MS, false, { signal: giveUp.signal }),
      ]);
      giveUp.abort();
      // Slack never answered the close: a second disconnect tears the socket down at once.
      if (!closed) await client.disconnect();
    },
  };
}

const SLACK_LEVELS = new Map<string, LogLevel>([
  ['trace', LogLevel.DEBUG],
  ['debug', LogLevel.DEBUG],
  ['info', LogLevel.INFO],
  ['warn', LogLevel.WARN],
]);

/** @slack/socket-mode's logger interface, writing into the process's pino logger. */
function slackLogger(logger: FastifyBaseLogger): SlackLogger {
  let current = logger;
  const level = (): LogLevel => SLACK_LEVELS.get(current.level) ?? LogLevel.ERROR;
  const line = (parts: unknown[]) => parts.map((part) => (typeof part === 'string' ? part : String(part))).join(' ');
  return {
    // The client logs each connection's life at info; for us that is detail, the failures are not.
    debug: (...parts) => current.debug(line(parts)),
    info: (...parts) => current.debug(line(parts)),
    warn: (...parts) => current.warn(line(parts)),
    error: (...parts) => current.error(line(parts)),
    getLevel: level,
    // FIREBREAK_LOG_LEVEL decides; the client only calls this when given a logLevel, which it is not.
    setLevel: () => undefined,
    setName: (name) => (current = logger.child({ name })),
  };
}
