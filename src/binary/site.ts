// Sites for the rewriter: the instructions one or more overlapping occurrences touch, and
// re-decoding the instructions around them with the same linear sweep from the chunk start as
// the scanner, so both agree on instruction boundaries.
import { findChunk, type Chunk, type SegmentMap } from './code-map.ts';
import { Decoder, DecoderOptions, Instruction, type IcedInstruction } from './iced.ts';
import type { InstructionField } from './instruction-fields.ts';
import { possiblyDataReason, type InstructionInfo, type Occurrence } from './occurrence.ts';
import type { ElfScan } from './scanner.ts';

export interface DecodedRun {
  /** The instruction just before `from` in the same chunk, if any. */
  prev: IcedInstruction | undefined;
  run: IcedInstruction[];
}

/**
 * Instructions of `chunk` starting at `from` (an instruction boundary) through the first that
 * ends at or after `minEnd`, plus up to `extra` more, and the one before `from`: all clones
 * the caller must free.
 */
export function decodeRun(
  bytes: Uint8Array,
  chunk: Chunk,
  from: bigint,
  minEnd: bigint,
  extra: number,
): DecodedRun {
  const len = Number(chunk.end - chunk.start);
  const dec = new Decoder(
    64,
    bytes.subarray(chunk.fileOffset, chunk.fileOffset + len),
    DecoderOptions.None,
  );
  const ins = new Instruction();
  const out: IcedInstruction[] = [];
  let prev: IcedInstruction | undefined;
  try {
    dec.ip = chunk.start;
    let more = extra;
    while (dec.canDecode) {
      dec.decodeOut(ins);
      if (ins.ip < from) {
        if (ins.nextIP === from) {
          prev?.free();
          prev = ins.clone();
        }
        continue;
      }
      out.push(ins.clone());
      if (ins.nextIP >= minEnd && more-- <= 0) break;
    }
  } finally {
    ins.free();
    dec.free();
  }
  return { prev, run: out };
}

export function freeAll(list: IcedInstruction[]): void {
  for (const i of list) i.free();
}

export interface Site {
  start: bigint;
  end: bigint;
  map: SegmentMap;
  chunk: number;
  occs: Occurrence[];
}

/** The instructions an occurrence touches. */
function infos(o: Occurrence): InstructionInfo[] {
  return o.kind === 'spanning'
    ? o.instructions
    : o.kind === 'vmfunc' || o.kind === 'in-instruction'
      ? [o.instruction]
      : [];
}

export function groupSites(scan: ElfScan, occs: Occurrence[]): Site[] {
  const sites: Site[] = [];
  for (const o of occs) {
    const list = infos(o);
    const start = list[0].address;
    const last = list[list.length - 1];
    const end = last.address + BigInt(last.length);
    const prev = sites[sites.length - 1];
    if (prev && start < prev.end) {
      prev.end = end > prev.end ? end : prev.end;
      prev.occs.push(o);
      continue;
    }
    const map = scan.maps.find(
      (m) => m.segment.vaddr <= start && start < m.segment.vaddr + m.segment.filesz,
    )!;
    sites.push({ start, end, map, chunk: findChunk(map.chunks, start), occs: [o] });
  }
  return sites;
}

export function possiblyData(occs: Occurrence[]): string | undefined {
  const reasons = occs.map(possiblyDataReason).filter((r) => r !== undefined);
  return reasons.length > 0 ? reasons[0] : undefined;
}

export function fieldsByAddress(occs: Occurrence[]): Map<bigint, Set<InstructionField>> {
  const m = new Map<bigint, Set<InstructionField>>();
  for (const o of occs)
    for (const i of infos(o)) {
      const s = m.get(i.address) ?? new Set<InstructionField>();
      i.fields.forEach((f) => s.add(f));
      m.set(i.address, s);
    }
  return m;
}
