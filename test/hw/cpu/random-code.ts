// Random x86-64 cases for differential testing (interpreter vs. the host, native.ts): machine
// code from random-insns.ts units, encoded with iced-x86 at its real address (CODE_BASE), and a
// random input state. Also: which flags are defined after a sequence (definedFlagsMask).
import fc from 'fast-check';
import type { Code as CodeT, Register as RegisterT, RepPrefixKind } from 'iced-x86';
import {
  Code,
  Decoder,
  DecoderOptions,
  Encoder,
  Formatter,
  FormatterSyntax,
  Instruction,
  MemoryOperand,
  Register,
  using,
  type IcedInstruction,
} from '../../../src/binary/iced.ts';
import { ARITH_FLAGS, CODE_BASE, FLAG, type NativeCase } from './native.ts';
import {
  arbUnit,
  INSN_CLASSES,
  type InsnClass,
  type Opnd,
  type Spec,
  type Unit,
} from './random-insns.ts';
import { arbState } from './random-state.ts';

export { INSN_CLASSES, type InsnClass, type Spec, type Unit };
export { arbF64Bits, arbMem, arbState, arbU64, R15_VALUE, RSP_VALUE } from './random-state.ts';

function code(name: string): CodeT {
  const c = (Code as unknown as Record<string, number>)[name];
  if (c === undefined) throw new Error(`no iced Code ${name}`);
  return c as CodeT;
}
function reg(name: string): RegisterT {
  const r = (Register as unknown as Record<string, number>)[name];
  if (r === undefined) throw new Error(`no iced Register ${name}`);
  return r as RegisterT;
}

type StringCreate = (
  addressSize: number,
  a: RegisterT | RepPrefixKind,
  b?: RepPrefixKind,
) => IcedInstruction;
const STOS_SCAS = /^(Stos|Scas)/;
// Not the SSE MOVSD/CMPSD (Movsd_xmm_xmmm64, Cmpsd_xmm_xmmm64_imm8).
const STRING_OP = /^(Movs|Cmps)[bwdq]_m\d+_m\d+$|^(Stos|Lods|Scas)[bwdq]_/;

function makeInstr(spec: Spec, ip: bigint): IcedInstruction {
  const c = code(spec.c);
  if (STRING_OP.test(spec.c)) {
    // iced's string-op factories: createStosb(addrSize, rep), createMovsb(addrSize, seg, rep), ...
    const create = (Instruction as unknown as Record<string, StringCreate>)[
      `create${spec.c.split('_')[0]}`
    ];
    const rep = (spec.rep ?? 0) as RepPrefixKind;
    return STOS_SCAS.test(spec.c) ? create(64, rep) : create(64, Register.None, rep);
  }
  const kinds = spec.o.map((o) =>
    typeof o === 'string'
      ? 'r'
      : 'm' in o || 'lea' in o
        ? 'm'
        : 'i' in o
          ? 'i'
          : 'i64' in o
            ? 'I'
            : 'n',
  );
  const R = (k: number): RegisterT => reg(spec.o[k] as string);
  const I = (k: number): number => (spec.o[k] as { i: number }).i;
  const M = (k: number): InstanceType<typeof MemoryOperand> => memOperand(spec.o[k]);
  let ins: IcedInstruction;
  switch (kinds.join('')) {
    case '':
      ins = Instruction.create(c);
      break;
    case 'r':
      ins = Instruction.createReg(c, R(0));
      break;
    case 'm':
      ins = Instruction.createMem(c, M(0));
      break;
    case 'i':
      ins = Instruction.createI32(c, I(0));
      break;
    case 'n':
      ins = Instruction.createBranch(c, ip + 5n);
      break; // call rel32 to the next instruction
    case 'rr':
      ins = Instruction.createRegReg(c, R(0), R(1));
      break;
    case 'ri':
      ins = Instruction.createRegI32(c, R(0), I(1));
      break;
    case 'rI':
      ins = Instruction.createRegU64(c, R(0), (spec.o[1] as { i64: bigint }).i64);
      break;
    case 'rm':
      ins = Instruction.createRegMem(c, R(0), M(1));
      break;
    case 'mr':
      ins = Instruction.createMemReg(c, M(0), R(1));
      break;
    case 'mi':
      ins = Instruction.createMemI32(c, M(0), I(1));
      break;
    case 'rri':
      ins = Instruction.createRegRegI32(c, R(0), R(1), I(2));
      break;
    case 'rmi':
      ins = Instruction.createRegMemI32(c, R(0), M(1), I(2));
      break;
    default:
      throw new Error(`unsupported operands for ${spec.c}: ${kinds.join('')}`);
  }
  if (spec.lock) ins.hasLockPrefix = true;
  return ins;
}

