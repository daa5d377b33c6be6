// Places code in a text region: real encodings for the instructions with an architectural
// effect, and for the straight-line blocks between them a run of bytes whose length is the
// block's size (NOP filler: the model fetches those bytes and charges the block's
// instructions at its instruction mix's class costs (src/hw/mix.ts); it does not decode them). So every path runs at real addresses, and
// instruction fetch, ITLB and L1I behave as they would for code of that size and place.

import type { CodeBlock } from '../hw/core.ts';
import { ENC, type Instruction } from '../hw/encodings.ts';
import type { Mix } from '../hw/mix.ts';

export type Block = CodeBlock;

export class CodeLayout {
  private cursor = 0;
  readonly bytes: Uint8Array;

  constructor(
    readonly base: number,
    readonly size: number,
    /** The mix of the blocks laid out from now on (see `use`). */
    private mix: Mix,
  ) {
    this.bytes = new Uint8Array(size).fill(0x90);
  }

  /** Blocks laid out after this call are code of `mix` (e.g. the next function's). */
  use(mix: Mix): void {
    this.mix = mix;
  }

  get used(): number {
    return this.cursor;
  }

  private take(n: number): number {
    if (this.cursor + n > this.size)
      throw new RangeError(`code layout at ${this.base.toString(16)} full (${this.size} bytes)`);
    const at = this.base + this.cursor;
    this.cursor += n;
    return at;
  }

  /** A straight-line block of `instructions` instructions in `bytes` bytes, of the current
   *  mix or of `mix`. */
  block(instructions: number, bytes: number, mix: Mix = this.mix): Block {
    return { at: this.take(bytes), bytes, instructions, mix };
  }

  /** One architectural instruction with its real encoding; returns its address. */
  insn(name: Instruction): number {
    const enc = ENC[name];
    const at = this.take(enc.length);
    this.bytes.set(enc, at - this.base);
    return at;
  }

  /** Raw bytes (e.g. a scanned-and-rewritten user image); returns their address. */
  raw(bytes: Uint8Array): number {
    const at = this.take(bytes.length);
    this.bytes.set(bytes, at - this.base);
    return at;
  }

  /** Aligns the cursor (e.g. a function start on 16 bytes, a hot path on a cache line). */
  align(n: number): void {
    const pad = (n - (this.cursor % n)) % n;
    this.take(pad);
  }
}
