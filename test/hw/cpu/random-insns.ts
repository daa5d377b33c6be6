// Random instruction "units" for the differential tests, one generator per class. A unit is a
// short list of plain-data instruction specs (iced Code names, register names, memory
// displacements) that must stay together: a DIV with the setup that keeps it from faulting,
// a string op with its RSI/RDI/RCX setup, balanced pushes and pops. random-code.ts encodes them.
//
// Rules every unit keeps: R15 (the base of all memory operands, R15_VALUE) and RSP are never
// written, except RSP by balanced push/pop/call-pop; memory operands stay inside the data area.
import fc from 'fast-check';

function words(text: string): string[] {
  return text.split(' ');
}

/** [r15 + m] (or [rsp + m] when base is 'RSP'). */
export interface Mem {
  m: number;
  base?: 'RSP';
}
/** A LEA address: base and index register names ('None', 'RIP' allowed), scale, disp. */
export interface Lea {
  lea: [base: string, index: string, scale: 1 | 2 | 4 | 8, disp: number];
}
export type Opnd = string | Mem | Lea | { i: number } | { i64: bigint } | { next: true };
export interface Spec {
  c: string; // iced Code name
  o: Opnd[];
  lock?: true;
  rep?: 1 | 2; // string ops: 1 = REP/REPE, 2 = REPNE
}
export type Unit = Spec[];
export type InsnClass = 'alu' | 'move' | 'shift' | 'muldiv' | 'bits' | 'string' | 'stack' | 'sse2';
export const INSN_CLASSES = words('alu move shift muldiv bits string stack sse2') as InsnClass[];

/** Displacements of [r15+disp] operands lie in [MEM_LO, MEM_HI) (relative to R15). */
export const MEM_LO = -0x800;
export const MEM_HI = 0x800;

type G = fc.GeneratorValue;
type Size = 8 | 16 | 32 | 64;

const GPR: Record<Size, readonly string[]> = {
  64: words('RAX RCX RDX RBX RSP RBP RSI RDI R8 R9 R10 R11 R12 R13 R14 R15'),
  32: words('EAX ECX EDX EBX ESP EBP ESI EDI R8D R9D R10D R11D R12D R13D R14D R15D'),
  16: words('AX CX DX BX SP BP SI DI R8W R9W R10W R11W R12W R13W R14W R15W'),
  8: words('AL CL DL BL SPL BPL SIL DIL R8L R9L R10L R11L R12L R13L R14L R15L'),
};
const HIGH8 = ['AH', 'CH', 'DH', 'BH'];
const LOW_OF_HIGH: Record<string, string> = { AH: 'AL', CH: 'CL', DH: 'DL', BH: 'BL' };
const ACC: Record<Size, string> = { 8: 'AL', 16: 'AX', 32: 'EAX', 64: 'RAX' };
/** Readable registers of a size (reserved ones too) and writable ones (not RSP or R15). */
const SRC = {} as Record<Size, string[]>;
const DST = {} as Record<Size, string[]>;
for (const s of [8, 16, 32, 64] as Size[]) {
  SRC[s] = [...GPR[s], ...(s === 8 ? HIGH8 : [])];
  DST[s] = SRC[s].filter((r) => r !== GPR[s][4] && r !== GPR[s][15]);
}
const XMM = Array.from({ length: 16 }, (_, i) => `XMM${i}`);
const SIZES: Size[] = [8, 16, 32, 64];
const CC = words('o no b ae e ne be a s ns p np l ge le g');

const int = (g: G, min: number, max: number): number => g(fc.integer, { min, max });
// By index: fc.gen looks its arbitraries up by argument equality, cheaper for {min, max}.
const pick = <T>(g: G, xs: readonly T[]): T => xs[int(g, 0, xs.length - 1)];
const chance = (g: G, pct: number): boolean => int(g, 0, 99) < pct;
const bits = (s: Size): number => (s === 64 ? 32 : s); // immediate width of the full-imm forms