// The MemoryOperand passes into the Instruction (iced frees it there).
function memOperand(o: Opnd): InstanceType<typeof MemoryOperand> {
  if (typeof o === 'object' && 'lea' in o) {
    const [base, index, scale, disp] = o.lea;
    const target = base === 'RIP' ? CODE_BASE + BigInt(disp) : BigInt(disp);
    // displSize is the address size (iced then picks the shortest displacement encoding).
    const a32 = [base, index].some((r) => /^(E[A-Z]{2}|R\d+D)$/.test(r));
    const size = disp === 0 && base !== 'RIP' ? 0 : a32 ? 4 : 8;
    return MemoryOperand.new64(reg(base), reg(index), scale, target, size, false, Register.None);
  }
  const { m, base } = o as { m: number; base?: string };
  return MemoryOperand.new64(
    reg(base ?? 'R15'),
    Register.None,
    1,
    BigInt(m),
    m === 0 ? 0 : 8,
    false,
    Register.None,
  );
}

// ---- Flags (SDM Vol. 1 3.4.3, Appendix A "EFLAGS Cross-Reference"; per instruction Vol. 2) ----

// iced's RflagsBits → x86 RFLAGS bit positions.
const ICED_FLAGS: [number, number][] = [
  [1, FLAG.OF],
  [2, FLAG.SF],
  [4, FLAG.ZF],
  [8, FLAG.AF],
  [16, FLAG.CF],
  [32, FLAG.PF],
  [64, FLAG.DF],
];
const x86Flags = (iced: number): number =>
  ICED_FLAGS.reduce((acc, [i, x]) => (iced & i ? acc | x : acc), 0);

/**
 * One instruction's effect on the set of undefined flags: returns the flags it reads and the
 * undefined set after it. Shifts and rotates are done here, not by iced, because their rules
 * depend on the count (SDM Vol. 2B "SAL/SAR/SHL/SHR", Vol. 2B "RCL/RCR/ROL/ROR"):
 *  - masked count 0: no flag changes;
 *  - OF is defined only for a masked count of 1; AF is undefined after any non-zero shift;
 *  - SHL/SHR of 8/16-bit operands by a count >= the size leave CF undefined;
 *  - RCL/RCR 8/16-bit rotate by (count mod 9/17): CF keeps its old value when that is 0.
 * A CL count is unknown statically, so it is treated as "any": OF (and AF for shifts, CF for
 * SHL/SHR 8/16) become undefined, and no flag becomes defined (the count may be 0, which
 * leaves the old flags). REPE/REPNE CMPS/SCAS likewise define nothing (RCX may be 0).
 */
function flagStep(ins: IcedInstruction, undef: number): { read: number; undef: number } {
  const name = Code[ins.code] as string;
  const sh = /^(Rol|Ror|Rcl|Rcr|Shl|Sal|Shr|Sar)_rm(8|16|32|64)_(1|CL|imm8)$/.exec(name);
  if (sh) {
    const [, mn, sizeText, cnt] = sh;
    const size = Number(sizeText);
    const rotate = mn.startsWith('R');
    const through = mn === 'Rcl' || mn === 'Rcr';
    const read = through ? FLAG.CF : 0;
    const cfMaybeUndef = (mn === 'Shl' || mn === 'Sal' || mn === 'Shr') && size <= 16;
    if (cnt === 'CL') {
      return {
        read,
        undef: undef | FLAG.OF | (rotate ? 0 : FLAG.AF) | (cfMaybeUndef ? FLAG.CF : 0),
      };
    }
    const count = (cnt === '1' ? 1 : Number(ins.immediate(1))) & (size === 64 ? 63 : 31);
    if (count === 0) return { read, undef };
    let u = undef;
    const def = (f: number): void => void (u &= ~f);
    if (count === 1) def(FLAG.OF);
    else u |= FLAG.OF;
    if (rotate) {
      const turns = through && size <= 16 ? count % (size + 1) : count;
      if (turns !== 0) def(FLAG.CF);
    } else {
      def(FLAG.SF | FLAG.ZF | FLAG.PF);
      u |= FLAG.AF;
      if (cfMaybeUndef && count >= size) u |= FLAG.CF;
      else def(FLAG.CF);
    }
    return { read, undef: u };
  }
  const read = x86Flags(ins.rflagsRead);
  const undefNow = x86Flags(ins.rflagsUndefined);
  const repCmp =
    STRING_OP.test(name) && /^(Cmps|Scas)/.test(name) && (ins.hasRepePrefix || ins.hasRepnePrefix);
  const written = repCmp ? 0 : x86Flags(ins.rflagsWritten | ins.rflagsCleared | ins.rflagsSet);
  return { read, undef: (undef & ~written) | undefNow };
}

