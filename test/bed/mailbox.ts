/**
 * Reads what the bed's SMTP server delivered: the Maildir of test/bed/smtp.ts, one file per
 * message. Headers are unfolded and RFC 2047 encoded words decoded, so a test compares
 * Subject/Message-ID/In-Reply-To with what it sent; the body is left raw.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface DeliveredMessage {
  file: string;
  /** Lower-cased header name → its values in order (a header may repeat: Received). */
  headers: Map<string, string[]>;
  body: string;
  /** The first value of a header, or undefined. */
  header(name: string): string | undefined;
  subject?: string;
  messageId?: string;
  inReplyTo?: string;
  references: string[];
  /** The recipient Exim delivered this copy for (its Envelope-to header). */
  envelopeTo?: string;
}

/** The bed's SMTP settings, or undefined when the `smtp` component is not running. */
export function bedSmtp():
  | {
      host: string;
      port: number;
      submissionPort: number;
      smtpsPort: number;
      user: string;
      password: string;
      ca: string;
      maildir: string;
    }
  | undefined {
  const env = process.env;
  if (!env.FIREBREAK_TEST_SMTP_MAILDIR || !env.FIREBREAK_TEST_SMTP_CA) return undefined;
  return {
    host: env.FIREBREAK_TEST_SMTP_HOST ?? '127.0.0.1',
    port: Number(env.FIREBREAK_TEST_SMTP_PORT),
    submissionPort: Number(env.FIREBREAK_TEST_SMTP_SUBMISSION_PORT),
    smtpsPort: Number(env.FIREBREAK_TEST_SMTPS_PORT),
    user: env.FIREBREAK_TEST_SMTP_USER ?? '',
    password: env.FIREBREAK_TEST_SMTP_PASSWORD ?? '',
    ca: env.FIREBREAK_TEST_SMTP_CA,
    maildir: env.FIREBREAK_TEST_SMTP_MAILDIR,
  };
}

/** Every delivered message, oldest first (Maildir names start with the delivery time). */
export async function readMailbox(maildir: string): Promise<DeliveredMessage[]> {
  const messages: DeliveredMessage[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(path.join(maildir, sub)).catch(() => [] as string[]);
    for (const name of names) {
      const file = path.join(maildir, sub, name);
      messages.push(parseMessage(file, await readFile(file, 'utf8')));
    }
  }
  return messages.sort((a, b) => path.basename(a.file).localeCompare(path.basename(b.file), 'en', { numeric: true }));
}

/** Waits (bounded) until a delivered message satisfies `match`, and returns it. */
export async function waitForMessage(
  maildir: string,
  match: (message: DeliveredMessage) => boolean,
  timeoutMs = 10_000,
): Promise<DeliveredMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await readMailbox(maildir)).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching message in ${maildir} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function parseMessage(file: string, raw: string): DeliveredMessage {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const head = split >= 0 ? text.slice(0, split) : text;
  const body = split >= 0 ? text.slice(split + 2) : '';
  const headers = new Map<string, string[]>();
  // A line starting with white space continues the previous header (RFC 5322 folding).
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), decodeEncodedWords(line.slice(colon + 1).trim())]);
  }
  const header = (name: string) => headers.get(name.toLowerCase())?.[0];
  return {
    file,
    headers,
    body,
    header,
    subject: header('subject'),
    messageId: header('message-id'),
    inReplyTo: header('in-reply-to'),
    references: (header('references') ?? '').split(/\s+/).filter(Boolean),
    envelopeTo: header('envelope-to'),
  };
}

/** `=?charset?B|Q?text?=` (RFC 2047), as mailers encode non-ASCII subjects and names. */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_all, charset: string, encoding: string, text: string) => {
      const bytes =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text
                .replace(/_/g, ' ')
                .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              'latin1',
            );
      try {
        return new TextDecoder(charset).decode(bytes);
      } catch {
        return bytes.toString('latin1');
      }
    });
}