/** A data-area operand aligned to `align`, with `reach` bytes of room: in [MEM_LO, MEM_HI - reach). */
function mem(g: G, align = 1, reach = 16): Mem {
  const m = chance(g, 50) ? int(g, -128, 127) : int(g, MEM_LO, MEM_HI - reach);
  return { m: Math.max(MEM_LO, Math.min(MEM_HI - reach, m)) & ~(align - 1) };
}
function imm(g: G, width: number): number {
  const lo = -(2 ** (width - 1));
  const hi = 2 ** (width - 1) - 1;
  return chance(g, 30) ? pick(g, [0, 1, -1, lo, hi, 2, -2]) : int(g, lo, hi);
}
/** A register (reg writable when `w`) or, one time in three, a memory operand. */
const rm = (g: G, s: Size, w: boolean): Opnd =>
  chance(g, 33) ? mem(g) : pick(g, w ? DST[s] : SRC[s]);

/** AH..BH cannot be encoded with a REX prefix: lower them when anything else needs one. */
function fixHigh(spec: Spec): Spec {
  const needsRex = spec.o.some(
    (o) =>
      (typeof o === 'object' ? 'm' in o : /^(R|SPL|BPL|SIL|DIL)/.test(o)) ||
      /_(rm|r)64/.test(spec.c),
  );
  if (!needsRex || !spec.o.some((o) => typeof o === 'string' && HIGH8.includes(o))) return spec;
  return { ...spec, o: spec.o.map((o) => (typeof o === 'string' ? (LOW_OF_HIGH[o] ?? o) : o)) };
}
/** LOCK, sometimes, on a read-modify-write of memory (anything else with LOCK is #UD). */
const lockIf = (g: G, spec: Spec): Spec =>
  typeof spec.o[0] === 'object' &&
  'm' in spec.o[0] &&
  !/^(Cmp|Test|Bt)_/.test(spec.c) &&
  chance(g, 25)
    ? { ...spec, lock: true }
    : spec;

function alu(g: G): Unit {
  const s = pick(g, SIZES);
  const k = int(g, 0, 99);
  if (k < 60) {
    const mn = pick(g, ['Add', 'Or', 'Adc', 'Sbb', 'And', 'Sub', 'Xor', 'Cmp', 'Test']);
    const w = mn !== 'Cmp' && mn !== 'Test';
    const forms =
      mn === 'Test' ? ['rm_r', 'rm_imm', 'acc'] : ['rm_r', 'r_rm', 'rm_imm', 'rm_imm8', 'acc'];
    const form = pick(g, forms);
    if (form === 'rm_r')
      return [lockIf(g, fixHigh({ c: `${mn}_rm${s}_r${s}`, o: [rm(g, s, w), pick(g, SRC[s])] }))];
    if (form === 'r_rm')
      return [fixHigh({ c: `${mn}_r${s}_rm${s}`, o: [pick(g, DST[s]), rm(g, s, false)] })];
    if (form === 'acc')
      return [{ c: `${mn}_${ACC[s]}_imm${bits(s)}`, o: [ACC[s], { i: imm(g, bits(s)) }] }];
    const i8 = form === 'rm_imm8' && s !== 8;
    const c = `${mn}_rm${s}_imm${i8 ? 8 : bits(s)}`;
    return [lockIf(g, fixHigh({ c, o: [rm(g, s, w), { i: imm(g, i8 ? 8 : bits(s)) }] }))];
  }
  if (k < 80)
    return [
      lockIf(g, { c: `${pick(g, ['Inc', 'Dec', 'Neg', 'Not'])}_rm${s}`, o: [rm(g, s, true)] }),
    ];
  if (k < 92) {
    const mn = pick(g, ['Xadd', 'Cmpxchg']);
    const src = pick(g, mn === 'Xadd' ? DST[s] : SRC[s]);
    return [lockIf(g, fixHigh({ c: `${mn}_rm${s}_r${s}`, o: [rm(g, s, true), src] }))];
  }
  return [{ c: pick(g, ['Clc', 'Stc', 'Cmc']), o: [] }];
}

