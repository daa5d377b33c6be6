// A machine's trace (src/hw/trace.ts) as a Chrome trace-event file (the JSON object format
// that Perfetto and chrome://tracing open): one process per core, and in it a track of the
// core's mode (user / kernel / vmx-root), one of its owner (who software says runs), one of
// its EPT view, a track of architectural events (SYSCALL, SYSRET, CR3 writes, VMFUNC, VM
// exits and entries, exceptions, interrupts, IPIs) and one of TLB and cache misses, as
// instant events.
//
// Time: `ts` and `dur` are the core's cycle counter, so the timeline's "µs" are cycles (the
// model counts cycles; at the profile's clock one cycle is 1/frequencyGHz ns). otherData
// says so.

import type { Machine } from '../hw/machine.ts';
import type { TraceEvent, TraceKind } from '../hw/trace.ts';

/** One trace event (Chrome's trace-event format: M metadata, X complete, i instant). */
export interface ChromeEvent {
  name: string;
  ph: 'M' | 'X' | 'i';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  /** Scope of an instant event: t = its thread's track. */
  s?: 't';
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  otherData: Record<string, string | number | boolean>;
}

/** The tracks of each core, as thread ids within its process. */
export const TRACKS = { mode: 1, owner: 2, view: 3, events: 4, misses: 5 } as const;
const TRACK_NAMES: Record<number, string> = {
  [TRACKS.mode]: 'mode',
  [TRACKS.owner]: 'owner',
  [TRACKS.view]: 'EPT view',
  [TRACKS.events]: 'events',
  [TRACKS.misses]: 'TLB and cache misses',
};

/** Instant events' names, by kind. */
export const EVENT_NAMES: Record<Exclude<TraceKind, 'context'>, string> = {
  syscall: 'SYSCALL',
  sysret: 'SYSRET',
  cr3: 'MOV to CR3',
  vmfunc: 'VMFUNC',
  vmexit: 'VM exit',
  vmentry: 'VM entry',
  exception: 'exception',
  interrupt: 'interrupt',
  ipi: 'IPI',
  'tlb-miss': 'TLB miss',
  'cache-miss': 'cache miss',
};

/** A core's process id (1-based: some viewers treat pid 0 specially). */
export const corePid = (core: number): number => core + 1;

interface Open {
  name: string;
  start: number;
}

/** `m`'s recorded trace as a Chrome trace; `meta` goes into otherData. */
export function chromeTrace(
  m: Machine,
  meta: Record<string, string | number | boolean> = {},
): ChromeTrace {
  const out: ChromeEvent[] = [];
  const timed: ChromeEvent[] = [];
  m.cores.forEach((_, core) => {
    const pid = corePid(core);
    out.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: `core ${core}` } });
    out.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: core } });
    for (const [tid, name] of Object.entries(TRACK_NAMES)) {
      out.push({ name: 'thread_name', ph: 'M', pid, tid: Number(tid), args: { name } });
      out.push({
        name: 'thread_sort_index',
        ph: 'M',
        pid,
        tid: Number(tid),
        args: { sort_index: Number(tid) },
      });
    }
  });
  // The slice open on each (core, track); a context event closes those whose value changed.
  const open = new Map<string, Open>();
  const close = (core: number, tid: number, end: number): void => {
    const key = `${core}/${tid}`;
    const o = open.get(key);
    if (o === undefined) return;
    open.delete(key);
    if (end > o.start)
      timed.push({
        name: o.name,
        cat: TRACK_NAMES[tid]!,
        ph: 'X',
        pid: corePid(core),
        tid,
        ts: o.start,
        dur: end - o.start,
      });
  };
  const slice = (core: number, tid: number, at: number, name: string): void => {
    const o = open.get(`${core}/${tid}`);
    if (o !== undefined && o.name === name) return;
    close(core, tid, at);
    open.set(`${core}/${tid}`, { name, start: at });
  };
  const last = m.cores.map(() => 0);
  for (const e of m.trace.events) {
    last[e.core] = e.cycle;
    if (e.kind === 'context') {
      const a = e.args as { mode: string; owner: string; ept: string };
      slice(e.core, TRACKS.mode, e.cycle, a.mode);
      slice(e.core, TRACKS.owner, e.cycle, a.owner);
      slice(e.core, TRACKS.view, e.cycle, a.ept === 'off' ? 'EPT off' : `EPT ${a.ept}`);
      continue;
    }
    timed.push(instant(e));
  }
  // The open slices end with the run, or with the last event kept when the limit cut it short.
  m.cores.forEach((c, core) => {
    const end = m.trace.dropped > 0 ? last[core]! : c.cycles;
    for (const tid of [TRACKS.mode, TRACKS.owner, TRACKS.view]) close(core, tid, end);
  });
  // Stable: events at one cycle keep the order they happened in.
  timed.sort((a, b) => a.ts! - b.ts!);
  return {
    traceEvents: [...out, ...timed],
    otherData: {
      timeUnit:
        'cycles: ts and dur count the simulated core clock; read the timeline’s µs as cycles',
      frequencyGHz: m.profile.frequencyGHz,
      profile: m.profile.name,
      events: m.trace.events.length,
      droppedEvents: m.trace.dropped,
      ...meta,
    },
  };
}

function instant(e: TraceEvent): ChromeEvent {
  const tid = e.kind === 'tlb-miss' || e.kind === 'cache-miss' ? TRACKS.misses : TRACKS.events;
  return {
    name: EVENT_NAMES[e.kind as Exclude<TraceKind, 'context'>],
    cat: e.kind,
    ph: 'i',
    s: 't',
    pid: corePid(e.core),
    tid,
    ts: e.cycle,
    args: { detail: e.detail, ...e.args },
  };
}
