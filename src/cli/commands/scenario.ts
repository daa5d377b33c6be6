// `skybridge run SCENARIO.yaml`: loads and checks a scenario (every problem at once, exit
// status 2), runs it, and prints what each process printed and how it ended, the servers and
// bindings, what the kernel did about calls, and the counters; or all of it as one JSON
// document (scenarioResultSchema). Everything is rendered before anything is written, so a
// run that fails leaves no partial output.

import Table from 'cli-table3';
import { SKYLAKE, loadProfile } from '../../hw/profile.ts';
import { formatValue } from '../../report/table.ts';
import { ScenarioError, loadScenario } from '../../experiments/scenario.ts';
import { runScenario } from '../../experiments/scenario-run.ts';
import {
  scenarioResultSchema,
  type Ending,
  type ScenarioResult,
} from '../../experiments/scenario-schema.ts';
import type { RunKernel } from '../../experiments/run-program.ts';
import { ArgumentError } from '../errors.ts';

/** What the command line says over the file (only options given explicitly). */
export interface ScenarioOverrides {
  kernel?: RunKernel;
  seed?: number;
  maxInstructions?: number;
  kpti?: boolean;
  pcid?: boolean;
  profile?: string;
  json?: boolean;
}

/** Adds an exception's mnemonic to a kill reason (run.ts's, passed in: run.ts imports us). */
export type DescribeFault = (reason: string) => string;

/** What `skybridge run SCENARIO` prints: the text report, or the JSON document. */
export function scenarioOutput(
  file: string,
  args: readonly string[],
  o: ScenarioOverrides,
  describeFault: DescribeFault,
): string {
  if (args.length > 0)
    throw new ArgumentError(
      `${file} is a scenario: it takes no arguments (got ${args.join(' ')}); put them in its processes' args`,
    );
  let result: ScenarioResult;
  try {
    const plan = loadScenario(file);
    const sc = plan.scenario;
    if (o.kernel !== undefined) sc.kernel = o.kernel;
    if (o.seed !== undefined) sc.seed = o.seed;
    if (o.maxInstructions !== undefined) sc.maxInstructions = o.maxInstructions;
    if (o.kpti !== undefined) sc.kpti = o.kpti;
    if (o.pcid !== undefined) sc.pcid = o.pcid;
    const profile = o.profile ? loadProfile(o.profile) : SKYLAKE;
    result = runScenario(plan, { profile });
  } catch (e) {
    if (e instanceof ScenarioError) throw new ArgumentError(e.message);
    throw e;
  }
  return o.json
    ? `${JSON.stringify(scenarioResultSchema.parse(result), null, 2)}\n`
    : renderScenario(result, describeFault);
}

/** How a process ended, in words. */
export function describeEnding(e: Ending, describeFault: DescribeFault): string {
  switch (e.kind) {
    case 'exited':
      return `exit status ${e.status}`;
    case 'killed':
      return `killed: ${describeFault(e.reason)}`;
    case 'stopped':
      return `stopped: ${describeFault(e.reason)}`;
    case 'serving':
      return 'serving (no threads of its own)';
    case 'idle':
      return 'idle (no threads, not a server)';
    case 'blocked':
      return 'blocked (threads left that can never run)';
  }
}

/** No lines between rows: the tables stay short. */
const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };
const right = (v: number | string) => ({
  hAlign: 'right' as const,
  content: typeof v === 'number' ? formatValue(v) : v,
});

function table(head: string[], rows: (string | ReturnType<typeof right>)[][]): string {
  const t = new Table({ head, chars: COMPACT, style: { head: [], border: [] } });
  t.push(...rows);
  return t.toString();
}

export function renderScenario(r: ScenarioResult, describeFault: DescribeFault): string {
  const s = r.scenario;
  const cores = `${s.cores} core${s.cores === 1 ? '' : 's'}`;
  const timer = s.tickCycles > 0 ? `timer every ${formatValue(s.tickCycles)} cycles` : 'no timer';
  const paging = [...(s.kpti ? ['KPTI'] : []), ...(s.pcid ? [] : ['no PCIDs'])];
  const parts: string[] = [
    `-- scenario ${s.file} on ${s.kernel}${paging.length ? ` (${paging.join(', ')})` : ''}, ${cores}, ${timer}, seed ${s.seed}`,
  ];
  for (const p of r.processes) {
    parts.push(`== ${p.name} (${p.image}): ${describeEnding(p.ended, describeFault)}`);
    const console = p.stdout + (p.stderr ? `-- stderr --\n${p.stderr}` : '');
    if (console) parts.push(console.endsWith('\n') ? console.slice(0, -1) : console);
    for (const w of p.warnings) parts.push(`warning: ${w}`);
  }
  parts.push(
    '',
    'processes',
    table(
      ['process', 'ended', 'user instructions', 'VMFUNCs (user)'],
      r.processes.map((p) => [
        p.name,
        describeEnding(p.ended, describeFault),
        right(p.userInstructions),
        right(p.vmfuncs),
      ]),
    ),
  );
  if (r.servers.length > 0)
    parts.push(
      'servers',
      table(
        ['id', 'process', 'handler', 'at once', 'budget ticks', 'lock after', 'state'],
        r.servers.map((x) => [
          right(x.id),
          x.process,
          x.handler,
          right(x.maxConcurrent),
          right(x.budgetTicks),
          right(x.lockAfter),
          x.alive ? 'alive' : 'dead',
        ]),
      ),
    );
  if (r.bindings.length > 0)
    parts.push(
      'bindings (failed key checks: counted by the server against the client’s view)',
      table(
        ['client → server', 'slot', 'buffer bytes', 'failed key checks', 'state'],
        r.bindings.map((b) => [
          `${b.client} → ${b.server} (${b.serverId})`,
          right(b.slot),
          right(b.bufferBytes),
          right(b.failedKeyChecks),
          [b.active ? 'active' : 'revoked', ...(b.locked ? ['locked out'] : [])].join(', '),
        ]),
      ),
    );
  parts.push(
    'kernel events (what the kernel did about calls: refused system calls, unwound calls)',
    r.events.length === 0
      ? '  none'
      : table(
          ['cycle', 'core', 'thread', 'what'],
          r.events.map((e) => [right(e.cycle), right(e.core), e.thread, e.what]),
        ),
    `counters (every non-zero one, summed over cores, owners and modes; ${formatValue(r.cycles)} cycles on the latest core)`,
    table(
      ['counter', 'value', 'unit'],
      r.counters.map((c) => [c.name, right(c.value), c.unit]),
    ),
  );
  return `${parts.join('\n')}\n`;
}