function move(g: G): Unit {
  const k = int(g, 0, 99);
  const s = pick(g, SIZES);
  const s3 = pick(g, [16, 32, 64] as Size[]);
  if (k < 25) {
    const form = pick(g, ['rm_r', 'r_rm', 'rm_imm', 'imm64', 'r32_imm']);
    if (form === 'rm_r')
      return [fixHigh({ c: `Mov_rm${s}_r${s}`, o: [rm(g, s, true), pick(g, SRC[s])] })];
    if (form === 'r_rm') return [fixHigh({ c: `Mov_r${s}_rm${s}`, o: [pick(g, DST[s]), mem(g)] })];
    if (form === 'rm_imm')
      return [
        fixHigh({ c: `Mov_rm${s}_imm${bits(s)}`, o: [rm(g, s, true), { i: imm(g, bits(s)) }] }),
      ];
    if (form === 'imm64')
      return [
        {
          c: 'Mov_r64_imm64',
          o: [pick(g, DST[64]), { i64: g(fc.bigInt, { min: 0n, max: 2n ** 64n - 1n }) }],
        },
      ];
    return [{ c: 'Mov_r32_imm32', o: [pick(g, DST[32]), { i: imm(g, 32) }] }];
  }
  if (k < 40) {
    if (chance(g, 15)) return [{ c: 'Movsxd_r64_rm32', o: [pick(g, DST[64]), rm(g, 32, false)] }];
    const from = pick<Size>(g, s3 === 16 ? [8] : [8, 16]);
    const mn = pick(g, ['Movzx', 'Movsx']);
    return [fixHigh({ c: `${mn}_r${s3}_rm${from}`, o: [pick(g, DST[s3]), rm(g, from, false)] })];
  }
  if (k < 55) {
    const a32 = chance(g, 25);
    const regs = a32 ? GPR[32] : GPR[64];
    const base = chance(g, 8) && !a32 ? 'RIP' : pick(g, [...regs, 'None']);
    const index = base === 'RIP' ? 'None' : pick(g, [...regs.filter((r) => r !== regs[4]), 'None']);
    const disp = chance(g, 50) ? int(g, -128, 127) : imm(g, 32);
    const scale = base === 'RIP' ? 1 : pick(g, [1, 2, 4, 8] as const);
    return [
      {
        c: `Lea_r${s3}_m`,
        o: [
          pick(g, DST[s3]),
          { lea: [base, index, scale, base === 'RIP' ? int(g, -4096, 4096) : disp] },
        ],
      },
    ];
  }
  if (k < 65) {
    if (chance(g, 25) && s !== 8)
      return [{ c: `Xchg_r${s}_${ACC[s]}`, o: [pick(g, DST[s]), ACC[s]] }];
    return [fixHigh({ c: `Xchg_rm${s}_r${s}`, o: [rm(g, s, true), pick(g, DST[s])] })];
  }
  if (k < 70) {
    const w = pick(g, [32, 64] as Size[]);
    return [{ c: `Bswap_r${w}`, o: [pick(g, DST[w])] }];
  }
  if (k < 75) return [{ c: pick(g, ['Cbw', 'Cwde', 'Cdqe', 'Cwd', 'Cdq', 'Cqo']), o: [] }];
  if (k < 88)
    return [{ c: `Cmov${pick(g, CC)}_r${s3}_rm${s3}`, o: [pick(g, DST[s3]), rm(g, s3, false)] }];
  if (k < 96) return [fixHigh({ c: `Set${pick(g, CC)}_rm8`, o: [rm(g, 8, true)] })];
  return [{ c: pick(g, ['Lahf', 'Sahf']), o: [] }];
}
function shift(g: G): Unit {
  const s = pick(g, SIZES);
  const mn = pick(g, ['Rol', 'Ror', 'Rcl', 'Rcr', 'Shl', 'Shr', 'Sar']);
  const cnt = pick(g, ['1', 'imm8', 'CL']);
  const dst = rm(g, s, true);
  if (cnt === '1') return [fixHigh({ c: `${mn}_rm${s}_1`, o: [dst, { i: 1 }] })];
  if (cnt === 'CL') return [fixHigh({ c: `${mn}_rm${s}_CL`, o: [dst, 'CL'] })];
  const n = chance(g, 75) ? int(g, 0, s + 1) : int(g, 0, 255);
  return [fixHigh({ c: `${mn}_rm${s}_imm8`, o: [dst, { i: n }] })];
}

