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
import { boundariesOf, nominalSeconds, readHistory } from './sweep';

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
      for (const fired of keys.filter((k) => k.startsWith('timer-fired:'))) {
        assert.ok(keys.includes(`timer-started:${fired.slice('timer-fired:'.length)}`), `${file}: ${fired} started`);
      }
    }
  });

  test('a timer set as what is left of a deadline keeps its nominal length', () => {
    const cases: [number, number][] = [
      [900_000, 900], // the policy's gate escalation, set in full
      [900_000 - 400, 900], // the acknowledgement deadline, 0.4 s after the incident opened
      [3_600_000 - 7_400, 3600], // the response plan's mitigation deadline, measured from the ack
      [7_200_000 - 27_000, 7200],
      [1_800_000 - 6_000, 1800], // a gate's deadline after its escalation
      [604_800_000 - 70_000, 604_800], // the incident's maximum open time (7 days), 70 s in
      [2_000, 2], // the courier's grace
      [1_000, 1], // a verification poll
      [400, 1], // the window's last, shorter poll
      [1, 1],
      [45_000, 60],
      [20 * 86_400_000, 21 * 86_400],
    ];
    for (const [ms, nominal] of cases) assert.equal(nominalSeconds(ms), nominal, `${ms} ms`);
  });

  test('timer keys agree between runs that reached each timer at another moment', () => {
    // Timer lengths (s) of p0-response clean runs in the session-9 sweep's report, whose old keys
    // (whole seconds) differed run to run: timer-started:3593s#1 / 3583s#1, 604785s / 604757s, …
    const runs = [
      [900, 2, 900, 1200, 3593.4, 604_785.2, 7192.7, 600],
      [900, 2, 900, 1200, 3583.9, 604_757, 7180.1, 600],
      [900, 2, 900, 1200, 3598, 604_730.5, 7197, 600],
    ];
    const keys = runs.map((lengths) => {
      // As the client reads a history: proto JSON, durations as strings, ids as Long.
      const json = lengths.flatMap((seconds, i) => [
        {
          eventId: String(10 * i + 1),
          eventType: 'EVENT_TYPE_TIMER_STARTED',
          timerStartedEventAttributes: { timerId: String(i + 1), startToFireTimeout: `${seconds}s` },
        },
        ...(seconds === 2
          ? [
              {
                eventId: String(10 * i + 2),
                eventType: 'EVENT_TYPE_TIMER_FIRED',
                timerFiredEventAttributes: { timerId: String(i + 1), startedEventId: String(10 * i + 1) },
              },
            ]
          : []),
      ]);
      const events = historyFromJSON({ events: json }).events ?? [];
      return boundariesOf(events).map((b) => b.key);
    });
    assert.deepEqual(keys[0], [
      'timer-started:900s#1',
      'timer-started:2s#1',
      'timer-fired:2s#1',
      'timer-started:900s#2',
      'timer-started:1200s#1',
      'timer-started:3600s#1',
      'timer-started:604800s#1',
      'timer-started:7200s#1',
      'timer-started:600s#1',
    ]);
    assert.deepEqual(keys[1], keys[0]);
    assert.deepEqual(keys[2], keys[0]);
  });

  test('an activity whose first attempt died with the engine shows as retried', () => {
    const events =
      historyFromJSON({
        events: [
          {
            eventId: '5',
            eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
            activityTaskScheduledEventAttributes: { activityId: '3', activityType: { name: 'postTimelineEntry' } },
          },
          {
            eventId: '6',
            eventType: 'EVENT_TYPE_ACTIVITY_TASK_STARTED',
            activityTaskStartedEventAttributes: { scheduledEventId: '5', attempt: 2 },
          },
          {
            eventId: '7',
            eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
            activityTaskCompletedEventAttributes: { scheduledEventId: '5', startedEventId: '6' },
          },
        ],
      }).events ?? [];
    const { boundaries, retried } = readHistory(events);
    assert.deepEqual(
      boundaries.map((b) => b.key),
      ['scheduled:postTimelineEntry#1', 'started:postTimelineEntry#1', 'completed:postTimelineEntry#1'],
    );
    assert.deepEqual(retried, ['postTimelineEntry#1 (attempt 2)']);
  });
});
