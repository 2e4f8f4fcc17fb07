import { createServer, type Server } from 'node:net';

function listenOnFreePort(wanted = 0): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(wanted, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

/** A TCP port on loopback that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** `count` distinct loopback ports that were free a moment ago (all held open together while picked). */
export async function freePorts(count: number): Promise<number[]> {
  const held: { server: Server; port: number }[] = [];
  try {
    for (let i = 0; i < count; i++) held.push(await listenOnFreePort());
    return held.map((h) => h.port);
  } finally {
    await Promise.all(held.map((h) => new Promise<void>((resolve) => h.server.close(() => resolve()))));
  }
}

/**
 * `count` distinct free loopback ports in [low, high), for servers that cannot take any port: the
 * OS hands out ports from 32768 up, and Temporal stores its membership port in a PostgreSQL
 * SMALLINT (at most 32767). Random candidates, each tried by listening on it; bounded attempts.
 */
export async function freePortsBetween(count: number, low: number, high: number): Promise<number[]> {
  const held: { server: Server; port: number }[] = [];
  try {
    for (let attempt = 0; held.length < count; attempt++) {
      if (attempt > 50 * count) throw new Error(`no ${count} free ports in [${low}, ${high}) on loopback`);
      const candidate = low + Math.floor(Math.random() * (high - low));
      if (held.some((h) => h.port === candidate)) continue;
      try {
        held.push(await listenOnFreePort(candidate));
      } catch {
        // taken: try another
      }
    }
    return held.map((h) => h.port);
  } finally {
    await Promise.all(held.map((h) => new Promise<void>((resolve) => h.server.close(() => resolve()))));
  }
}
