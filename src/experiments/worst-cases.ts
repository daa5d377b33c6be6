// Experiment "worst-cases": where a SkyBridge call costs most, on seL4 (the scene of
// eptp-scale-scene.ts: handlers that answer their own number, client loops in TypeScript
// calling the real trampoline; each call's cost is the client core's cycle counter across
// it).
// - switch: client processes take turns on one core (a timer tick per slice), each calling
//   its own view of one server; the first call of each slice (after a context switch) against
//   the next one, with and without PCIDs, and with the Rootkernel's VPID on and off (without
//   VPID every VM exit and entry flushes the guest's TLB entries, so the VM exits of the
//   turns, counted, are what could change the figure);
// - views: one client calling K servers round-robin, all resident: every call runs under
//   another view's EP4TA, so the TLB holds K views' entries at once or thrashes;
// - chains: client → s0 → s1 → … → s(d−1), each handler calling the next (d = 1–8);
// - busy: a server with one stack held by a long call from another core: what a refused
//   call (SB_EBUSY) costs against a served one.

import type { CpuProfile } from '../hw/profile-schema.ts';
import { SbError } from '../skybridge/layout.ts';
import { callFromTs } from '../skybridge/ts-client.ts';
import { experimentInfo } from './catalog.ts';
import { runAll, scaleScene, startCalls } from './eptp-scale-scene.ts';
import {
  row,
  summarize,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RunContext,
} from './experiment.ts';
import { percentile } from './temporal.ts';

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export interface SwitchPoint {
  clients: number;
  pcid: boolean;
  vpid: boolean;
  afterSwitch: number[];
  warm: number[];
  /** Turns run (each: a context switch, two calls, the rest of the slice), cold starts too. */
  turns: number;
  /** VM exits on the core from the first turn to the last, all reasons. */
  vmExits: number;
  /** VM exits before the first turn: the kernel's and SkyBridge's hypercalls at boot and
   *  registration. */
  setupExits: number;
  /** Of those, VMCALLs. */
  setupVmcalls: number;
}

/** `clients` client processes on one core, one slice (one tick of `tick` cycles) each in
 *  turn; in each slice a thread makes two calls and then spends the rest of its slice.
 *  `vpid` is the Rootkernel's "enable VPID" control (RootkernelConfig.vpid). */
export function measureSwitch(
  profile: CpuProfile,
  clients: number,
  pcid: boolean,
  slices: number,
  vpid = true,
): SwitchPoint {
  const s = scaleScene({
    profile,
    servers: 1,
    clients,
    bindFirstOnly: true,
    tickCycles: 20_000,
    timesliceTicks: 1,
    pcid,
    rootkernel: { vpid },
  });
  const out: SwitchPoint = {
    clients,
    pcid,
    vpid,
    afterSwitch: [],
    warm: [],
    turns: 0,
    vmExits: 0,
    setupExits: 0,
    setupVmcalls: 0,
  };
  let last = -1;
  for (let c = 0; c < clients; c++) {
    const p = s.clients[c]!;
    s.k.createThread(
      p,
      `${p.name}:turns`,
      (u) =>
        (function* () {
          for (let n = 0; n < slices + 1;) {
            if (last !== c) {
              // Another client ran since this one's last calls: a context switch.
              last = c;
              const times: number[] = [];
              for (let i = 0; i < 2; i++) {
                const before = u.core.cycles;
                const r = yield* callFromTs(s.m, u, s.ids[0]!, [0], s.back);
                if (r.status !== 0) throw new Error(`worst-cases: call failed (${r.status})`);
                times.push(u.core.cycles - before);
              }
              // The first turn of each client is its cold start, not a switch.
              if (n > 0) {
                out.afterSwitch.push(times[0]!);
                out.warm.push(times[1]!);
              }
              n++;
              out.turns++;
            }
            u.run(s.spin);
            yield* u.poll();
          }
        })(),
      { priority: 100 },
    );
  }
  const before = s.m.snapshot();
  runAll(s);
  out.setupExits = before.get('vmexits');
  out.setupVmcalls = before.get('vmexit.vmcall');
  out.vmExits = s.m.snapshot().minus(before).get('vmexits');
  return out;
}

/** One client calling `k` resident servers round-robin: mean cycles per call. */
export function measureViews(profile: CpuProfile, k: number, rounds: number): number[] {
  const s = scaleScene({ profile, servers: k });
  const order = Array.from({ length: k * rounds }, (_, i) => i % k);
  const log = startCalls(s, order, { warmup: Array.from({ length: k }, (_, i) => i) });
  runAll(s);
  if (!log.right.every(Boolean)) throw new Error('worst-cases: a wrong answer');
  return log.cycles;
}

