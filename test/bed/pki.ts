/** Certificates for the bed's TLS servers: a throwaway CA per server and a serving certificate it signs. */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync('openssl', args, { cwd, timeout: 30_000 });
}

/**
 * Writes ca.crt/ca.key and `<name>.crt`/`<name>.key` into `dir`: a serving certificate for `sans`
 * (e.g. `IP:127.0.0.1`, `DNS:localhost`) signed by that CA. Clients trust ca.crt, nothing else.
 */
export async function makeServingCertificate(
  dir: string,
  options: { name: string; commonName: string; sans: string[]; clientAuth?: boolean },
): Promise<{ ca: string; cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=firebreak-test-ca',
    ],
    dir,
  );
  const usage = options.clientAuth ? 'serverAuth,clientAuth' : 'serverAuth';
  const leaf = await signLeafCertificate(dir, options.name, `/CN=${options.commonName}`, [
    `subjectAltName=${options.sans.join(',')}`,
    `extendedKeyUsage=${usage}`,
  ]);
  return { ca: `${dir}/ca.crt`, ...leaf };
}

/**
 * Writes `<name>.crt`/`<name>.key` into `dir`: a client certificate (clientAuth only) for `subject`
 * (e.g. `/CN=alice`, or `/O=ops` for one that names no one), signed by the CA that
 * makeServingCertificate left in the same directory.
 */
export async function makeClientCertificate(
  dir: string,
  options: { name: string; subject: string },
): Promise<{ cert: string; key: string }> {
  return signLeafCertificate(dir, options.name, options.subject, ['extendedKeyUsage=clientAuth']);
}

/** `<name>.crt`/`<name>.key` in `dir`, for `subject` with these extensions, signed by the CA in `dir`. */
async function signLeafCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
): Promise<{ cert: string; key: string }> {
  const addext = [...extensions, 'basicConstraints=critical,CA:FALSE'].flatMap((ext) => ['-addext', ext]);
  await openssl(
    ['req', '-x509', ...EC_KEY, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-keyout', `${name}.key`, '-out', `${name}.crt`]
      .concat(['-days', '3650', '-subj', subject])
      .concat(addext),
    dir,
  );
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}
