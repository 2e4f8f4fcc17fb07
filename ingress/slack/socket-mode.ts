/**
 * Socket Mode: with SLACK_APP_TOKEN set, Firebreak opens the connection to Slack itself
 * (`apps.connections.open` → WebSocket), so no public URL is needed. Slash commands and clicks
 * arrive as envelopes and run through the same handlers as HTTP; each envelope is acknowledged
 * with its `envelope_id` (a command's answer rides on the acknowledgement). Requests need no
 * signature here: the connection itself is authenticated by the app-level token.
 *
 * The connection is renewed when Slack asks (`disconnect`) or drops it, with a bounded backoff.
 */
import WebSocket from 'ws';
import { WebClient } from '@slack/web-api';
import { z } from 'zod';

export interface SocketModeConnection {
  /** Resolves on Slack's first `hello`. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const envelopeSchema = z.object({
  envelope_id: z.string().min(1),
  type: z.string(),
  payload: z.record(z.string(), z.unknown()).optional(),
});

const MAX_BACKOFF_MS = 30_000;

export function startSocketMode(options: {
  appToken: string;
  slackApiUrl?: string;
  log: (message: string) => void;
  /** Answers a slash command (fields as in the HTTP form); the answer is sent with the ack. */
  onCommand: (fields: URLSearchParams) => Promise<unknown>;
  /** Handles a click (form field `payload`), after the envelope is acknowledged. */
  onInteraction: (fields: URLSearchParams) => Promise<void>;
}): SocketModeConnection {
  const { log } = options;
  const web = new WebClient(options.appToken, {
    slackApiUrl: options.slackApiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
  });
  let stopped = false;
  let current: WebSocket | undefined;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const schedule = (delayMs?: number) => {
    if (stopped || timer) return;
    const delay = delayMs ?? Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(failures, 5));
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
  };

  const send = (socket: WebSocket, message: Record<string, unknown>) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };

  async function onMessage(socket: WebSocket, text: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return log('Socket Mode: a message that is not JSON was ignored');
    }
    const type = (raw as { type?: unknown })?.type;
    if (type === 'hello') {
      failures = 0;
      markReady();
      return;
    }
    if (type === 'disconnect') {
      // Slack is about to close this link (refresh, server restart): open the next one now.
      log(`Socket Mode: Slack asked to reconnect (${String((raw as { reason?: unknown }).reason)})`);
      if (current === socket) current = undefined;
      socket.close(1000);
      schedule(0);
      return;
    }
    const envelope = envelopeSchema.safeParse(raw);
    if (!envelope.success) return log(`Socket Mode: ignored a message of type ${String(type)}`);
    const { envelope_id: envelopeId, payload } = envelope.data;
    try {
      if (envelope.data.type === 'slash_commands' && payload) {
        const fields = new URLSearchParams();
        for (const [key, value] of Object.entries(payload)) {
          if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
            fields.set(key, String(value));
          }
        }
        send(socket, { envelope_id: envelopeId, payload: await options.onCommand(fields) });
      } else if (envelope.data.type === 'interactive' && payload) {
        send(socket, { envelope_id: envelopeId });
        await options.onInteraction(new URLSearchParams({ payload: JSON.stringify(payload) }));
      } else {
        send(socket, { envelope_id: envelopeId });
      }
    } catch (err) {
      log(`Socket Mode: envelope ${envelope.data.type} failed: ${(err as Error).message}`);
      send(socket, { envelope_id: envelopeId });
    }
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    let url: string | undefined;
    try {
      url = (await web.apps.connections.open()).url;
      if (!url) throw new Error('apps.connections.open returned no url');
    } catch (err) {
      failures += 1;
      log(`Socket Mode: apps.connections.open failed: ${(err as Error).message}`);
      return schedule();
    }
    if (stopped) return;
    const socket = new WebSocket(url, { handshakeTimeout: 10_000 });
    current = socket;
    socket.on('message', (data) => void onMessage(socket, data.toString()));
    socket.on('error', (err) => log(`Socket Mode: ${err.message}`));
    socket.on('close', () => {
      if (current !== socket) return;
      current = undefined;
      failures += 1;
      schedule();
    });
  }

  void connect();
  return {
    ready,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const socket = current;
      current = undefined;
      if (!socket || socket.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2_000);
        socket.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        socket.close(1000);
      });
    },
  };
}
