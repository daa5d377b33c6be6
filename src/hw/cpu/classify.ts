// Counts the instructions of a run of machine code by the interpreter's cost classes: the
// static mix of code the model charges without decoding at run time (a kernel's assembly
// sequence, a hand-written stub). Each instruction is decoded exactly as the interpreter
// would decode it and counted in the class the interpreter would charge it. Instructions the
// interpreter refuses at CPL 3 (MOV from a control register, VMREAD/VMWRITE, ...) have no
// class of their own in the table; they are reported by name in `other` so the caller can
// decide (and say) how to charge them.

import { Mix, type ClassCounts } from '../mix.ts';
import { decodeOne } from './decode.ts';
import { CLASS_NAMES, Op } from './insn.ts';

export interface CodeCounts {
  classes: ClassCounts;
  /** Instructions with no class (privileged or undecodable), by their text's mnemonic. */
  other: Record<string, number>;
  instructions: number;
}

export function classifyCode(bytes: Uint8Array, rip: number): CodeCounts {
  const classes: ClassCounts = {};
  const other: Record<string, number> = {};
  let off = 0;
  let n = 0;
  while (off < bytes.length) {
    const { insn, incomplete } = decodeOne(bytes.subarray(off), rip + off);
    if (incomplete) throw new RangeError(`code ends inside an instruction at +${off}`);
    n++;
    if (insn.op === Op.Ud || insn.op === Op.Privileged) {
      const name = insn.text.split(' ')[0] ?? '?';
      other[name] = (other[name] ?? 0) + 1;
    } else {
      const c = CLASS_NAMES[insn.cls as number] as (typeof CLASS_NAMES)[number];
      classes[c] = (classes[c] ?? 0) + 1;
    }
    off += insn.len;
  }
  return { classes, other, instructions: n };
}

/** The mix of a known instruction sequence, counting each instruction the interpreter has
 *  no class for (a MOV from CR3, VMREAD, VMWRITE) as a simple ALU operation: none of them
 *  has a figure in the cost table, and each is a single register move on the core. */
export function mixOfCode(name: string, bytes: readonly number[]): Mix {
  const { classes, other } = classifyCode(Uint8Array.from(bytes), 0);
  const extra = Object.values(other).reduce((a, b) => a + b, 0);
  const counts: ClassCounts = { ...classes, alu: (classes.alu ?? 0) + extra };
  const named = Object.keys(other).join(', ');
  return new Mix(
    name,
    counts,
    `its own bytes, decoded and classed as the interpreter classes them${named ? ` (${named}: as ALU)` : ''}`,
  );
}