function muldiv(g: G): Unit {
  const s = pick(g, SIZES);
  const s3 = pick(g, [16, 32, 64] as Size[]);
  const k = int(g, 0, 99);
  if (k < 25) return [fixHigh({ c: `${pick(g, ['Mul', 'Imul'])}_rm${s}`, o: [rm(g, s, false)] })];
  if (k < 40) return [{ c: `Imul_r${s3}_rm${s3}`, o: [pick(g, DST[s3]), rm(g, s3, false)] }];
  if (k < 50) {
    const i8 = chance(g, 50);
    return [
      {
        c: `Imul_r${s3}_rm${s3}_imm${i8 ? 8 : bits(s3)}`,
        o: [pick(g, DST[s3]), rm(g, s3, false), { i: imm(g, i8 ? 8 : bits(s3)) }],
      },
    ];
  }
  // DIV/IDIV (SDM Vol. 2A "DIV", "IDIV": #DE when the divisor is 0 or the quotient does not fit).
  // 'safe': dividend extended from the accumulator and divisor forced odd: only IDIV MIN/-1
  // faults. 'ext': divisor may be 0. 'raw': random RDX too, so faults are common.
  const signed = chance(g, 50);
  const k2 = int(g, 0, 99);
  const mode = k2 < 88 ? 'safe' : k2 < 97 ? 'ext' : 'raw';
  const avoid = s === 8 ? ['AL', 'AH'] : [GPR[s][0], GPR[s][2]];
  const divisor: Opnd = chance(g, 25)
    ? mem(g)
    : pick(g, mode === 'safe' ? DST[s].filter((r) => !avoid.includes(r)) : SRC[s]);
  const unit: Unit = [];
  if (mode !== 'raw') {
    if (signed) unit.push({ c: { 8: 'Cbw', 16: 'Cwd', 32: 'Cdq', 64: 'Cqo' }[s], o: [] });
    else if (s === 8) unit.push({ c: 'Movzx_r16_rm8', o: ['AX', 'AL'] });
    else unit.push({ c: 'Xor_rm32_r32', o: ['EDX', 'EDX'] });
  }
  if (mode === 'safe')
    unit.push(fixHigh({ c: s === 8 ? 'Or_rm8_imm8' : `Or_rm${s}_imm8`, o: [divisor, { i: 1 }] }));
  unit.push(fixHigh({ c: `${signed ? 'Idiv' : 'Div'}_rm${s}`, o: [divisor] }));
  return unit;
}

function bitsClass(g: G): Unit {
  const s = pick(g, [16, 32, 64] as Size[]);
  if (chance(g, 45))
    return [
      {
        c: `${pick(g, ['Bsf', 'Bsr', 'Tzcnt', 'Lzcnt', 'Popcnt'])}_r${s}_rm${s}`,
        o: [pick(g, DST[s]), rm(g, s, false)],
      },
    ];
  const mn = pick(g, ['Bt', 'Bts', 'Btr', 'Btc']);
  const w = mn !== 'Bt';
  const form = pick(g, ['rr', 'ri', 'mi', 'mr']);
  if (form === 'rr')
    return [{ c: `${mn}_rm${s}_r${s}`, o: [pick(g, w ? DST[s] : SRC[s]), pick(g, SRC[s])] }];
  const i = { i: chance(g, 75) ? int(g, 0, s - 1) : int(g, 0, 255) };
  if (form === 'ri') return [{ c: `${mn}_rm${s}_imm8`, o: [pick(g, w ? DST[s] : SRC[s]), i] }];
  if (form === 'mi') return [lockIf(g, { c: `${mn}_rm${s}_imm8`, o: [mem(g), i] })];
  // A register bit offset reaches beyond the operand (SDM "BT": bit string addressing):
  // keep it in 0..511 so the access stays within 64 bytes of the displacement.
  const n = int(g, 0, DST[64].length - 1);
  return [
    { c: 'And_rm32_imm32', o: [DST[32][n], { i: 511 }] },
    lockIf(g, { c: `${mn}_rm${s}_r${s}`, o: [mem(g, 1, 80), DST[s][n]] }),
  ];
}

