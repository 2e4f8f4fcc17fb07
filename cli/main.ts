/**
 * The `firebreak` command. Exit codes: 0 ok, 1 failed, 2 usage or configuration error.
 */
import { runCli } from './cli';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'start') {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(
        'Run the whole engine: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), the worker and the ingress.\nusage: firebreak start   (configured by environment variables; see README)',
      );
      return 0;
    }
    // Only `start` runs a worker: the native module loads here, never for `--help` or `status`.
    const { runStartCommand } = await import('../worker/start');
    return runStartCommand();
  }
  // Ctrl-C while `run` follows an incident stops following; the incident keeps running.
  const interrupt = new AbortController();
  const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  const code = await runCli(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    interrupt: interrupt.signal,
  });
  process.off('SIGINT', onSignal);
  return interrupt.signal.aborted && code === 0 ? 130 : code;
}

/** process.exit drops what a pipe has not taken yet: a postmortem on stdout must arrive whole. */
async function flushed(code: number): Promise<number> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((done) => stream.write('', done))));
  return code;
}

// `firebreak incidents | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2))
  .then(flushed)
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
