// One case of an experiment, for `skybridge trace`: named by the parameters its rows carry
// (a row's `params`), run with as few repetitions as the benchmark allows, while the first
// machine it builds records a trace. Benchmarks that subtract a warm-up-only twin build that
// twin after the measured run; it is not traced.

import { Machine } from '../hw/machine.ts';
import type { CpuProfile } from '../hw/profile-schema.ts';
import { caseId, type RowParams } from '../report/schema.ts';
import type { ExperimentId } from './catalog.ts';
import { runFiascoBench } from './fiasco-bench.ts';
import { cr3Cost, nullSyscall, vmExitRoundTrip, vmfuncCost, walkCost } from './primitives.ts';
import { runSel4Bench } from './sel4bench.ts';
import { runSkyBridgeBench } from './skybridge-bench.ts';
import { runZirconBench } from './zircon-bench.ts';

/** The experiments `skybridge trace` can run a case of. */
export const TRACEABLE = ['primitives', 'ipc'] as const satisfies readonly ExperimentId[];
export type TraceableId = (typeof TRACEABLE)[number];

export interface TracedCase {
  /** The case's id (caseId) with every parameter as it ran, defaults filled in. */
  case: string;
  params: RowParams;
  /** The machine that recorded the trace. */
  machine: Machine;
}

/** A case's parameters are wrong for its experiment (a usage error to the CLI). */
export class CaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaseError';
  }
}

function primitive(profile: CpuProfile, p: RowParams): RowParams {
  switch (p.operation) {
    case 'vmfunc':
      vmfuncCost(profile);
      return { operation: 'vmfunc', caches: 'warm' };
    case 'mov-cr3': {
      const pcid = p.pcid ?? false;
      const flush = p.flush ?? true;
      if (!pcid && !flush) throw new CaseError('a CR3 write that does not flush needs PCIDs');
      cr3Cost(profile, pcid, !flush);
      return { operation: 'mov-cr3', pcid, flush };
    }
    case 'syscall': {
      const kpti = p.kpti ?? false;
      nullSyscall(profile, kpti);
      return { operation: 'syscall', kpti, pcid: kpti };
    }
    case 'vm-exit-entry':
      vmExitRoundTrip(profile);
      return { operation: 'vm-exit-entry' };
    case 'tlb-miss-walk': {
      const ept = p.ept ?? '1g';
      const caches = p.caches ?? 'cold';
      walkCost(
        profile,
        ept === 'none' ? 'native' : ept === '4k' ? 'ept4k' : 'ept1g',
        caches === 'cold',
      );
      return { operation: 'tlb-miss-walk', ept, caches };
    }
    case undefined:
      throw new CaseError(
        'name the operation: vmfunc, mov-cr3, syscall, vm-exit-entry or tlb-miss-walk',
      );
  }
}

/** One IPC benchmark: `runs` measured round trips after the harness's warm-up. */
function ipcCase(profile: CpuProfile, p: RowParams, runs: number): RowParams {
  const kernel = p.kernel ?? 'seL4';
  const kpti = p.kpti ?? false;
  const pcid = p.pcid ?? true;
  const interAs = p.interAs ?? true;
  const crossCore = p.crossCore ?? false;
  if (p.mechanism === 'skybridge') {
    if (!interAs || crossCore)
      throw new CaseError('SkyBridge calls go between address spaces, on one core');
    if (p.words !== undefined) throw new CaseError('SkyBridge messages are --bytes, not --words');
    const bytes = p.bytes ?? 0;
    const chain = p.chain ?? false;
    runSkyBridgeBench(profile, { kernel, bytes, kpti, pcid, chain, runs });
    return { kernel, mechanism: 'skybridge', interAs, crossCore, kpti, pcid, bytes, chain };
  }
  if (p.chain) throw new CaseError('--chain is a SkyBridge case');
  const base = { kernel, mechanism: 'native', interAs, crossCore, kpti, pcid } as const;
  switch (kernel) {
    case 'seL4': {
      if (p.bytes !== undefined) throw new CaseError("seL4's messages are --words");
      const words = p.words ?? 0;
      runSel4Bench(profile, { interAs, words, kpti, pcid, crossCore, runs });
      return { ...base, words };
    }
    case 'Fiasco.OC': {
      if (p.bytes !== undefined) throw new CaseError("Fiasco.OC's messages are --words");
      if (crossCore) throw new CaseError('the Fiasco.OC benchmark runs on one core');
      const words = p.words ?? 0;
      runFiascoBench(profile, { interAs, words, kpti, pcid, runs });
      return { ...base, words };
    }
    case 'Zircon': {
      if (p.words !== undefined) throw new CaseError("Zircon's messages are --bytes");
      const bytes = p.bytes ?? 4;
      if (bytes < 4) throw new CaseError('a Zircon channel message holds at least its 4-byte txid');
      runZirconBench(profile, { interAs, bytes, kpti, pcid, crossCore, runs });
      return { ...base, bytes };
    }
  }
}

/**
 * Runs one case of `experiment` with tracing on in the first machine it builds (up to
 * `limit` events), and returns that machine with the case's full parameters. `runs`: the
 * measured repetitions of an IPC benchmark (after its warm-up).
 */
export function traceCase(
  experiment: TraceableId,
  profile: CpuProfile,
  params: RowParams,
  opts: { runs?: number; limit?: number } = {},
): TracedCase {
  let machine: Machine | undefined;
  const stop = Machine.observe((m) => {
    if (machine !== undefined) return;
    machine = m;
    if (opts.limit !== undefined) m.trace.limit = opts.limit;
    m.startTrace();
  });
  let ran: RowParams;
  try {
    ran =
      experiment === 'primitives'
        ? primitive(profile, params)
        : ipcCase(profile, params, opts.runs ?? 1);
  } finally {
    stop();
  }
  if (machine === undefined) throw new Error(`${experiment}: the case built no machine`);
  machine.stopTrace();
  return { case: caseId(experiment, undefined, ran), params: ran, machine };
}
