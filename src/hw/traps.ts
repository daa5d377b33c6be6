// How a fault reaches the software that runs on the machine. The machine performs the
// architectural delivery itself (IDT lookup and stack frame for an exception, guest-state
// save and host-state load for a VM exit) and then throws one of these, so the TypeScript
// code of the interrupted program unwinds to the handler's code (the Subkernel's or the
// Rootkernel's), which catches it. Only faults throw; the hot paths return numbers.

import { hex } from './addr.ts';

/** Exception vectors (SDM Vol. 3A §6.3.1, Table 6-1). */
export const Vector = {
  DE: 0,
  BP: 3,
  UD: 6,
  DF: 8,
  SS: 12,
  GP: 13,
  PF: 14,
} as const;

export type TrapEvent =
  | { kind: 'exception'; vector: number; errorCode: number; cr2: number; rip: number }
  | { kind: 'interrupt'; vector: number; rip: number }
  | {
      kind: 'vmexit';
      reason: number;
      qualification: number;
      guestPhysical: number;
      guestLinear: number;
      rip: number;
    }
  | { kind: 'shutdown'; reason: string };

/** Thrown after the machine delivered an event; `event` says what and where. */
export class Trap extends Error {
  constructor(
    readonly core: number,
    readonly event: TrapEvent,
  ) {
    super(describe(event));
    this.name = 'Trap';
  }
}

function describe(e: TrapEvent): string {
  switch (e.kind) {
    case 'exception':
      return `exception ${e.vector} (error code ${hex(e.errorCode)}) at ${hex(e.rip)}${e.vector === 14 ? `, CR2 ${hex(e.cr2)}` : ''}`;
    case 'interrupt':
      return `interrupt ${e.vector} at ${hex(e.rip)}`;
    case 'vmexit':
      return `VM exit reason ${e.reason} (qualification ${hex(e.qualification)}) at ${hex(e.rip)}`;
    case 'shutdown':
      return `shutdown: ${e.reason}`;
  }
}
