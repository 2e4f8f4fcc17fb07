// Workflow code runs in Temporal's deterministic sandbox: the import bans below mirror the
// modules the SDK's bundler refuses (packages/worker/src/workflow/bundler.ts), so a mistake
// fails lint instead of failing a worker at start-up.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.firebreak/**', 'docs/**', 'test/kube/**/*.go'] },
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
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code cannot use Node built-ins.' })),
            ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'].map(
              (name) => ({ name, message: 'Workflow code may import only @temporalio/workflow.' }),
            ),
          ],
          patterns: [
            {
              group: ['**/activities/*', '../activities', '../../activities'],
              allowTypeImports: true,
              message: 'Workflows may only `import type` from activities.',
            },
            { group: ['@kubernetes/*', '@slack/*', 'fastify'], message: 'Workflows never touch clients.' },
          ],
        },
      ],
      'no-console': 'error',
    },
  },
);
