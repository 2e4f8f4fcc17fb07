/**
 * Test-bed component `helm`: the helm binary, built once from its Go module by test/helm/build.sh
 * (cached in ~/.cache/firebreak). It runs nothing; it is a component so that a cold build happens
 * with the bed's other builds, outside any test file's timeout.
 *
 * Env for test processes:
 *   FIREBREAK_TEST_HELM   the helm binary
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript } from './build';
import { runStandalone, type BedComponent, type BedOptions } from './component';

export async function startHelm(opts: BedOptions): Promise<BedComponent> {
  const dir = await runBuildScript('test/helm/build.sh', 'helm', opts.log);
  return { env: { FIREBREAK_TEST_HELM: path.join(dir, 'helm') }, stop: async () => undefined };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runStandalone('helm', startHelm);
}
