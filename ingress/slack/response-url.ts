/**
 * POSTs a JSON message to a Slack `response_url` over `node:http` / `node:https` with keep-alive
 * agents. It replaces Node's `fetch` on this path for CPU alone: a loopback POST costs 0.2–0.5 ms
 * of CPU this way against 1.0–2.1 ms through `fetch` (docs/performance.md), and a burst of
 * `/runbook` commands posts one report each on the thread that also acknowledges the next ones.
 *
 * The contract is the one `fetch` gave the callers (ingress/slack/context.ts), kept on purpose:
 * - one deadline over the whole exchange, redirects included (an expired deadline rejects with the
 *   signal's TimeoutError, as `fetch` did); a body still arriving at the deadline does not matter,
 *   the status is the answer;
 * - redirects followed as `fetch` follows them (`redirect: 'follow'`): at most 20; 301/302 after a
 *   POST and 303 continue as a GET without the body; 307/308 repeat the POST; a redirect without a
 *   Location is the answer; only http: and https: URLs;
 * - no proxy (Node 20's `fetch` read no proxy variables either) and Node's default TLS settings
 *   (the bundled CAs plus NODE_EXTRA_CA_CERTS, certificates verified), as `fetch` had;
 * - resolves with the final status; the caller judges it (Slack answers 404 to an expired URL).
 */
import http from 'node:http';
import https from 'node:https';

/** `fetch`'s redirect limit. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * One agent per scheme for the thread: kept-alive sockets to Slack (or the stand-in) are reused
 * across reports. An idle socket is unreferenced by the agent (it holds no thread open) and
 * closed a second before the server's Keep-Alive hint, else after `IDLE_MS` — `fetch`'s default.
 */
const IDLE_MS = 4_000;
const agents: Record<'http:' | 'https:', http.Agent> = {
  'http:': new http.Agent({ keepAlive: true, timeout: IDLE_MS }),
  'https:': new https.Agent({ keepAlive: true, timeout: IDLE_MS }),
};

/** The headers `fetch` sent that a receiver may look at; the body's are added when there is one. */
const BASE_HEADERS = { accept: '*/*', 'user-agent': 'node' } as const;

/** POSTs `body` (JSON text) to `url` within `timeoutMs`; resolves with the final HTTP status. */
export async function postJson(url: string, body: string, timeoutMs: number): Promise<number> {
  const signal = AbortSignal.timeout(timeoutMs);
  let target = new URL(url);
  let method = 'POST';
  let payload: Buffer | undefined = Buffer.from(body);
  for (let redirects = 0; ; redirects++) {
    const { status, location } = await exchange(target, method, payload, signal);
    if (!REDIRECTS.has(status) || location === undefined) return status;
    if (redirects >= MAX_REDIRECTS) throw new TypeError(`response_url: more than ${MAX_REDIRECTS} redirects`);
    target = new URL(location, target);
    if (((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'HEAD')) {
      method = 'GET';
      payload = undefined;
    }
  }
}

/** One request; resolves once the answer's body has been read (or cut short), with its status. */
function exchange(
  url: URL,
  method: string,
  payload: Buffer | undefined,
  signal: AbortSignal,
): Promise<{ status: number; location?: string }> {
  const scheme = url.protocol;
  if (scheme !== 'http:' && scheme !== 'https:') {
    return Promise.reject(new TypeError(`response_url: unsupported scheme ${scheme}`));
  }
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  const client = scheme === 'https:' ? https : http;
  const headers: Record<string, string | number> = { ...BASE_HEADERS };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = client.request(url, { method, headers, agent: agents[scheme], signal }, (response) => {
      answered = true;
      const status = response.statusCode ?? 0;
      const location = REDIRECTS.has(status) ? response.headers.location : undefined;
      // Read to the end so the socket is reused; an error or the deadline while reading leaves the
      // status as the answer (`fetch`'s caller ignored a failed body read).
      response.on('error', () => undefined);
      response.once('close', () => resolve({ status, ...(location !== undefined ? { location } : {}) }));
      response.resume();
    });
    request.once('error', (err) => {
      if (answered) return;
      reject(signal.aborted ? (signal.reason as Error) : err);
    });
    request.end(payload);
  });
}