/** A chain of `depth` servers: cycles per call from the client. */
export function measureChain(profile: CpuProfile, depth: number, calls: number): number[] {
  const s = scaleScene({ profile, servers: depth, chain: true });
  const log = startCalls(s, new Array<number>(calls).fill(0), { warmup: [0, 0] });
  runAll(s);
  log.status.forEach((st, i) => {
    if (st !== 0 || log.value[i] !== 0x5000_0000 + 2 * (depth - 1))
      throw new Error(`worst-cases: chain of ${depth} answered ${st}/${log.value[i]}`);
  });
  return log.cycles;
}

export interface BusyPoint {
  busy: number[];
  served: number[];
}

/** A server with one stack; a client thread on core 1 keeps it busy with long calls while
 *  another on core 0 calls it. */
export function measureBusy(profile: CpuProfile, calls: number): BusyPoint {
  const s = scaleScene({ profile, servers: 1, spin: 5000, maxConcurrent: 1, cores: 2 });
  startCalls(s, new Array<number>(calls * 2).fill(0), { core: 1 });
  const b = startCalls(s, new Array<number>(calls).fill(0), { core: 0 });
  runAll(s);
  return {
    busy: b.cycles.filter((_, i) => b.status[i] === SbError.Busy),
    served: b.cycles.filter((_, i) => b.status[i] === 0),
  };
}

