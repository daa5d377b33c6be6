// `skybridge run SCENARIO.yaml`: the shipped examples run and say exactly what their programs
// print and how each process ended; a bad scenario lists every problem with its path and
// exits 2 with nothing on stdout; --json is one document of the published schema; the same
// file gives the same output.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFault } from '../../src/cli/commands/run.ts';
import { renderScenario, scenarioOutput } from '../../src/cli/commands/scenario.ts';
import { ArgumentError } from '../../src/cli/errors.ts';
import { loadScenario } from '../../src/experiments/scenario.ts';
import { runScenario } from '../../src/experiments/scenario-run.ts';
import {
  scenarioResultSchema,
  type ScenarioResult,
} from '../../src/experiments/scenario-schema.ts';

const ROOT = join(import.meta.dirname, '../..');

const BAD_DIR = mkdtempSync(join(tmpdir(), 'scenario-'));
const BAD = join(BAD_DIR, 'bad.yml');
after(() => rmSync(BAD_DIR, { recursive: true, force: true }));
writeFileSync(
  BAD,
  [
    'kernel: minix',
    'cores: 2',
    'processes:',
    '  - name: client',
    '    image: guest:echo-client',
    '    args: [{ server: nobody }]',
    '    threads: [{ entry: mian, core: 2 }]',
    '  - name: client',
    '    image: ./missing.elf',
    '  - name: srv',
    '    image: guest:echo-server',
    'servers:',
    '  - { process: srv, handler: echo_handlr, maxConcurrent: 100 }',
    'bindings:',
    '  - { client: client, server: client }',
    '  - { client: srv, server: ghost, bufferBytes: 1000000 }',
    'timer: 5',
  ].join('\n'),
);

/** The command as a user meets it, started at once: it runs beside the in-process tests. */
const badRun = new Promise<{ status: number | null; stdout: string; stderr: string }>((done) =>
  execFile(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'run', BAD],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    (err, stdout, stderr) =>
      done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
  ),
);

const path = (file: string): string => join(ROOT, file);
const runs = new Map<string, ScenarioResult>();
/** A run of `file`, once per file for the tests that only read it. */
function run(file: string): ScenarioResult {
  let r = runs.get(file);
  if (r === undefined) runs.set(file, (r = runScenario(loadScenario(path(file)))));
  return r;
}

/** Trampoline addresses move when its code does; what matters is that they are there. */
const addr = (s: string): string => s.replace(/\b7ff[0-9a-f]{9}\b/g, 'TRAMPOLINE');

function outcome(r: ScenarioResult) {
  return {
    processes: r.processes.map((p) => ({
      name: p.name,
      ended: 'reason' in p.ended ? { ...p.ended, reason: addr(p.ended.reason) } : p.ended,
      stdout: p.stdout,
      stderr: p.stderr,
    })),
    servers: r.servers.map((s) => [s.id, s.process, s.handler, s.alive]),
    bindings: r.bindings.map((b) => [b.client, b.server, b.slot, b.failedKeyChecks, b.locked]),
    events: r.events.map((e) => `${e.thread}: ${addr(e.what)}`),
  };
}

const echoLines = (message: string, first: number): string =>
  [0, 1, 2].map((i) => `add ${41 + i} -> ok ${first + i}\n`).join('') +
  `upper "${message}" -> ok "${message.toUpperCase()}"\n`;

const serving = { kind: 'serving' } as const;
const exited = { kind: 'exited', status: 0 } as const;
const quiet = { stdout: '', stderr: '' };

test('examples/echo.yaml: the client is served, the server serves with no thread of its own', () => {
  assert.deepEqual(outcome(run('examples/echo.yaml')), {
    processes: [
      { name: 'echo', ended: serving, ...quiet },
      { name: 'client', ended: exited, stdout: echoLines('hello, skybridge', 42), stderr: '' },
    ],
    servers: [[1, 'echo', 'echo_handler', true]],
    bindings: [['client', 'echo', 0, 0, false]],
    events: [],
  });
});

test('examples/chain.yaml: client → relay → echo, each hop adds one, the message crosses both buffers', () => {
  const r = run('examples/chain.yaml');
  assert.deepEqual(outcome(r), {
    processes: [
      { name: 'echo', ended: serving, ...quiet },
      { name: 'relay', ended: serving, ...quiet },
      { name: 'client', ended: exited, stdout: echoLines('through a chain', 43), stderr: '' },
    ],
    servers: [
      [1, 'echo', 'echo_handler', true],
      [2, 'relay', 'relay_handler', true],
    ],
    bindings: [
      ['client', 'relay', 0, 0, false],
      ['relay', 'echo', 0, 0, false],
    ],
    events: [],
  });
  // Four VMFUNCs a call (in and out, twice), all on the client's thread; each counts to the
  // process whose view it is executed in: the client leaves its own once a call, the relay
  // calls on and returns, the echo server returns.
  const vmfuncs = (name: string): number => r.processes.find((p) => p.name === name)!.vmfuncs;
  assert.deepEqual([vmfuncs('client'), vmfuncs('relay'), vmfuncs('echo')], [4, 8, 4]);
});

