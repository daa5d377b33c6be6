// An instruction mix: how a body of code the model does not decode (a kernel path's
// straight-line block) divides among the interpreter's cost classes. A block of n
// instructions with mix m costs n × Σ share(c) × cost(c), at the same per-class costs the
// interpreter charges for user code (profile.insn, src/hw/cpu/insn.ts), so kernel and user
// code are priced by one table and no cycles-per-instruction figure is fitted to any result.
// Where each mix comes from (which compiled code, counted how) is its `source`.

import { CLASS_NAMES, Cls } from './cpu/insn.ts';

export type ClassName = (typeof CLASS_NAMES)[number];
export type ClassCounts = Partial<Record<ClassName, number>>;

/** Every mix defined so far: a mix's id is its place here. */
const registry: Mix[] = [];

export class Mix {
  /** Dense index, for the core's per-mix cost cache. */
  readonly id: number;
  /** Share of each class, in Cls order; sums to 1. */
  readonly share: Float64Array;
  /** Instructions counted to obtain the shares. */
  readonly counted: number;

  constructor(
    readonly name: string,
    counts: ClassCounts,
    /** Which code was counted, and how. */
    readonly source: string,
  ) {
    const share = new Float64Array(Cls.Count);
    let total = 0;
    for (const [k, v] of Object.entries(counts)) {
      const i = CLASS_NAMES.indexOf(k as ClassName);
      if (i < 0) throw new Error(`mix ${name}: unknown instruction class '${k}'`);
      if (!(Number.isFinite(v) && v >= 0)) throw new Error(`mix ${name}: bad count for ${k}`);
      share[i] = v;
      total += v;
    }
    if (total <= 0) throw new Error(`mix ${name}: no instructions`);
    for (let i = 0; i < share.length; i++) share[i]! /= total;
    this.share = share;
    this.counted = total;
    this.id = registry.length;
    registry.push(this);
  }

  /** Mean cycles per instruction of this mix under the per-class costs `classCost`. */
  cyclesPerInstruction(classCost: Float64Array): number {
    let c = 0;
    for (let i = 0; i < this.share.length; i++) c += this.share[i]! * classCost[i]!;
    return c;
  }

  /** What `instructions` instructions of this mix cost, in units of 1/256 cycle: multiples
   *  of a power of two add exactly in floating point, so a run's cycle count does not depend
   *  on the order of its additions, and the rounding is below 0.002 cycles a block. */
  cycles(instructions: number, classCost: Float64Array): number {
    return blockCycles(instructions, this.cyclesPerInstruction(classCost));
  }
}

/** `instructions` at `cpi` cycles each, rounded to 1/256 cycle (see Mix.cycles). */
export function blockCycles(instructions: number, cpi: number): number {
  return Math.round(instructions * cpi * 256) / 256;
}

/** The profile's per-class costs as a dense array in Cls order. */
export function classCosts(insn: Readonly<Record<ClassName, number>>): Float64Array {
  return Float64Array.from(CLASS_NAMES, (n) => insn[n]);
}
