// Every address that code is known to jump, call or point to: direct branch targets and
// RIP-relative operand addresses from a full linear sweep of all code chunks, plus symbol
// values and the entry point. A run of instructions may be moved only if none of its interior
// boundaries is in this set. Indirect targets computed at run time (jump tables holding
// offsets, function pointers built from relocations) are not visible here: see README.md.
import type { SegmentMap } from './code-map.ts';
import type { ElfFile } from './elf-types.ts';
import { Decoder, DecoderOptions, Instruction } from './iced.ts';
import { hasNearBranchOperand } from './instruction-fields.ts';

export function knownTargets(elf: ElfFile, maps: SegmentMap[]): Set<bigint> {
  const out = new Set<bigint>([elf.header.entry]);
  for (const s of elf.symbols) out.add(s.value);
  const ins = new Instruction();
  try {
    for (const m of maps) {
      for (const c of m.chunks) {
        if (c.kind !== 'code') continue;
        const len = Number(c.end - c.start);
        const dec = new Decoder(
          64,
          elf.bytes.subarray(c.fileOffset, c.fileOffset + len),
          DecoderOptions.None,
        );
        dec.ip = c.start;
        while (dec.canDecode) {
          dec.decodeOut(ins);
          if (hasNearBranchOperand(ins)) out.add(ins.nearBranchTarget);
          else if (ins.isIpRelMemoryOperand) out.add(ins.ipRelMemoryAddress);
        }
        dec.free();
      }
    }
  } finally {
    ins.free();
  }
  return out;
}