function decodeAll(code: Uint8Array): IcedInstruction[] {
  return using(new Decoder(64, code, DecoderOptions.None), (d) => {
    d.ip = CODE_BASE;
    const out: IcedInstruction[] = [];
    while (d.canDecode) out.push(d.decode());
    return out;
  });
}

function walkFlags(code: Uint8Array): { undef: number; readsUndefined: boolean } {
  const list = decodeAll(code);
  let undef = 0;
  let readsUndefined = false;
  for (const ins of list) {
    const step = flagStep(ins, undef);
    if (step.read & undef) readsUndefined = true;
    undef = step.undef;
    ins.free();
  }
  return { undef, readsUndefined };
}

/**
 * Flags (of ARITH_FLAGS, x86 bit positions) whose value after running `code` (from its start,
 * straight through) is defined by the SDM. Input flags count as defined. See flagStep for the
 * rules on shifts; compare `(a ^ b) & definedFlagsMask(code)`.
 */
export function definedFlagsMask(code: Uint8Array): number {
  return ARITH_FLAGS & ~walkFlags(code).undef;
}

/** True when some instruction reads a flag left undefined before it (never, for encodeUnits). */
export function readsUndefinedFlags(code: Uint8Array): boolean {
  return walkFlags(code).readsUndefined;
}

/**
 * Encodes units at CODE_BASE. Before an instruction that reads a flag left undefined by an
 * earlier one (SETcc after MUL, ADC after SHL r8 by CL, PUSHFQ after AND...), inserts
 * `cmp r64, r64`, which defines all six status flags, so no register or memory result depends
 * on an undefined flag.
 */
export function encodeUnits(units: Unit[]): Uint8Array {
  return using(new Encoder(64), (enc) => {
    let ip = CODE_BASE;
    let undef = 0;
    let n = 0;
    const put = (ins: IcedInstruction): void => {
      try {
        undef = flagStep(ins, undef).undef;
        ip += BigInt(enc.encode(ins, ip));
        n++;
      } finally {
        ins.free();
      }
    };
    const emit = (spec: Spec): void => {
      let ins = makeInstr(spec, ip);
      if (flagStep(ins, undef).read & undef) {
        ins.free();
        put(
          makeInstr({ c: 'Cmp_rm64_r64', o: [GPR64[(n * 7) % 16], GPR64[(n * 11 + 3) % 16]] }, ip),
        );
        ins = makeInstr(spec, ip);
      }
      put(ins);
    };
    for (const unit of units) for (const spec of unit) emit(spec);
    return enc.takeBuffer();
  });
}
const GPR64 = 'RAX RCX RDX RBX RSP RBP RSI RDI R8 R9 R10 R11 R12 R13 R14 R15'.split(' ');

/** Intel-syntax text of each instruction, for failure messages. */
export function disassemble(code: Uint8Array): string[] {
  const list = decodeAll(code);
  return using(new Formatter(FormatterSyntax.Nasm), (f) =>
    list.map((ins) => {
      const text = `${(ins.ip - CODE_BASE).toString(16).padStart(3, '0')}: ${f.format(ins)}`;
      ins.free();
      return text;
    }),
  );
}

export interface ArbCaseOptions {
  /** Instruction classes to draw from (default: all). */
  classes?: readonly InsnClass[];
  /** Units per sequence (a unit is one instruction plus any setup it needs): default 1..8. */
  minUnits?: number;
  maxUnits?: number;
}

/** Machine code of 1..8 random units of the given classes. */
export function arbCode(opts: ArbCaseOptions = {}): fc.Arbitrary<Uint8Array> {
  return fc
    .array(arbUnit(opts.classes ?? INSN_CLASSES), {
      minLength: opts.minUnits ?? 1,
      maxLength: opts.maxUnits ?? 8,
    })
    .map(encodeUnits);
}

/** A random case for runNative and the interpreter. */
export function arbCase(opts: ArbCaseOptions = {}): fc.Arbitrary<NativeCase> {
  return fc.record({ code: arbCode(opts), in: arbState });
}
