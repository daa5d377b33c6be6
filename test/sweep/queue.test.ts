// Sweeps over a BullMQ queue in a real Redis server (redis.ts): two `skybridge worker`
// processes give the lines a local run gives, and a worker killed while it holds a run loses
// nothing: the run goes to another worker once its lock runs out.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseQueueAddress } from '../../src/sweep/queue-address.ts';
import { runSweep } from '../../src/sweep/sweep.ts';
import { redisAvailable, startRedis, waitForOutput, type RedisServer } from './redis.ts';
import { ECHO_LIST, ECHO_SWEEP, ROOT, linesByKey, tempDir } from './util.ts';

const available = redisAvailable();
let redis: RedisServer | undefined;
const workers: ChildProcess[] = [];

before(async () => {
  if (available) redis = await startRedis();
});
after(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await redis?.stop();
});

/** `skybridge worker` from the sources, one thread, a one-second lock; its log is kept. */
async function startWorker(
  url: string,
  name: string,
): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'worker',
      '--queue',
      url,
      '--jobs',
      '1',
      '--lock-seconds',
      '1',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  workers.push(child);
  let log = '';
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  await waitForOutput(child, /taking runs from/, 20_000, name);
  return { child, log: () => log };
}

test(
  'two workers in other processes give the lines a local run gives',
  { skip: !available },
  async () => {
    const dir = tempDir();
    const url = redis!.url('identity');
    await Promise.all([startWorker(url, 'worker 1'), startWorker(url, 'worker 2')]);
    const queued = join(dir, 'queued.jsonl');
    const s = await runSweep(ECHO_SWEEP, { queue: parseQueueAddress(url), output: queued });
    assert.deepEqual([s.ran, s.failed.length], [24, 0]);
    const local = join(dir, 'local.jsonl');
    await runSweep(ECHO_SWEEP, { jobs: 2, output: local });
    assert.deepEqual(linesByKey(queued), linesByKey(local));
  },
);

test('a worker killed while it holds a run loses nothing', { skip: !available }, async () => {
  const dir = tempDir();
  const url = redis!.url('killed');
  const a = await startWorker(url, 'worker A');
  const output = join(dir, 'queued.jsonl');
  const sweep = runSweep(ECHO_LIST, { queue: parseQueueAddress(url), output });
  // Killed as soon as it has taken a run (its thread is still loading or running it).
  const started = await waitForOutput(
    a.child,
    /run \d+ ([0-9a-f]{24}) \([^)]*\): started/,
    20_000,
    'worker A',
  );
  a.child.kill('SIGKILL');
  const key = /([0-9a-f]{24})/.exec(started)![1]!;
  assert.doesNotMatch(a.log(), new RegExp(`${key}.*: done`));
  const b = await startWorker(url, 'worker B');
  const s = await sweep;
  assert.deepEqual([s.ran, s.failed.length], [4, 0]);
  // Worker B ran the run A held, and every line is the one a local run gives.
  assert.match(b.log(), new RegExp(`${key} .*: done`));
  const local = join(dir, 'local.jsonl');
  await runSweep(ECHO_LIST, { jobs: 1, output: local });
  assert.deepEqual(linesByKey(output), linesByKey(local));
});
