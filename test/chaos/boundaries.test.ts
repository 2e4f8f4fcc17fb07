/**
 * The sweep's boundary reader on the recorded fixture histories (no bed needed): every runbook's
 * history yields activity, timer and update boundaries, each key is unique, and every activity that
 * completed has its scheduled, started and completed boundary — what the sweep kills at.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { boundariesOf } from './sweep';

const HISTORIES_DIR = new URL('../fixtures/histories/', import.meta.url);

describe('chaos sweep boundaries from recorded histories', () => {
  test('each fixture history gives unique, complete boundary keys', async () => {
    const files = (await readdir(fileURLToPath(HISTORIES_DIR))).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 4, `fixture histories: ${files.join(', ')}`);
    for (const file of files) {
      const text = await readFile(fileURLToPath(new URL(file, HISTORIES_DIR)), 'utf8');
      const events = historyFromJSON(JSON.parse(text)).events ?? [];
      const boundaries = boundariesOf(events);
      const keys = boundaries.map((b) => b.key);
      assert.equal(new Set(keys).size, keys.length, `${file}: duplicate keys`);
      assert.ok(!keys.some((k) => k.includes('undefined')), `${file}: an event without its scheduling`);
      for (const done of keys.filter((k) => k.startsWith('completed:'))) {
        const activity = done.slice('completed:'.length);
        assert.ok(keys.includes(`scheduled:${activity}`), `${file}: ${activity} scheduled`);
        assert.ok(keys.includes(`started:${activity}`), `${file}: ${activity} started`);
      }
      assert.ok(
        boundaries.some((b) => b.kind === 'completed'),
        `${file}: activities`,
      );
      assert.ok(
        boundaries.some((b) => b.kind === 'timer-started'),
        `${file}: timers`,
      );
    }
  });
});
