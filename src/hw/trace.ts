// An optional trace of the machine's architectural events (system calls, CR3 writes,
// VMFUNCs, VM exits and entries, exceptions, interrupts, IPIs), off by default. It is not
// on the memory-access hot path.

export interface TraceEvent {
  core: number;
  cycle: number;
  kind: string;
  detail: string;
}

export class Trace {
  enabled = false;
  readonly events: TraceEvent[] = [];
  /** Upper bound on kept events, so a long run cannot exhaust memory. */
  limit = 1_000_000;

  emit(core: number, cycle: number, kind: string, detail: string): void {
    if (!this.enabled || this.events.length >= this.limit) return;
    this.events.push({ core, cycle, kind, detail });
  }

  clear(): void {
    this.events.length = 0;
  }
}