function run(ctx: RunContext): ExperimentResult {
  const q = ctx.quick === true;
  const P = ctx.profile;
  const rows: ResultRow[] = [];
  const add = (spec: Parameters<typeof row>[1]) => rows.push(row('worst-cases', spec));
  const base = { kernel: 'seL4', mechanism: 'skybridge' } as const;
  const clientCounts = q ? [2] : [2, 8];
  const viewCounts = q ? [1, 4, 16] : [1, 4, 16, 64, 256];
  const depths = q ? [1, 4, 8] : [1, 2, 3, 4, 6, 8];
  const total = clientCounts.length * 4 + viewCounts.length + depths.length + 1;
  let done = 0;
  const tick = () => ctx.progress?.(++done, total);

  const sw: SwitchPoint[] = [];
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  for (const clients of clientCounts)
    for (const vpid of [true, false])
      for (const pcid of [true, false]) {
        const p = measureSwitch(P, clients, pcid, q ? 4 : 12, vpid);
        sw.push(p);
        const what = `${clients} clients of one server taking turns on one core, PCID ${onOff(pcid)}, VPID ${onOff(vpid)}`;
        for (const [after, xs] of [
          ['switch', p.afterSwitch],
          ['warm', p.warm],
        ] as const)
          add({
            group: 'switch',
            params: { ...base, clients, pcid, vpid, after },
            metric: 'cycles-per-call',
            measurement: `a call ${after === 'switch' ? 'right after a context switch' : 'next after that one'}, ${what}`,
            value: mean(xs),
            unit: 'cycles',
            stats: summarize(xs),
          });
        add({
          group: 'switch',
          params: { ...base, clients, pcid, vpid },
          metric: 'vm-exits-per-op',
          measurement: `VM exits (all reasons) per turn: a context switch, two calls and the rest of the slice, from the first turn to the last (${p.turns} turns); ${what}`,
          value: p.vmExits / p.turns,
          unit: 'exits',
        });
        tick();
      }
  const views = new Map<number, number>();
  for (const k of viewCounts) {
    const xs = measureViews(P, k, q ? 4 : 10);
    views.set(k, mean(xs));
    add({
      group: 'views',
      params: { ...base, servers: k, pattern: 'round-robin' },
      metric: 'cycles-per-call',
      measurement: `one client calling ${k} resident servers in turn (a different EPT view each call)`,
      value: mean(xs),
      unit: 'cycles',
      stats: summarize(xs),
    });
    tick();
  }
  const chains = new Map<number, number>();
  for (const d of depths) {
    const xs = measureChain(P, d, q ? 4 : 10);
    chains.set(d, mean(xs));
    add({
      group: 'chain',
      params: { ...base, depth: d },
      metric: 'cycles-per-call',
      measurement: `a call through a chain of ${d} server(s), each handler calling the next`,
      value: mean(xs),
      unit: 'cycles',
      stats: summarize(xs),
    });
    tick();
  }
  const busy = measureBusy(P, q ? 20 : 60);
  for (const [outcome, xs] of [
    ['busy', busy.busy],
    ['served', busy.served],
  ] as const)
    if (xs.length > 0)
      add({
        group: 'busy',
        params: { ...base, maxConcurrent: 1, outcome },
        metric: 'p50',
        measurement: `a call ${outcome === 'busy' ? 'refused (SB_EBUSY: the one stack held by a long call from another core)' : 'served'}, median`,
        value: percentile(xs, 50),
        unit: 'cycles',
        stats: summarize(xs),
      });
  tick();
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const swAt = (c: number, pcid: boolean, vpid = true) =>
    sw.find((x) => x.clients === c && x.pcid === pcid && x.vpid === vpid)!;
  // Call by call, each run without VPID against the same run with it (the scene is
  // deterministic, so the k-th call of one is the k-th call of the other).
  let callsCompared = 0;
  let callsDiffering = 0;
  let vpidDelta = 0;
  for (const x of sw.filter((p) => !p.vpid)) {
    const on = swAt(x.clients, x.pcid);
    for (const [a, b] of [
      [x.afterSwitch, on.afterSwitch],
      [x.warm, on.warm],
    ] as const)
      a.forEach((v, i) => {
        callsCompared++;
        const d = Math.abs(v - (b[i] ?? Number.NaN));
        if (!(d < 1e-6)) callsDiffering++;
        if (d > vpidDelta) vpidDelta = d;
      });
  }
  const turnExits = sw.reduce((a, x) => a + x.vmExits, 0);
  const c0 = clientCounts[0]!;
  const setup = swAt(c0, true, false);
  const vMax = viewCounts[viewCounts.length - 1]!;
  const dMax = depths[depths.length - 1]!;
  return {
    id: 'worst-cases',
    title: worstCases.title,
    rows,
    notes: [
      `seL4, one core unless said; every answer was checked against the server that should have given it.${q ? ' --quick: fewer cases and repetitions.' : ''}`,
      `switch: the first call after a context switch costs ${fmt(mean(swAt(c0, true).afterSwitch))} cycles with PCIDs and ${fmt(mean(swAt(c0, false).afterSwitch))} without (${c0} clients), against ${fmt(mean(swAt(c0, true).warm))} for the next call: without PCIDs the kernel's CR3 write flushes the TLB, so the trampoline, tag, record, thread-block and server pages all walk again (2-D walks through the view's EPT).`,
      `switch without VPID: the Rootkernel with "enable VPID" off (RootkernelConfig.vpid false), where every VM exit and entry invalidates the guest's linear and combined TLB entries (SDM Vol. 3C §29.4.3.1). A SkyBridge call makes no VM exit (VMFUNC switches the EPTP in non-root mode), timer ticks go through the guest's IDT (external-interrupt exiting is off), and the context switch is a guest CR3 write (CR3-load exiting is off): the turns made ${turnExits} VM exits in all runs together; the ${setup.setupExits} before them (${setup.setupVmcalls === setup.setupExits ? 'all' : `${setup.setupVmcalls} of them`} VMCALL hypercalls at boot and registration, with ${c0} clients) come before the first turn. ${callsDiffering === 0 ? `All ${callsCompared} measured calls cost the same to the cycle with VPID off as with it` : `${callsDiffering} of ${callsCompared} measured calls ${callsDiffering === 1 ? 'differs' : 'differ'} with VPID off, by at most ${fmt(vpidDelta)} cycles${turnExits === 0 ? ", from what the TLB holds and not from an exit in the turns (without VPID the setup hypercalls' exits and entries flushed the guest's entries, and the guest shares VPID 0 with the Rootkernel, so its flushing CR3 writes can drop the Rootkernel's leftover entries too)" : ''}`}. VPID matters to a SkyBridge call only in a guest that exits between calls (a CPUID, a hypercall, or a VMM that takes interrupts by exiting): without VPID it loses all its linear and combined entries, global ones included, at each exit and again at the entry back.`,
      `views: one client calling ${vMax} resident servers in turn pays ${fmt(views.get(vMax)!)} cycles per call against ${fmt(views.get(1)!)} for one: no exit and no flush, but each view's translations carry its own EP4TA, so ${vMax} views need ${vMax} times the TLB entries and their EPT tables' cache lines; past the STLB's reach every call walks.`,
      `chains: ${depths.map((d) => `depth ${d}: ${fmt(chains.get(d)!)}`).join(', ')} cycles; each level adds a round trip in a view of its own, and deeper levels add TLB pressure as the views multiply (depth ${dMax} costs ${(chains.get(dMax)! / chains.get(1)! / dMax).toFixed(1)}× ${dMax} single calls).`,
      busy.busy.length > 0
        ? `busy: a refused call costs ${fmt(percentile(busy.busy, 50))} cycles (median of ${busy.busy.length}; the server half checks the lockout count and the key, finds no free stack and returns SB_EBUSY), against ${fmt(views.get(1)!)} for a served call with an empty handler (views, 1 server): cheap for the refused client, but there is no queue, so it must retry, and its latency is set by the holder's (temporal has what that does).`
        : 'busy: no call found every stack busy in this run.',
    ],
  };
}

export const worstCases: Experiment = { ...experimentInfo('worst-cases'), run };
