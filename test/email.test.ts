/**
 * The email tier's activity against the bed's real Exim: STARTTLS verified against the bed's CA and
 * AUTH (configured through FIREBREAK_SMTP_*), threading per incident, the same Message-ID for a
 * repeated send of one page, and a refused login as a permanent PROVIDER_REJECTED.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createEmailActivities, type PageEmailInput } from '../activities/email';
import { ErrorType } from '../common/errors';
import { parseEnv } from '../config/env';
import { smtpOptions } from '../worker/activities';
import { bedSmtp, readMailbox } from './bed/mailbox';

const smtp = bedSmtp();

describe('sendPageEmail', { skip: smtp ? false : 'needs the smtp bed component (--bed smtp)' }, () => {
  const bed = smtp!;
  const env = (password = bed.password) =>
    parseEnv({
      FIREBREAK_SMTP_HOST: 'localhost',
      FIREBREAK_SMTP_PORT: String(bed.submissionPort),
      FIREBREAK_SMTP_USER: bed.user,
      FIREBREAK_SMTP_PASSWORD: password,
      FIREBREAK_SMTP_CA: bed.ca,
      FIREBREAK_EMAIL_FROM: 'Firebreak <firebreak@firebreak.example.test>',
    });
  const activities = (password?: string) =>
    createEmailActivities({
      smtp: smtpOptions(env(password)),
      from: 'Firebreak <firebreak@firebreak.example.test>',
      link: (id) => `http://ui.example.test/workflows/${encodeURIComponent(id)}`,
    });
  const page = (to: string, pageKey: string, first: boolean): PageEmailInput => ({
    incidentId: `INC-${to.slice(0, 8)}`,
    workflowId: 'incident:p0-response:shop/checkout',
    tier: 'email on-call',
    to: [to],
    severity: 'P0',
    title: 'checkout is down',
    reason: 'not acknowledged within the P0 response time',
    pageKey,
    first,
  });

  test('STARTTLS + AUTH: pages threaded per incident, a repeated send keeps its Message-ID', async () => {
    const to = `${randomUUID().slice(0, 8)}@example.test`;
    const { sendPageEmail } = activities();
    const first = await sendPageEmail(page(to, '0@1', true));
    const again = await sendPageEmail(page(to, '0@1', true));
    const second = await sendPageEmail(page(to, '1@2', false));
    assert.equal(again.messageId, first.messageId);
    assert.notEqual(second.messageId, first.messageId);

    const delivered = await (async () => {
      for (let i = 0; i < 100; i++) {
        const mine = (await readMailbox(bed.maildir)).filter((m) => m.envelopeTo === to);
        if (mine.length === 3) return mine;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('three messages did not arrive');
    })();
    assert.deepEqual(
      delivered.map((m) => m.messageId).sort(),
      [first.messageId, first.messageId, second.messageId].sort(),
    );
    const reply = delivered.find((m) => m.messageId === second.messageId)!;
    assert.equal(reply.inReplyTo, first.messageId);
    assert.deepEqual(reply.references, [first.messageId]);
    assert.match(reply.body.replace(/=\n/g, ''), /http:\/\/ui\.example\.test\/workflows\/incident%3Ap0-response/);
    assert.match(reply.header('received') ?? '', /with esmtpsa/, 'sent over TLS, authenticated');
  });

  test('a refused login is permanent: PROVIDER_REJECTED, not retried', async () => {
    const { sendPageEmail } = activities('wrong-password');
    await assert.rejects(sendPageEmail(page(`${randomUUID().slice(0, 8)}@example.test`, '0@1', true)), (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, ErrorType.PROVIDER_REJECTED);
      assert.equal(err.nonRetryable, true);
      return true;
    });
  });

  test('not configured: NOT_CONFIGURED names the variables', async () => {
    const { sendPageEmail } = createEmailActivities({});
    await assert.rejects(sendPageEmail(page('x@example.test', '0@1', true)), /FIREBREAK_SMTP_HOST/);
  });
});