const STRING_CODES: Record<string, string> = {
  Movs: 'Movs{b}_m{8}_m{8}',
  Stos: 'Stos{b}_m{8}_{A}',
  Lods: 'Lods{b}_{A}_m{8}',
  Scas: 'Scas{b}_{A}_m{8}',
  Cmps: 'Cmps{b}_m{8}_m{8}',
};
function string(g: G): Unit {
  const op = pick(g, ['Movs', 'Stos', 'Lods', 'Scas', 'Cmps']);
  const [sfx, s] = pick(g, [
    ['b', 8],
    ['w', 16],
    ['d', 32],
    ['q', 64],
  ] as const);
  const c = STRING_CODES[op].replace('{b}', sfx).replaceAll('{8}', `${s}`).replace('{A}', ACC[s]);
  const reps: (0 | 1 | 2)[] = op === 'Scas' || op === 'Cmps' ? [0, 1, 2] : [0, 1];
  const rep = pick(g, reps);
  // At most 8 elements of 8 bytes either way from RSI/RDI: 64 bytes of room on both sides.
  const at = (): number => int(g, MEM_LO + 64, MEM_HI - 72);
  const si = at();
  const di = chance(g, 20)
    ? Math.max(MEM_LO + 64, Math.min(MEM_HI - 72, si + int(g, -16, 16)))
    : at();
  const df = pick(g, ['keep', 'Cld', 'Std']);
  const unit: Unit = [
    { c: 'Lea_r64_m', o: ['RSI', { lea: ['R15', 'None', 1, si] }] },
    { c: 'Lea_r64_m', o: ['RDI', { lea: ['R15', 'None', 1, di] }] },
    { c: 'Mov_r32_imm32', o: ['ECX', { i: int(g, 0, 8) }] },
  ];
  if (df !== 'keep') unit.push({ c: df, o: [] });
  unit.push(rep ? { c, o: [], rep } : { c, o: [] });
  if (df === 'Std') unit.push({ c: 'Cld', o: [] });
  return unit;
}

function stack(g: G): Unit {
  const k = int(g, 0, 99);
  if (k < 15)
    return [
      { c: 'Call_rel32_64', o: [{ next: true }] },
      { c: 'Pop_r64', o: [pick(g, DST[64])] },
    ];
  const wide = chance(g, 85);
  const n = int(g, 1, 3);
  const unit: Unit = [];
  for (let j = 0; j < n; j++) {
    const src = pick(g, ['r', 'r', 'imm', 'mem', 'flags']);
    if (!wide) {
      if (src === 'imm')
        unit.push(
          chance(g, 50)
            ? { c: 'Push_imm16', o: [{ i: imm(g, 16) }] }
            : { c: 'Pushw_imm8', o: [{ i: imm(g, 8) }] },
        );
      else if (src === 'mem') unit.push({ c: 'Push_rm16', o: [mem(g)] });
      else unit.push({ c: 'Push_r16', o: [pick(g, SRC[16])] });
    } else if (src === 'imm')
      unit.push(
        chance(g, 50)
          ? { c: 'Pushq_imm32', o: [{ i: imm(g, 32) }] }
          : { c: 'Pushq_imm8', o: [{ i: imm(g, 8) }] },
      );
    else if (src === 'mem') unit.push({ c: 'Push_rm64', o: [mem(g)] });
    else if (src === 'flags') unit.push({ c: 'Pushfq', o: [] });
    else unit.push({ c: 'Push_r64', o: [pick(g, SRC[64])] });
  }
  if (wide && chance(g, 30))
    unit.push({
      c: 'Mov_r64_rm64',
      o: [pick(g, DST[64]), { m: 8 * int(g, 0, n - 1), base: 'RSP' }],
    });
  for (let j = 0; j < n; j++) {
    const toMem = chance(g, 20);
    if (wide)
      unit.push(toMem ? { c: 'Pop_rm64', o: [mem(g)] } : { c: 'Pop_r64', o: [pick(g, DST[64])] });
    else
      unit.push(toMem ? { c: 'Pop_rm16', o: [mem(g)] } : { c: 'Pop_r16', o: [pick(g, DST[16])] });
  }
  return unit;
}

