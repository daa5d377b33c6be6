// Re-decoding the instructions around an occurrence for the rewriter, with the same linear
// sweep from the chunk start as the scanner, so both agree on instruction boundaries.
import type { Chunk } from './code-map.ts';
import { Decoder, DecoderOptions, Instruction, type IcedInstruction } from './iced.ts';

/**
 * Instructions of `chunk` starting at `from` (an instruction boundary) through the first that
 * ends at or after `minEnd`, plus up to `extra` more, all clones the caller must free.
 */
export function decodeRun(
  bytes: Uint8Array,
  chunk: Chunk,
  from: bigint,
  minEnd: bigint,
  extra: number,
): IcedInstruction[] {
  const len = Number(chunk.end - chunk.start);
  const dec = new Decoder(
    64,
    bytes.subarray(chunk.fileOffset, chunk.fileOffset + len),
    DecoderOptions.None,
  );
  const ins = new Instruction();
  const out: IcedInstruction[] = [];
  try {
    dec.ip = chunk.start;
    let more = extra;
    while (dec.canDecode) {
      dec.decodeOut(ins);
      if (ins.ip < from) continue;
      out.push(ins.clone());
      if (ins.nextIP >= minEnd && more-- <= 0) break;
    }
  } finally {
    ins.free();
    dec.free();
  }
  return out;
}

export function freeAll(list: IcedInstruction[]): void {
  for (const i of list) i.free();
}
