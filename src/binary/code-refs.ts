// References from code, found by the same linear sweep of every code chunk as the scanner:
// direct branches and calls (rel8/rel32) and RIP-relative operands, each with where its
// offset field lies, so that it can be re-pointed; and indirect jumps, which may use a jump
// table (targets computed from data that has no relocations).
import type { SegmentMap } from './code-map.ts';
import type { ElfFile } from './elf-types.ts';
import { Decoder, DecoderOptions, FlowControl, Instruction, type IcedInstruction } from './iced.ts';
import { hasNearBranchOperand } from './instruction-fields.ts';

export interface CodeRef {
  /** Address of the referencing instruction, and of the next one. */
  ip: bigint;
  next: bigint;
  /** File offset of the instruction. */
  fileOffset: number;
  kind: 'branch' | 'rip';
  /** Offset and size of the rel or displacement field inside the instruction. */
  field: number;
  size: number;
  target: bigint;
}

export interface Sweep {
  refs: CodeRef[];
  /** Indirect jumps through a register or a non-RIP-relative memory operand. */
  indirectJumps: bigint[];
  /** Undecodable bytes met by the sweep (all of them, in sweep order). */
  invalid: bigint[];
  /** The instruction text, for messages, of each indirect jump. */
  text: Map<bigint, string>;
}

/** True for `jmp reg` and `jmp [mem]` unless mem is RIP-relative (a GOT slot, a pointer). */
export function isTableJump(ins: IcedInstruction): boolean {
  return ins.flowControl === FlowControl.IndirectBranch && !ins.isIpRelMemoryOperand;
}

/**
 * Sweeps the code chunks of `maps` (all of them, or those `chunkFilter` accepts) and keeps
 * the references `keep` accepts; indirect jumps are kept when `keep` accepts their own
 * address as target.
 */
export function sweepCode(
  elf: ElfFile,
  maps: SegmentMap[],
  keep: (ip: bigint, target: bigint) => boolean,
  chunkFilter: (start: bigint, end: bigint) => boolean = () => true,
): Sweep {
  const out: Sweep = { refs: [], indirectJumps: [], invalid: [], text: new Map() };
  const ins = new Instruction();
  try {
    for (const m of maps)
      for (const c of m.chunks) {
        if (c.kind !== 'code' || !chunkFilter(c.start, c.end)) continue;
        const bytes = elf.bytes.subarray(c.fileOffset, c.fileOffset + Number(c.end - c.start));
        const dec = new Decoder(64, bytes, DecoderOptions.None);
        dec.ip = c.start;
        try {
          while (dec.canDecode) {
            dec.decodeOut(ins);
            const ip = ins.ip;
            if (ins.isInvalid) {
              out.invalid.push(ip);
              continue;
            }
            if (isTableJump(ins) && keep(ip, ip)) {
              out.indirectJumps.push(ip);
              out.text.set(ip, ins.toString());
            }
            const branch = hasNearBranchOperand(ins);
            if (!branch && !ins.isIpRelMemoryOperand) continue;
            const target = branch ? ins.nearBranchTarget : ins.ipRelMemoryAddress;
            if (!keep(ip, target)) continue;
            const co = dec.getConstantOffsets(ins);
            out.refs.push({
              ip,
              next: ins.nextIP,
              fileOffset: c.fileOffset + Number(ip - c.start),
              kind: branch ? 'branch' : 'rip',
              field: branch ? co.immediateOffset : co.displacementOffset,
              size: branch ? co.immediateSize : co.displacementSize,
              target,
            });
            co.free();
          }
        } finally {
          dec.free();
        }
      }
  } finally {
    ins.free();
  }
  return out;
}
