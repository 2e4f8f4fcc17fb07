/**
 * The bed's SMTP server (test/bed/smtp.ts): mail sent with nodemailer arrives in the Maildir with
 * the headers it was sent with; STARTTLS and implicit TLS verify against the bed's CA, and the
 * submission ports refuse mail without the right AUTH.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { bedSmtp, waitForMessage } from './bed/mailbox';

const smtp = bedSmtp();

describe('the bed SMTP server', { skip: smtp ? false : 'needs the smtp bed component (--bed smtp)' }, () => {
  const bed = smtp!;
  const ca = smtp ? readFileSync(bed.ca, 'utf8') : '';
  const unique = () => randomUUID().slice(0, 8);

  test('a message over the plain relay arrives with its threading headers and non-ASCII subject', async () => {
    const id = unique();
    const transport = nodemailer.createTransport({ host: bed.host, port: bed.port, secure: false, ignoreTLS: true });
    const sent = await transport.sendMail({
      from: 'firebreak@example.test',
      to: `oncall-${id}@example.test`,
      subject: `[P1] checkout OOM — Gegenmaßnahme ${id}`,
      text: 'The incident timeline follows.',
      messageId: `<incident-${id}@firebreak.example.test>`,
      inReplyTo: `<card-${id}@firebreak.example.test>`,
      references: [`<card-${id}@firebreak.example.test>`],
    });
    transport.close();
    assert.deepEqual(sent.rejected, []);
    const message = await waitForMessage(bed.maildir, (m) => m.envelopeTo === `oncall-${id}@example.test`);
    assert.equal(message.subject, `[P1] checkout OOM — Gegenmaßnahme ${id}`);
    assert.equal(message.messageId, `<incident-${id}@firebreak.example.test>`);
    assert.equal(message.inReplyTo, `<card-${id}@firebreak.example.test>`);
    assert.deepEqual(message.references, [`<card-${id}@firebreak.example.test>`]);
    assert.match(message.body, /The incident timeline follows\./);
  });

  test('submission: STARTTLS verified against the bed CA, then AUTH, then delivery', async () => {
    const id = unique();
    const transport = nodemailer.createTransport({
      host: bed.host,
      port: bed.submissionPort,
      secure: false,
      requireTLS: true,
      auth: { user: bed.user, pass: bed.password },
      tls: { ca, servername: 'localhost' },
    });
    await transport.sendMail({ from: 'firebreak@example.test', to: `tls-${id}@example.test`, subject: id, text: 'x' });
    transport.close();
    const message = await waitForMessage(bed.maildir, (m) => m.envelopeTo === `tls-${id}@example.test`);
    // Exim records the protocol: esmtpsa = ESMTP + TLS + authenticated.
    assert.match(message.header('received') ?? '', /with esmtpsa/);
  });

  test('implicit TLS (smtps) with AUTH delivers', async () => {
    const id = unique();
    const transport = nodemailer.createTransport({
      host: bed.host,
      port: bed.smtpsPort,
      secure: true,
      auth: { user: bed.user, pass: bed.password },
      tls: { ca, servername: 'localhost' },
    });
    await transport.sendMail({
      from: 'firebreak@example.test',
      to: `smtps-${id}@example.test`,
      subject: id,
      text: 'x',
    });
    transport.close();
    const message = await waitForMessage(bed.maildir, (m) => m.envelopeTo === `smtps-${id}@example.test`);
    assert.match(message.header('received') ?? '', /with esmtpsa/);
  });

  test('submission refuses a sender without AUTH or with a wrong password, and an untrusted certificate fails', async () => {
    const send = (options: SMTPTransport.Options) => {
      const transport = nodemailer.createTransport(options);
      return transport
        .sendMail({ from: 'a@example.test', to: 'b@example.test', subject: 'refused', text: 'x' })
        .finally(() => transport.close());
    };
    const tls = { ca, servername: 'localhost' };
    await assert.rejects(
      send({ host: bed.host, port: bed.submissionPort, requireTLS: true, tls }),
      (
        err: Error & {
          responseCode?: number;
        },
      ) => {
        assert.equal(err.responseCode, 550);
        assert.match(err.message, /authentication required/);
        return true;
      },
    );
    await assert.rejects(
      send({
        host: bed.host,
        port: bed.submissionPort,
        requireTLS: true,
        tls,
        auth: { user: bed.user, pass: 'wrong' },
      }),
      (err: Error & { responseCode?: number }) => {
        assert.equal(err.responseCode, 535);
        return true;
      },
    );
    // Without the bed's CA the self-issued certificate is not trusted: TLS is really verified.
    await assert.rejects(
      send({ host: bed.host, port: bed.smtpsPort, secure: true, auth: { user: bed.user, pass: bed.password } }),
      /certificate/,
    );
  });
});
