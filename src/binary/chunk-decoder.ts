// Linear-sweep decoding of code chunks, only as far as needed: hits arrive in ascending order,
// and the decoder for the current chunk resumes where it stopped, so a whole scan decodes each
// chunk at most once and only up to its last hit. The boundaries it finds are exactly those a
// full linear sweep from the chunk start would find (same start, same decoder).
import type { Chunk } from './code-map.ts';
import {
  Code,
  Decoder,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  Instruction,
  type IcedDecoder,
  type IcedFormatter,
  type IcedInstruction,
} from './iced.ts';
import { instructionFields } from './instruction-fields.ts';
import type { InstructionInfo } from './occurrence.ts';

export interface DecodedInstruction {
  info: InstructionInfo;
  /** Byte fields of the whole instruction (info.fields only lists those of the hit). */
  allFields: ReturnType<typeof instructionFields>;
  invalid: boolean;
  isVmfunc: boolean;
  start: bigint;
  end: bigint;
}

// iced copies a decoder's input into WebAssembly memory, which never shrinks: decoding a
// window at a time keeps that small however large the chunk (a stripped 400 MB .text is one).
const WINDOW = 1 << 20;
const MAX_LENGTH = 15n; // longest x86 instruction (SDM Vol. 2, 2.1)

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

export class ChunkDecoder {
  private readonly ins: IcedInstruction = new Instruction();
  private readonly formatter: IcedFormatter = new Formatter(FormatterSyntax.Gas);
  private decoder: IcedDecoder | undefined;
  private chunkIndex = -1;
  /** Instructions decoded for the previous hit, which may also cover the next one. */
  private recent: DecodedInstruction[] = [];
  private nextIp = 0n;
  private windowEnd = 0n;
  /** Start of the first undecodable instruction the sweep of this chunk met, if any. */
  private firstInvalid: bigint | undefined;

  /** `bytes` holds the file from offset `base` on (one segment's bytes, or the whole file). */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly chunks: Chunk[],
    private readonly base = 0,
  ) {
    // objdump's look: lower-case hex, short branch targets, RIP-relative shown as such.
    this.formatter.uppercaseHex = false;
    this.formatter.branchLeadingZeros = false;
    this.formatter.ripRelativeAddresses = true;
  }

  free(): void {
    this.decoder?.free();
    this.ins.free();
    this.formatter.free();
  }

  /** A decoder over the chunk's bytes from `ip` (an instruction boundary), one window long. */
  private openAt(ip: bigint): void {
    this.decoder?.free();
    const c = this.chunks[this.chunkIndex];
    const len = c.end - ip < BigInt(WINDOW) ? Number(c.end - ip) : WINDOW;
    const at = c.fileOffset + Number(ip - c.start) - this.base;
    this.decoder = new Decoder(64, this.bytes.subarray(at, at + len), DecoderOptions.None);
    this.decoder.ip = ip;
    this.windowEnd = ip + BigInt(len);
  }

  private open(index: number): void {
    const c = this.chunks[index];
    this.chunkIndex = index;
    this.openAt(c.start);
    this.nextIp = c.start;
    this.recent = [];
    this.firstInvalid = undefined;
  }

  /** Where the sweep of chunk `index` met undecodable bytes before `ip`, if it did. */
  invalidBefore(index: number, ip: bigint): bigint | undefined {
    if (index !== this.chunkIndex) return undefined;
    return this.firstInvalid !== undefined && this.firstInvalid < ip
      ? this.firstInvalid
      : undefined;
  }

  private snapshot(c: Chunk): DecodedInstruction {
    const ins = this.ins;
    const start = ins.ip;
    const off = c.fileOffset + Number(start - c.start);
    const raw = this.bytes.subarray(off - this.base, off - this.base + ins.length);
    const allFields = instructionFields(this.decoder as IcedDecoder, ins, raw);
    return {
      info: {
        address: start,
        fileOffset: off,
        length: ins.length,
        bytes: hex(raw),
        text: ins.isInvalid ? '(bad)' : this.formatter.format(ins),
        fields: [],
      },
      allFields,
      invalid: ins.isInvalid,
      isVmfunc: ins.code === Code.Vmfunc,
      start,
      end: start + BigInt(ins.length),
    };
  }

  /**
   * The instructions of code chunk `index` that overlap [from, to), in order, decoding the
   * chunk from its start as far as needed. Calls must come with non-decreasing `from` per
   * chunk. Returns fewer instructions than needed if the chunk ends first.
   */
  covering(index: number, from: bigint, to: bigint): DecodedInstruction[] {
    if (index !== this.chunkIndex) this.open(index);
    const c = this.chunks[index];
    const found = this.recent.filter((d) => d.end > from && d.start < to);
    const got: DecodedInstruction[] = [...found];
    while (this.nextIp < to) {
      // Move the window on while a whole instruction still fits: same boundaries as one pass.
      if (this.windowEnd - this.nextIp < MAX_LENGTH && this.windowEnd < c.end)
        this.openAt(this.nextIp);
      const dec = this.decoder as IcedDecoder;
      if (!dec.canDecode) break;
      dec.decodeOut(this.ins);
      if (this.firstInvalid === undefined && this.ins.isInvalid) this.firstInvalid = this.ins.ip;
      this.nextIp = this.ins.nextIP;
      if (this.nextIp > from) got.push(this.snapshot(c));
    }
    this.recent = got;
    return got;
  }
}