test('examples/hostile.yaml: both attackers are stopped, their guesses locked out, the honest client served', () => {
  const attacks = (last: string): string =>
    [
      'an honest call: ok 2',
      'a call to server 2, which it is not bound to: SB_ENOTBOUND',
      "VMFUNC into the server's view at the return site: SB_EABORTED",
      '12 guessed keys for slot 0: 8 SB_EBADKEY, 4 SB_ELOCKED, 0 other',
      'an honest call after guessing: SB_ELOCKED',
      `last: ${last}`,
      '',
    ].join('\n');
  assert.deepEqual(outcome(run('examples/hostile.yaml')), {
    processes: [
      { name: 'echo', ended: serving, ...quiet },
      { name: 'honest', ended: exited, stdout: echoLines('still served', 42), stderr: '' },
      {
        name: 'mallory',
        ended: { kind: 'stopped', reason: 'exception 6 at TRAMPOLINE' },
        stdout: attacks("jumping into the trampoline's server half in its own view"),
        stderr: '',
      },
      {
        name: 'eve',
        ended: { kind: 'killed', reason: 'VM exit 59 at TRAMPOLINE (guest-physical 0)' },
        stdout: attacks('VMFUNC to view 300, which is not in its list'),
        stderr: '',
      },
    ],
    servers: [[1, 'echo', 'echo_handler', true]],
    bindings: [
      ['honest', 'echo', 0, 0, false],
      ['mallory', 'echo', 1, 8, true],
      ['eve', 'echo', 2, 8, true],
    ],
    events: [
      'mallory:main: call unwound (Aborted): a landing in the trampoline at TRAMPOLINE',
      'eve:main: call unwound (Aborted): a landing in the trampoline at TRAMPOLINE',
    ],
  });
});

test('the same scenario twice: the same result, counters and cycles included', () => {
  assert.deepEqual(
    runScenario(loadScenario(path('examples/hostile.yaml'))),
    run('examples/hostile.yaml'),
  );
});

test('--json: one document of the schema, what the library returns', () => {
  const doc = scenarioResultSchema.parse(
    JSON.parse(scenarioOutput(path('examples/chain.yaml'), [], { json: true }, describeFault)),
  );
  assert.deepEqual(doc, run('examples/chain.yaml'));
  assert.equal(doc.scenario.kernel, 'Fiasco.OC');
});

test('text: each process with what it printed, then the tables; options given override the file', () => {
  const file = path('examples/echo.yaml');
  const text = scenarioOutput(file, [], { kernel: 'zircon' }, describeFault);
  const lines = text.split('\n');
  assert.equal(
    lines[0],
    `-- scenario ${file} on Zircon, 1 core, timer every 1,000,000 cycles, seed 1`,
  );
  assert.deepEqual(lines.slice(1, 8), [
    '== echo (guest:echo-server): serving (no threads of its own)',
    '== client (guest:echo-client): exit status 0',
    ...echoLines('hello, skybridge', 42).trimEnd().split('\n'),
    '',
  ]);
  assert.match(text, /│ client → echo \(1\) +│ +0 │ +4,096 │ +0 │ revoked +│/);
  assert.match(text, /│ vmfuncs +│ +8 │ operations +│/);
  const hostile = renderScenario(run('examples/hostile.yaml'), describeFault);
  assert.match(
    hostile,
    /== mallory \(guest:hostile-client\): stopped: exception 6 \(#UD, invalid opcode\)/,
  );
});

test('a scenario takes no arguments after its file', () => {
  assert.throws(
    () => scenarioOutput('examples/echo.yaml', ['extra'], {}, describeFault),
    (e: Error) =>
      e instanceof ArgumentError && /is a scenario: it takes no arguments/.test(e.message),
  );
});

test('a bad scenario: every problem with its path, exit status 2, nothing on stdout', async () => {
  const r = await badRun;
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [
    `skybridge: error: ${BAD}: 13 problems`,
    '  kernel: Invalid option: expected one of "sel4"|"fiasco"|"zircon"',
    "  processes[0].args[0].server: 'nobody' is not a server (servers: 'srv')",
    '  processes[0].threads[0].core: core 2 does not exist (cores: 2)',
    "  processes[0].threads[0].entry: no symbol 'mian' in guest:echo-client (an entry must be a global symbol)",
    "  processes[1].name: 'client' is the name of processes[0] already",
    `  processes[1].image: cannot read ${join(BAD_DIR, 'missing.elf')}: no such file`,
    '  servers[0].maxConcurrent: Too big: expected number to be <=64',
    "  servers[0].handler: no symbol 'echo_handlr' in guest:echo-server (a handler must be a global function)",
    "  bindings[0].server: 'client' is not a server (servers: 'srv')",
    "  bindings[0]: 'client' cannot bind to itself",
    '  bindings[1].bufferBytes: Too big: expected number to be <=65536',
    "  bindings[1].server: no process named 'ghost'",
    '  timer: unknown field',
  ]);
});
