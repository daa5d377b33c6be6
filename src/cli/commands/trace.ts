// `skybridge trace <experiment> [case options] -o trace.json`: runs one case of an experiment
// with the machine's trace on and writes it as a Chrome trace-event file for Perfetto
// (ui.perfetto.dev, "Open trace file") or chrome://tracing.

import { Option, type Command } from 'commander';
import type { RowParams } from '../../report/schema.ts';
import { ArgumentError } from '../errors.ts';

const EXIT_HELP = `
A case is named by the parameters its rows carry in 'reproduce --json'; what is not given
takes the experiment's usual value (seL4, native, inter-AS, no KPTI, PCID, empty message):
  skybridge trace ipc -o sel4.json                               seL4 fastpath Call/ReplyRecv
  skybridge trace ipc --mechanism skybridge -o sb.json           SkyBridge on seL4
  skybridge trace ipc --kernel zircon --kpti -o zircon-kpti.json
  skybridge trace primitives --operation syscall --kpti -o syscall.json

The IPC benchmarks run their warm-up (16 round trips) and then --runs measured ones (1), all
traced; the warm-up-only twin they subtract is not. In Perfetto each core is a process with
tracks for its mode, its owner, its EPT view, its architectural events and its TLB and cache
misses. Times are cycles: read the timeline's µs as cycles of the simulated core.

Exit status:
  0  the trace was written
  1  error: the profile could not be read, the case failed, or FILE could not be written
  2  usage: an experiment without traceable cases, a parameter that does not apply`;

interface TraceOptions {
  output: string;
  kernel?: 'sel4' | 'fiasco' | 'zircon';
  mechanism?: 'native' | 'skybridge';
  kpti?: boolean;
  pcid?: boolean;
  intraAs?: boolean;
  crossCore?: boolean;
  words?: number;
  bytes?: number;
  chain?: boolean;
  operation?: NonNullable<RowParams['operation']>;
  flush?: boolean;
  ept?: NonNullable<RowParams['ept']>;
  caches?: NonNullable<RowParams['caches']>;
  runs: number;
  limit: number;
  profile?: string;
}

const KERNELS = { sel4: 'seL4', fiasco: 'Fiasco.OC', zircon: 'Zircon' } as const;

function count(what: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new ArgumentError(`${what}: expected an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

/** The case's parameters as the rows carry them (only those given). */
function caseParams(o: TraceOptions): RowParams {
  const p: RowParams = {};
  if (o.kernel !== undefined) p.kernel = KERNELS[o.kernel];
  if (o.mechanism !== undefined) p.mechanism = o.mechanism;
  if (o.kpti !== undefined) p.kpti = o.kpti;
  if (o.pcid === false) p.pcid = false;
  if (o.intraAs) p.interAs = false;
  if (o.crossCore) p.crossCore = true;
  if (o.words !== undefined) p.words = o.words;
  if (o.bytes !== undefined) p.bytes = o.bytes;
  if (o.chain) p.chain = true;
  if (o.operation !== undefined) p.operation = o.operation;
  if (o.flush === false) p.flush = false;
  if (o.ept !== undefined) p.ept = o.ept;
  if (o.caches !== undefined) p.caches = o.caches;
  return p;
}

async function trace(experiment: string, o: TraceOptions): Promise<void> {
  const { TRACEABLE, traceCase, CaseError } = await import('../../experiments/trace-case.ts');
  const id = TRACEABLE.find((t) => t === experiment);
  if (id === undefined)
    throw new ArgumentError(
      `'${experiment}' has no traceable cases (traceable: ${TRACEABLE.join(', ')})`,
    );
  const params = caseParams(o);
  const ipcOnly = [
    'kernel',
    'mechanism',
    'interAs',
    'crossCore',
    'words',
    'bytes',
    'chain',
  ] as const;
  const primitivesOnly = ['operation', 'flush', 'ept', 'caches'] as const;
  const foreign = (id === 'ipc' ? primitivesOnly : ipcOnly).filter((k) => params[k] !== undefined);
  if (foreign.length > 0)
    throw new ArgumentError(`${foreign.join(', ')}: not a parameter of ${id}`);
  const { SKYLAKE, loadProfile } = await import('../../hw/profile.ts');
  const profile = o.profile === undefined ? SKYLAKE : loadProfile(o.profile);
  const { chromeTrace } = await import('../../report/trace-file.ts');
  const { writeFileSync } = await import('node:fs');
  let traced;
  try {
    traced = traceCase(id, profile, params, { runs: o.runs, limit: o.limit });
  } catch (e) {
    if (e instanceof CaseError) throw new ArgumentError(e.message);
    throw e;
  }
  const file = chromeTrace(traced.machine, {
    experiment: id,
    case: traced.case,
    params: JSON.stringify(traced.params),
    profileSource: o.profile ?? 'default',
  });
  try {
    writeFileSync(o.output, `${JSON.stringify(file)}\n`);
  } catch (e) {
    throw new Error(`cannot write ${o.output} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const dropped = traced.machine.trace.dropped;
  process.stdout.write(
    `${o.output}: ${traced.case}, ${traced.machine.trace.events.length} events${dropped > 0 ? ` (${dropped} more dropped at --limit)` : ''}, ${traced.machine.cores.length} core(s)\n`,
  );
}

export function registerTraceCommand(program: Command): void {
  program
    .command('trace')
    .description(
      'run one case of an experiment with the trace on and write a Chrome trace-event file (Perfetto)',
    )
    .argument('<experiment>', 'ipc or primitives')
    .requiredOption('-o, --output <file>', 'the trace file to write (JSON)')
    .addOption(new Option('--kernel <kernel>', 'ipc: the Subkernel').choices(Object.keys(KERNELS)))
    .addOption(
      new Option('--mechanism <m>', "ipc: the kernel's own IPC or SkyBridge").choices([
        'native',
        'skybridge',
      ]),
    )
    .option('--kpti', 'kernel page-table isolation on')
    .option('--no-pcid', 'process-context identifiers off')
    .option('--intra-as', 'ipc: client and server in one address space')
    .option('--cross-core', 'ipc: the server on another core')
    .option('--words <n>', 'ipc: message length in words (seL4, Fiasco.OC)', count('--words', 0))
    .option('--bytes <n>', 'ipc: message length in bytes (Zircon, SkyBridge)', count('--bytes', 0))
    .option('--chain', 'ipc: SkyBridge client → A → B')
    .addOption(
      new Option('--operation <op>', 'primitives: the primitive').choices([
        'vmfunc',
        'mov-cr3',
        'syscall',
        'vm-exit-entry',
        'tlb-miss-walk',
      ]),
    )
    .option('--no-flush', 'primitives, mov-cr3: set bit 63 (needs PCID)')
    .addOption(
      new Option('--ept <ept>', 'primitives, tlb-miss-walk: EPT pages').choices([
        'none',
        '4k',
        '1g',
      ]),
    )
    .addOption(
      new Option('--caches <state>', 'primitives, tlb-miss-walk: caches before the walk').choices([
        'cold',
        'warm',
      ]),
    )
    .option('--runs <n>', 'ipc: measured round trips after the warm-up', count('--runs', 1), 1)
    .option('--limit <n>', 'keep at most this many events', count('--limit', 1), 1_000_000)
    .option('--profile <file>', 'a CPU profile (YAML or JSON) merged over the default')
    .addHelpText('after', EXIT_HELP)
    .action(trace);
}
