/**
 * Test-bed component `smtp`: Exim (Debian's exim4-daemon-light) as a private mail server on
 * loopback, delivering every message, whatever its recipient, into one Maildir the tests read
 * (test/bed/mailbox.ts). Exim because it runs entirely from a config file of ours — spool, logs,
 * ports and mailbox in the bed's work dir, unprivileged (as Debian-exim when the bed is root) —
 * where Postfix and OpenSMTPD want a system-wide spool; and it speaks STARTTLS (GnuTLS) and AUTH.
 *
 * Three listeners, the three ways a mail relay is used:
 *   relay       plain SMTP on loopback, no AUTH needed (an internal relay); STARTTLS offered
 *   submission  STARTTLS, then AUTH PLAIN/LOGIN required before any recipient is accepted
 *   smtps       implicit TLS (like port 465), AUTH required
 *
 * Env for test processes:
 *   FIREBREAK_TEST_SMTP_HOST, FIREBREAK_TEST_SMTP_PORT (relay), FIREBREAK_TEST_SMTP_SUBMISSION_PORT,
 *   FIREBREAK_TEST_SMTPS_PORT, FIREBREAK_TEST_SMTP_USER, FIREBREAK_TEST_SMTP_PASSWORD,
 *   FIREBREAK_TEST_SMTP_CA (PEM of the CA that signed the server's certificate),
 *   FIREBREAK_TEST_SMTP_MAILDIR (where messages land), FIREBREAK_TEST_SMTP_LOGS (Exim's logs)
 *
 * Standalone: `node --import tsx test/bed/smtp.ts` prints the env and runs until interrupted.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runStandalone, type BedComponent, type BedOptions } from './component';
import { makeServingCertificate } from './pki';
import { freePort } from './ports';
import { launchServer } from './process';
import { handOver, runningAsRoot } from './service-user';

const SERVICE_USER = 'Debian-exim';
const HOST = '127.0.0.1';

export async function startSmtp(opts: BedOptions): Promise<BedComponent> {
  const binary = process.env.FIREBREAK_EXIM_BIN ?? '/usr/sbin/exim4';
  const dir = path.join(opts.workDir, 'exim');
  const maildir = path.join(dir, 'Maildir');
  const logs = path.join(dir, 'log');
  await Promise.all([mkdir(path.join(dir, 'spool'), { recursive: true }), mkdir(logs, { recursive: true })]);
  const tls = await makeServingCertificate(path.join(dir, 'tls'), {
    name: 'smtp',
    commonName: 'localhost',
    sans: ['IP:127.0.0.1', 'DNS:localhost'],
  });
  const ports = { relay: await freePort(), submission: await freePort(), smtps: await freePort() };
  const user = 'firebreak-test';
  const password = randomBytes(12).toString('hex');
  const config = path.join(dir, 'exim.conf');
  const runAs = await eximIdentity();
  await writeFile(config, eximConfig({ dir, maildir, logs, tls, ports, user, password, runAs }), { mode: 0o600 });
  await handOver(dir, SERVICE_USER);

  const { stop } = await launchServer({
    name: 'exim',
    binary,
    // -bdf: the listening daemon, in the foreground; no -q: no queue runner, each message is
    // delivered by the process that received it. Exim gives up root for a config of its caller's.
    args: ['-C', config, '-bdf'],
    user: SERVICE_USER,
    ready: () => greets(ports.relay),
    readyTimeoutMs: 15_000,
    stopTimeoutMs: 5_000,
    logFile: path.join(dir, 'daemon.log'),
  });
  opts.log(
    `exim ready: relay ${ports.relay}, submission ${ports.submission}, smtps ${ports.smtps}; mail in ${maildir}`,
  );
  return {
    env: {
      FIREBREAK_TEST_SMTP_HOST: HOST,
      FIREBREAK_TEST_SMTP_PORT: String(ports.relay),
      FIREBREAK_TEST_SMTP_SUBMISSION_PORT: String(ports.submission),
      FIREBREAK_TEST_SMTPS_PORT: String(ports.smtps),
      FIREBREAK_TEST_SMTP_USER: user,
      FIREBREAK_TEST_SMTP_PASSWORD: password,
      FIREBREAK_TEST_SMTP_CA: tls.ca,
      FIREBREAK_TEST_SMTP_MAILDIR: maildir,
      FIREBREAK_TEST_SMTP_LOGS: logs,
    },
    stop,
  };
}

/**
 * Who the daemon runs as: Debian-exim when the bed is root; otherwise the developer, who must be
 * in the Debian-exim group (Exim starts a daemon only for its admin users).
 */
async function eximIdentity(): Promise<{ user: string; group: string }> {
  if (runningAsRoot()) return { user: SERVICE_USER, group: SERVICE_USER };
  const { stdout } = await promisify(execFile)('getent', ['group', SERVICE_USER]).catch(() => ({ stdout: '' }));
  const gid = Number(stdout.split(':')[2]);
  if (!process.getgroups?.().includes(gid)) {
    throw new Error(
      `the smtp bed component runs Exim, which starts a daemon only for root or members of group ${SERVICE_USER}: ` +
        `\`sudo adduser $USER ${SERVICE_USER}\` and log in again, or leave smtp out of --bed`,
    );
  }
  return { user: String(process.getuid?.()), group: String(process.getgid?.()) };
}

function eximConfig(c: {
  runAs: { user: string; group: string };
  dir: string;
  maildir: string;
  logs: string;
  tls: { cert: string; key: string };
  ports: { relay: number; submission: number; smtps: number };
  user: string;
  password: string;
}): string {
  const authenticated = `\${if or{{=={$received_port}{${c.ports.submission}}}{=={$received_port}{${c.ports.smtps}}}}}`;
  return `# Written by test/bed/smtp.ts for one test run.
primary_hostname = firebreak-test.invalid
qualify_domain = firebreak-test.invalid
spool_directory = ${c.dir}/spool
pid_file_path = ${c.dir}/exim.pid
log_file_path = ${c.logs}/%slog
log_selector = +received_recipients +tls_peerdn +subject
daemon_smtp_ports = ${c.ports.relay} : ${c.ports.submission} : ${c.ports.smtps}
tls_on_connect_ports = ${c.ports.smtps}
local_interfaces = ${HOST}
keep_environment =
exim_user = ${c.runAs.user}
exim_group = ${c.runAs.group}
deliver_drop_privilege = true
# No DNS or ident look-ups: loopback only, and nothing may leave the machine.
host_lookup =
rfc1413_hosts =
tls_certificate = ${c.tls.cert}
tls_privatekey = ${c.tls.key}
tls_advertise_hosts = *
# AUTH only inside TLS, so a password never crosses the wire in clear.
auth_advertise_hosts = \${if eq{$tls_in_cipher}{}{}{*}}
message_size_limit = 10M
acl_smtp_rcpt = check_rcpt

begin acl
check_rcpt:
  deny    condition = ${authenticated}
          !authenticated = *
          message = authentication required
  accept

begin routers
everyone:
  driver = accept
  transport = mailbox

begin transports
mailbox:
  driver = appendfile
  directory = ${c.maildir}
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and{{eq{$auth2}{${c.user}}}{eq{$auth3}{${c.password}}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and{{eq{$auth1}{${c.user}}}{eq{$auth2}{${c.password}}}}}
  server_set_id = $auth1
`;
}

/** True once the server greets with 220 on `port`. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port, timeout: 1_000 });
    const done = (ready: boolean) => {
      socket.destroy();
      resolve(ready);
    };
    socket.once('data', (chunk) => done(chunk.toString().startsWith('220')));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runStandalone('smtp', startSmtp);
}
