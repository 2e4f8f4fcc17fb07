/**
 * Secrets never reach a postmortem: activity inputs and results can carry tokens (Authorization
 * headers of health checks, env values set on a deployment), and postmortems are pasted into wikis.
 */

export const REDACTED = '<redacted>';

/** Names whose values are secret: env variables, headers, object fields. */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH|COOKIE/i;
/** Fields that name things rather than hold secrets, although their names contain KEY or AUTH. */
const SAFE_NAMES = new Set(['key', 'dedupKey', 'groupKey', 'mitigationKey', 'author', 'authors']);

export function isSecretName(name: string): boolean {
  return !SAFE_NAMES.has(name) && SECRET_NAME.test(name);
}

const INLINE_SECRETS: [RegExp, string][] = [
  // Authorization values: `Bearer abc`, `Basic abc`, `token abc`.
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}/gi, `$1 ${REDACTED}`],
  // Header lines whose value is a credential without a scheme word (`Authorization: abc`, `X-Api-Key: abc`).
  [
    /\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token)(["']?\s*:\s*["']?)(?!(?:Bearer|Basic|Token)\s)([^\s"',;}]+)/gi,
    `$1$2${REDACTED}`,
  ],
  // JSON text inside a string (a response body in an error message): `"password": "…"`.
  [
    /("[A-Za-z0-9_.-]*(?:token|secret|password|passwd|api[_-]?key|credential|authorization|cookie)[A-Za-z0-9_.-]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi,
    `$1"${REDACTED}"`,
  ],
  // Slack incoming-webhook and workflow-trigger URLs: the path is the credential.
  [/(\bhttps:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/)[^\s"'<>)]+/g, `$1${REDACTED}`],
  // Slack tokens (bot, user, app, refresh, …), GitHub tokens, AWS access keys.
  [/\bxox[abeposr]-[A-Za-z0-9-]{6,}/g, REDACTED],
  [/\bxapp-[A-Za-z0-9-]{6,}/g, REDACTED],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, REDACTED],
  [/\bAKIA[0-9A-Z]{16}\b/g, REDACTED],
  // user:password@ in URLs.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:)[^\s/@]+@/gi, `$1${REDACTED}@`],
  // token=..., password=..., api_key=... in query strings and `NAME=value` text.
  [
    /\b([A-Za-z0-9_.-]*(?:token|secret|password|passwd|api[_-]?key|credential|auth)[A-Za-z0-9_.-]*)=([^\s&"']+)/gi,
    `$1=${REDACTED}`,
  ],
  // `NAME=value` for environment-style names ending in KEY and the like (STRIPE_KEY, PRIVATE_KEY);
  // upper case only, so names such as groupKey=… in ordinary text stay readable.
  [
    /\b([A-Z][A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH|COOKIE)[A-Z0-9_]*)=([^\s&"',]+)/g,
    `$1=${REDACTED}`,
  ],
];

/**
 * Text none of INLINE_SECRETS can match lacks all of these words and marks (each pattern needs at
 * least one): most timeline lines, so they skip the thirteen replacements.
 */
const MAYBE_SECRET =
  /token|secret|passw|key|credential|auth|cookie|bearer|basic|hooks\.slack|xox|xapp-|gh[pousr]_|akia|:\/\//i;

/**
 * Texts that needed the replacements, with their result: a long history repeats the same ones (a
 * health check's URL, an env change's summary, its timeline line) thousands of times, and the
 * thirteen replacements were most of an export's redaction time. Bounded: short texts only,
 * cleared when full.
 */
const redactedTexts = new Map<string, string>();
const REDACTED_TEXTS_MAX = 2048;
const REDACTED_TEXT_MAX_LENGTH = 512;

export function redactText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  const known = redactedTexts.get(text);
  if (known !== undefined) return known;
  let out = text;
  for (const [pattern, replacement] of INLINE_SECRETS) out = out.replace(pattern, replacement);
  if (text.length <= REDACTED_TEXT_MAX_LENGTH) {
    if (redactedTexts.size >= REDACTED_TEXTS_MAX) redactedTexts.clear();
    redactedTexts.set(text, out);
  }
  return out;
}

/**
 * A deep copy with secret values replaced: fields with secret-looking names, env entries
 * (`{ name, value }` pairs and `NAME: value` maps) whose names look secret, and tokens inside text.
 * Mitigation changes of a secret env variable keep their shape with both values redacted.
 */
export function redact<T>(value: T, depth = 0): T {
  return redactValue(value, depth) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 32) return '<too deep>';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const source = value as Record<string, unknown>;
  const named = typeof source.name === 'string' && isSecretName(source.name);
  const out: Record<string, unknown> = {};
  for (const [field, inner] of Object.entries(source)) {
    if (isSecretName(field) && inner !== null && inner !== undefined) {
      out[field] = REDACTED;
    } else if (named && ['value', 'previous', 'applied'].includes(field) && inner !== null && inner !== undefined) {
      out[field] = REDACTED;
    } else {
      out[field] = redactValue(inner, depth + 1);
    }
  }
  return out;
}
