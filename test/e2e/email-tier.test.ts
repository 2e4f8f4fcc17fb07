/**
 * The email escalation tier on the real engine and the bed's real SMTP server (Exim): an
 * unacknowledged incident pages an email tier; the worker is SIGKILLed after the server took the
 * first page but before the engine heard so (a loopback proxy withholds the server's answer to the
 * end of DATA), so Temporal retries the send on the restarted worker — and both copies in the real
 * mailbox carry one Message-ID. The re-page answers the first (In-Reply-To / References).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { bedSmtp, readMailbox, type DeliveredMessage } from '../bed/mailbox';
import { ALICE, SKIP_WITHOUT_E2E_BED, eventually, worldForSuite } from './harness';

const smtp = bedSmtp();

/**
 * Forwards SMTP to the bed's relay. Armed, the first session's reply to the end of DATA (and all
 * after it) is withheld: the message is delivered, the client never hears so.
 */
class SwallowingProxy {
  armed = true;
  swallowed = false;
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      this.sockets.add(client).add(upstream);
      const swallowThis = this.armed;
      this.armed = false;
      let dataEnded = false;
      let tail = '';
      client.on('data', (chunk: Buffer) => {
        tail = (tail + chunk.toString('latin1')).slice(-16);
        if (swallowThis && tail.includes('\r\n.\r\n')) dataEnded = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (dataEnded) {
          this.swallowed = true;
          return;
        }
        client.write(chunk);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe(
  'email tier end to end',
  { skip: SKIP_WITHOUT_E2E_BED || (smtp ? false : 'needs the smtp bed component') },
  () => {
    const recipient = `oncall-${randomUUID().slice(0, 8)}@example.test`;
    let proxy: SwallowingProxy;

    const world = worldForSuite(async () => {
      proxy = new SwallowingProxy({ host: smtp!.host, port: smtp!.port });
      await proxy.start();
      return {
        name: 'email',
        policy: { ackDeadline: { P0: '2s', P1: '2s', P2: '2s', P3: '2s' }, repageInterval: '25s', restoreAfter: '5s' },
        tiers: [{ name: 'email on-call', kind: 'email', to: [recipient] }],
        env: {
          FIREBREAK_SMTP_HOST: '127.0.0.1',
          FIREBREAK_SMTP_PORT: String(proxy.port),
          FIREBREAK_SMTP_REQUIRE_TLS: 'false',
          FIREBREAK_EMAIL_FROM: 'Firebreak <firebreak@firebreak.example.test>',
        },
      };
    });

    // After the world's own after hook (hooks run in the order registered): the engine stops first.
    after(async () => {
      await proxy?.stop();
    });

    test('page → worker killed mid-send → retried under one Message-ID; the re-page is threaded', async () => {
      const ns = world.namespace;
      await world.cluster.deploy(ns, 'mailer', { replicas: 1, limits: { memory: '256Mi' } });
      const answer = await world.slashCommand(
        `oom ${ns}/mailer heapProfile=false offerDisableTraceExport=false`,
        ALICE,
      );
      assert.equal(answer.status, 200, answer.body);
      const workflowId = incidentWorkflowId('oom-triage', { namespace: ns, deployment: 'mailer' });
      const mine = async () => (await readMailbox(smtp!.maildir)).filter((m) => m.envelopeTo === recipient);

      // The server has the first page; the engine is still waiting for its answer.
      const first = await eventually('the first page in the mailbox', async () => (await mine())[0], 30_000);
      assert.ok(proxy.swallowed || (await eventually('the reply withheld', () => proxy.swallowed, 5_000)));
      await world.engine.kill('SIGKILL');
      await world.engine.start();

      const copies = await eventually(
        'the retried send',
        async () => {
          const all = await mine();
          return all.length >= 2 ? all : undefined;
        },
        60_000,
      );
      const record = await world.record(workflowId);
      assert.ok(record, 'the incident is running');
      assert.match(first.subject ?? '', new RegExp(`${record.id}.*email on-call`));
      assert.match(first.body.replace(/=\n/g, ''), /Acknowledge: \/incident ack INC-/);
      assert.equal(first.header('x-firebreak-incident'), record.id);
      assert.equal(first.inReplyTo, undefined, 'the first page starts the thread');
      assert.deepEqual(
        [...new Set(copies.slice(0, 2).map((m: DeliveredMessage) => m.messageId))],
        [first.messageId],
        'the retried send reuses the Message-ID',
      );

      // The re-page is a new message in the same thread.
      const repage = await eventually(
        'the re-page',
        async () => (await mine()).find((m) => m.messageId !== first.messageId),
        90_000,
      );
      assert.equal(repage.inReplyTo, first.messageId);
      assert.deepEqual(repage.references, [first.messageId]);

      await world.cliOk(['ack', workflowId], 'carol');
      await world.cliOk(['resolve', workflowId], 'carol');
      await world.result(workflowId);
      const postmortem = await world.postmortem(workflowId);
      const emails = postmortem.escalations.filter((e) => e.channel === 'email');
      assert.ok(emails.length >= 2, JSON.stringify(postmortem.escalations));
      assert.ok(emails.every((e) => e.tier === 'email on-call'));
    });
  },
);
