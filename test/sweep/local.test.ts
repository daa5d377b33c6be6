// A sweep run here on two worker threads: one line per run, each what the run returned; a
// rerun skips every finished run, and one after lines were lost (and a line was cut off
// mid-write) runs only those again; the report draws the results against the axes.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sweepFigures } from '../../src/report/sweep-figures.ts';
import { writeSweepReport } from '../../src/report/sweep-report.ts';
import type { SweepLine } from '../../src/report/sweep-schema.ts';
import { runSweep } from '../../src/sweep/sweep.ts';
import { ECHO_SWEEP, linesByKey, tempDir } from './util.ts';

test('a sweep runs every run once, and a rerun repeats none that finished', async () => {
  const dir = tempDir();
  const output = join(dir, 'results.jsonl');
  const first = await runSweep(ECHO_SWEEP, { jobs: 2, output });
  assert.deepEqual([first.ran, first.already, first.failed.length], [24, 0, 0]);
  const all = linesByKey(output);
  assert.equal(all.size, 24);
  // Each line is its run: the kernel and VMFUNC cost it was given, and the echo pair's output.
  for (const text of all.values()) {
    const l = JSON.parse(text) as {
      params: { kernel: string; 'profile.ops.vmfunc': number };
      scenario: { scenario: { kernel: string }; processes: { stdout: string }[] };
    };
    const names: Record<string, string> = { sel4: 'seL4', fiasco: 'Fiasco.OC', zircon: 'Zircon' };
    assert.equal(l.scenario.scenario.kernel, names[l.params.kernel]);
    assert.match(
      l.scenario.processes[1]!.stdout,
      /upper "hello, skybridge" -> ok "HELLO, SKYBRIDGE"/,
    );
  }
  // Dearer VMFUNCs, dearer runs: the cycles follow the axis on each kernel.
  const cycles = (kernel: string) =>
    [...all.values()]
      .map(
        (t) => JSON.parse(t) as { params: Record<string, unknown>; scenario: { cycles: number } },
      )
      .filter((l) => l.params.kernel === kernel)
      .sort(
        (a, b) =>
          (a.params['profile.ops.vmfunc'] as number) - (b.params['profile.ops.vmfunc'] as number),
      )
      .map((l) => l.scenario.cycles);
  for (const k of ['sel4', 'fiasco', 'zircon']) {
    const c = cycles(k);
    assert.ok(
      c.every((x, i) => i === 0 || x > c[i - 1]!),
      `${k}: ${c.join(' ')}`,
    );
  }

  const again = await runSweep(ECHO_SWEEP, { jobs: 2, output });
  assert.deepEqual([again.ran, again.already], [0, 24]);

  // Keep 20 lines, then half of the 21st as a write cut off by a kill.
  const text = readFileSync(output, 'utf8').split('\n');
  writeFileSync(output, `${text.slice(0, 20).join('\n')}\n${text[20]!.slice(0, 100)}`);
  const warnings: string[] = [];
  const resumed = await runSweep(ECHO_SWEEP, { jobs: 1, output, warn: (w) => warnings.push(w) });
  assert.deepEqual([resumed.ran, resumed.already], [4, 20]);
  assert.match(warnings.join('\n'), /last line was cut off/);
  assert.deepEqual(linesByKey(output), all);

  // The report: each result that differs between runs against the axes (drawn from two
  // runs, so that one figure is rendered: the rendering is report.test.ts's).
  const spec = sweepFigures(
    [...all.values()].map((t) => JSON.parse(t) as SweepLine),
    'echo',
  )[0]!.spec as unknown as {
    data: { values: { result: string; x: string; series: string; value: number }[] };
  };
  const seL4At100 = spec.data.values.find(
    (v) => v.result === 'cycles (cycles)' && v.x === 'sel4' && v.series === '100',
  );
  const line = [...all.values()]
    .map((t) => JSON.parse(t) as SweepLine)
    .find((l) => l.params.kernel === 'sel4' && l.params['profile.ops.vmfunc'] === 100)!;
  assert.equal(seL4At100?.value, line.scenario!.cycles);
  const two = join(dir, 'two.jsonl');
  const sel4 = readFileSync(output, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"kernel":"sel4"'))
    .slice(0, 2);
  writeFileSync(two, `${sel4.join('\n')}\n`);
  const report = await writeSweepReport(two, join(dir, 'report'));
  assert.equal(report.figures.length, 1);
  assert.ok(existsSync(join(dir, 'report', 'sweep-1.svg')));
  const page = readFileSync(report.index, 'utf8');
  assert.match(page, /2 run\(s\)/);
  assert.match(page, /Axes that vary: <code>profile\.ops\.vmfunc<\/code>/);
});
