// Re-decoding the instructions around an occurrence for the rewriter, with the same linear
// sweep from the chunk start as the scanner, so both agree on instruction boundaries.
import type { Chunk } from './code-map.ts';
import { Decoder, DecoderOptions, Instruction, type IcedInstruction } from './iced.ts';

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
