// The sweep file: every problem at once with its path, and the runs it makes (cross product
// with the last axis fastest, or a list), each a task with its values applied.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSweep, SweepError } from '../../src/sweep/sweep-file.ts';
import { ECHO_LIST, ECHO_SWEEP, ROOT, tempDir } from './util.ts';

test('a cross product: 3 kernels x 8 VMFUNC costs, the last axis fastest, values applied', async () => {
  const plan = await loadSweep(ECHO_SWEEP);
  assert.deepEqual(plan.axes, ['kernel', 'profile.ops.vmfunc']);
  assert.equal(plan.tasks.length, 24);
  assert.deepEqual(plan.tasks[1]!.params, { kernel: 'sel4', 'profile.ops.vmfunc': 110 });
  assert.deepEqual(plan.tasks[8]!.params, { kernel: 'fiasco', 'profile.ops.vmfunc': 100 });
  const t = plan.tasks[9]!;
  assert.equal(t.profile.effective.ops.vmfunc, 110);
  assert.equal(t.run.kind === 'scenario' && t.run.document.kernel, 'fiasco');
  assert.equal(new Set(plan.tasks.map((x) => x.key)).size, 24);
  assert.match(plan.output, /echo-sweep\.jsonl$/);
});

test('a list of runs: each as given, a scenario field beside profile fields', async () => {
  const plan = await loadSweep(ECHO_LIST);
  assert.deepEqual(plan.axes, ['kernel', 'profile.ops.vmfunc', 'seed']);
  assert.equal(plan.tasks.length, 4);
  const last = plan.tasks[3]!;
  assert.equal(last.run.kind === 'scenario' && last.run.document.seed, 7);
});

test('every problem of a sweep file at once, each at its path', async () => {
  const dir = tempDir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `base:
  scenario: ${join(ROOT, 'examples/echo.yaml')}
  quick: true
  colour: red
axes:
  kernel: [sel4, linux, sel4]
  cores: [0, 1]
  nonsense: [1]
  profile.ops.vmfuc: [1]
  profile.ops.vmfunc: [-5, 134]
  servers.3.maxConcurrent: [2]
`,
  );
  await assert.rejects(loadSweep(file), (e: unknown) => {
    assert.ok(e instanceof SweepError);
    assert.deepEqual(
      e.problems.map((p) => `${p.path}: ${p.message}`),
      [
        'base.colour: unknown field',
        'base.quick: quick is an option of an experiment, not of a scenario',
        'axes.kernel[2]: "sel4" is listed already (item 0)',
        "axes.nonsense: a scenario has no field 'nonsense' (fields: description, kernel, cores, tickCycles, seed, maxInstructions, kpti, pcid, processes, servers, bindings; or profile.*)",
        'axes.profile.ops.vmfuc: 1: unknown field (in 12 runs)',
        'axes.profile.ops.vmfunc: -5: Too small: expected number to be >=0 (in 6 runs)',
        'axes.servers.3.maxConcurrent: 2: servers has 1 item: no index 3 (in 12 runs)',
        'axes.cores: 0: Too small: expected number to be >=1 (in 6 runs)',
        'axes.kernel: "linux": Invalid option: expected one of "sel4"|"fiasco"|"zircon" (in 4 runs)',
      ],
    );
    return true;
  });
});

test('an experiment base takes quick and profile fields; axes and runs exclude each other', async () => {
  const dir = tempDir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    'base: { experiment: nosuch }\naxes: { kernel: [sel4], quick: [yes] }\nruns: [{ quick: true }]\n',
  );
  await assert.rejects(loadSweep(file), (e: unknown) => {
    assert.ok(e instanceof SweepError);
    const text = e.problems.map((p) => `${p.path}: ${p.message}`);
    assert.ok(
      text.includes('(top level): give axes or runs, not both') ||
        text.includes(': give axes or runs, not both'),
      text.join('\n'),
    );
    assert.ok(
      text.some((t) => t.startsWith('axes.kernel: an experiment takes quick and profile.*')),
      text.join('\n'),
    );
    assert.ok(
      text.some((t) => t.startsWith("base.experiment: unknown experiment 'nosuch'")),
      text.join('\n'),
    );
    return true;
  });
});
