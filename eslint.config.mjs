// Two kinds of import rule. Workflow code runs in Temporal's deterministic sandbox: the bans on
// workflows/, domain/ and common/ mirror the modules the SDK's bundler refuses
// (packages/worker/src/workflow/bundler.ts), so a mistake fails lint instead of a worker at
// start-up. And imports point inward only (docs/architecture.md): each directory lists the
// project directories it may not import from, so a wrong-way import fails lint.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** Import paths that reach `dir` at the top of the repo from one, two or three levels down. */
const dirPaths = (dir) =>
  [1, 2, 3].flatMap((depth) => [`${'../'.repeat(depth)}${dir}`, `${'../'.repeat(depth)}${dir}/**`]);

const noValuesFrom = (dir, message) => ({ group: dirPaths(dir), allowTypeImports: true, message });
const nothingFrom = (dir, message) => ({ group: dirPaths(dir), message });

/** The Temporal workflow sandbox: no Node built-ins, no clients, only @temporalio/workflow and /common. */
const sandbox = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code cannot use Node built-ins.' })),
    ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'].map((name) => ({
      name,
      message: 'Workflow code may import only @temporalio/workflow and @temporalio/common.',
    })),
  ],
  patterns: [{ group: ['@kubernetes/*', '@slack/*', 'fastify'], message: 'Workflow code never touches clients.' }],
};

const noWorker = [
  {
    name: '@temporalio/worker',
    message: 'The native worker loads only in worker/ (`firebreak start` imports it on demand).',
  },
];

/** For each directory: what it may not import. */
const layers = [
  {
    files: ['common/**/*.ts'],
    paths: sandbox.paths,
    patterns: [
      ...sandbox.patterns,
      noValuesFrom('domain', 'common/ holds the record shapes; it refers to domain/ by type only.'),
      ...['runbooks', 'workflows', 'activities', 'postmortem', 'config', 'client', 'cli', 'ingress', 'worker'].map(
        (dir) => nothingFrom(dir, 'common/ is the innermost layer: it imports no other project directory.'),
      ),
    ],
  },
  {
    files: ['domain/**/*.ts'],
    paths: sandbox.paths,
    patterns: [
      ...sandbox.patterns,
      ...['runbooks', 'workflows', 'activities', 'postmortem', 'config', 'client', 'cli', 'ingress', 'worker'].map(
        (dir) => nothingFrom(dir, 'domain/ is pure and shared: it imports only common/.'),
      ),
    ],
  },
  {
    files: ['runbooks/**/*.ts'],
    paths: sandbox.paths,
    patterns: [
      ...sandbox.patterns,
      ...['workflows', 'activities', 'postmortem', 'config', 'client', 'cli', 'ingress', 'worker'].map((dir) =>
        nothingFrom(dir, 'The catalog is data: it imports only domain/ and common/.'),
      ),
    ],
  },
  {
    files: ['workflows/**/*.ts'],
    paths: sandbox.paths,
    patterns: [
      ...sandbox.patterns,
      noValuesFrom('activities', 'Workflows may only `import type` from activities.'),
      noValuesFrom('runbooks', 'Workflows may only `import type` from the catalog (parameter types).'),
      ...['postmortem', 'config', 'client', 'cli', 'ingress', 'worker'].map((dir) =>
        nothingFrom(dir, 'Workflow code imports only domain/, common/ and types.'),
      ),
    ],
  },
  {
    files: ['activities/**/*.ts'],
    paths: noWorker,
    patterns: [
      {
        // The process logger is the one piece of configuration an activity may reach for.
        group: [1, 2].flatMap((depth) => [`${'../'.repeat(depth)}config/*`, `!${'../'.repeat(depth)}config/logger`]),
        message: 'Activities are built from their clients and settings: of config/, only the logger.',
      },
      ...['workflows', 'runbooks', 'postmortem', 'client', 'cli', 'ingress', 'worker'].map((dir) =>
        nothingFrom(dir, 'Activities are built from their clients: they import only domain/ and common/.'),
      ),
    ],
  },
  {
    files: ['postmortem/**/*.ts'],
    paths: noWorker,
    patterns: [
      noValuesFrom('activities', 'The postmortem reads activity names by type only.'),
      ...['workflows', 'runbooks', 'config', 'client', 'cli', 'ingress', 'worker'].map((dir) =>
        nothingFrom(dir, 'The postmortem reads histories: it imports only domain/ and common/.'),
      ),
    ],
  },
  {
    files: ['config/**/*.ts'],
    paths: noWorker,
    patterns: ['domain', 'runbooks', 'workflows', 'activities', 'postmortem', 'client', 'cli', 'ingress', 'worker'].map(
      (dir) => nothingFrom(dir, 'Configuration imports only common/.'),
    ),
  },
  {
    files: ['client/**/*.ts'],
    paths: noWorker,
    patterns: ['workflows', 'activities', 'postmortem', 'cli', 'ingress', 'worker'].map((dir) =>
      nothingFrom(dir, 'client/ talks to incidents through the message contract in domain/.'),
    ),
  },
  {
    files: ['cli/**/*.ts'],
    paths: noWorker,
    patterns: [
      noValuesFrom('activities', 'The CLI reaches activities only through workflows (types at most).'),
      ...['workflows', 'worker', 'ingress'].map((dir) =>
        nothingFrom(
          dir,
          'The CLI talks to incidents through client/ and domain/messages.ts; `start` loads worker/ on demand.',
        ),
      ),
    ],
  },
  {
    files: ['ingress/**/*.ts'],
    paths: noWorker,
    patterns: [
      noValuesFrom('activities', 'The ingress reaches activities only through workflows (types at most).'),
      ...['workflows', 'worker', 'cli'].map((dir) =>
        nothingFrom(dir, 'The ingress talks to incidents through client/ and domain/messages.ts.'),
      ),
    ],
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.firebreak/**', 'dist/**', 'docs/**', 'test/kube/**/*.go'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layers.map(({ files, paths, patterns }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  })),
  { files: ['workflows/**/*.ts', 'domain/**/*.ts'], rules: { 'no-console': 'error' } },
);
