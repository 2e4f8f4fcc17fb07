/**
 * The `firebreak` command. Exit codes: 0 ok, 1 failed, 2 usage or configuration error.
 */
import { runStartCommand } from '../worker/start';

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'start':
      return runStartCommand();
    default:
      console.error(`unknown command: ${command ?? '(none)'}\nusage: firebreak start`);
      return 2;
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