function sse2(g: G): Unit {
  const x = (): string => pick(g, XMM);
  const xm64 = (): Opnd => (chance(g, 30) ? mem(g, chance(g, 80) ? 8 : 1) : x());
  const xm128 = (aligned: boolean): Opnd => (chance(g, 25) ? mem(g, aligned ? 16 : 1) : x());
  const k = int(g, 0, 99);
  if (k < 15) {
    const form = pick(g, ['Movq_xmm_rm64', 'Movq_rm64_xmm', 'Movd_xmm_rm32', 'Movd_rm32_xmm']);
    const s: Size = form.includes('64') ? 64 : 32;
    return [
      form.startsWith('Movq_xmm') || form.startsWith('Movd_xmm')
        ? { c: form, o: [x(), rm(g, s, false)] }
        : { c: form, o: [rm(g, s, true), x()] },
    ];
  }
  if (k < 30) {
    // [code, destination kind, source kind]: m64 = XMM or any m64; m128a = XMM or aligned m128.
    const [c, d, src] = pick(g, [
      ['Movq_xmm_xmmm64', 'x', 'm64'],
      ['Movq_xmmm64_xmm', 'm64', 'x'],
      ['Movsd_xmm_xmmm64', 'x', 'm64'],
      ['Movsd_xmmm64_xmm', 'm64', 'x'],
      ['Movapd_xmm_xmmm128', 'x', 'm128a'],
      ['Movaps_xmm_xmmm128', 'x', 'm128a'],
      ['Movdqa_xmm_xmmm128', 'x', 'm128a'],
      ['Movdqa_xmmm128_xmm', 'm128a', 'x'],
      ['Movdqu_xmm_xmmm128', 'x', 'm128u'],
      ['Movdqu_xmmm128_xmm', 'm128u', 'x'],
    ] as const);
    const opnd = (kind: string): Opnd =>
      kind === 'x' ? x() : kind === 'm64' ? xm64() : xm128(kind === 'm128a');
    return [{ c, o: [opnd(d), opnd(src)] }];
  }
  if (k < 60)
    return [
      {
        c: `${pick(g, ['Addsd', 'Subsd', 'Mulsd', 'Divsd', 'Minsd', 'Maxsd', 'Sqrtsd', 'Ucomisd', 'Comisd'])}_xmm_xmmm64`,
        o: [x(), xm64()],
      },
    ];
  if (k < 70) {
    const s = pick(g, [32, 64] as Size[]);
    return [{ c: `Cvtsi2sd_xmm_rm${s}`, o: [x(), rm(g, s, false)] }];
  }
  if (k < 82) {
    const s = pick(g, [32, 64] as Size[]);
    return [
      { c: `${pick(g, ['Cvttsd2si', 'Cvtsd2si'])}_r${s}_xmmm64`, o: [pick(g, DST[s]), xm64()] },
    ];
  }
  return [
    {
      c: `${pick(g, ['Xorpd', 'Andpd', 'Andnpd', 'Orpd', 'Pxor', 'Unpcklpd'])}_xmm_xmmm128`,
      o: [x(), xm128(true)],
    },
  ];
}

const GEN: Record<InsnClass, (g: G) => Unit> = {
  alu,
  move,
  shift,
  muldiv,
  bits: bitsClass,
  string,
  stack,
  sse2,
};

/**
 * One unit of any of the given classes (uniformly chosen). Frozen: fast-check would otherwise
 * attach a clone method to it (fc.gen values are cloneable) that keeps the whole generation
 * history alive as long as the unit, or the code made from it, lives (~20 KB a case).
 */
export function arbUnit(classes: readonly InsnClass[] = INSN_CLASSES): fc.Arbitrary<Unit> {
  return fc.oneof(
    ...classes.map((k) => fc.gen().map((g): Unit => Object.freeze(GEN[k](g)) as Unit)),
  );
}
