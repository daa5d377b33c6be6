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
export type InsnClass =
  | 'alu'
  | 'move'
  | 'shift'
  | 'muldiv'
  | 'bits'
  | 'string'
  | 'stack'
  | 'sse2'
  | 'sse2int'
  | 'sse2shuffle'
  | 'ssefloat'
  | 'ssealign';
/** The classes whose code never faults but for #DE (native.test.ts checks it); 'ssealign',
 *  whose memory operands are misaligned on purpose, is drawn only when asked for. */
export const INSN_CLASSES = words(
  'alu move shift muldiv bits string stack sse2 sse2int sse2shuffle ssefloat',
) as InsnClass[];

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
      ['Movaps_xmmm128_xmm', 'm128a', 'x'],
      ['Movups_xmm_xmmm128', 'x', 'm128u'],
      ['Movups_xmmm128_xmm', 'm128u', 'x'],
      ['Movss_xmm_xmmm32', 'x', 'm32'],
      ['Movss_xmmm32_xmm', 'm32', 'x'],
      ['Lddqu_xmm_m128', 'x', 'mu'],
      ['Movntdq_m128_xmm', 'ma', 'x'],
      ['Movntps_m128_xmm', 'ma', 'x'],
      ['Movntpd_m128_xmm', 'ma', 'x'],
    ] as const);
    const opnd = (kind: string): Opnd =>
      kind === 'x'
        ? x()
        : kind === 'm64' || kind === 'm32'
          ? xm64()
          : kind === 'ma' || kind === 'mu'
            ? mem(g, kind === 'ma' ? 16 : 1)
            : xm128(kind === 'm128a');
    return [{ c, o: [opnd(d), opnd(src)] }];
  }
  if (k < 33) {
    if (chance(g, 50)) return [{ c: pick(g, ['Sfence', 'Lfence', 'Mfence']), o: [] }];
    const s = pick(g, [32, 64] as Size[]);
    return [{ c: `Movnti_m${s}_r${s}`, o: [mem(g), pick(g, SRC[s])] }];
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

// ---- Packed SSE2 integer, shuffles, single and packed floating point ----------------------

const hexes = (text: string): number[] =>
  text
    .trim()
    .split(/\s+/)
    .map((h) => parseInt(h, 16) | 0);
/** Singles worth planting: ±0, ±inf, quiet and signalling NaNs (with payloads), denormals,
 *  min normal, max finite, rounding ties, the edges of CVT(T)SS2SI and of float → int32. */
const F32_SPECIAL = hexes(`0 80000000 7f800000 ff800000 7fc00000 ffc00000 7f800001 7fa00bad
  ffbfffff 1 7fffff 80000001 800000 7f7fffff ff7fffff 3f800000 bf800000 3f000000 3fc00000
  40200000 c0200000 4f000000 cf000000 cf000001 4effffff 5f000000 df000000 5effffff 4b800001
  33800000 34000000`);
/** Doubles worth planting as [low, high] dwords: the same kinds, plus values that round when
 *  narrowed to single (ties, just above ties, beyond the single range, single denormals). */
const F64_SPECIAL: [number, number][] = (
  [
    [0, 0],
    [0, 0x80000000],
    [0, 0x7ff00000],
    [0, 0xfff00000],
    [0, 0x7ff80000],
    [1, 0x7ff00000],
    [0xdeadbeef, 0x7ff40000],
    [0xe0000000, 0x7ff7ffff],
    [1, 0],
    [0, 0x3ff00000],
    [0, 0x3ff80000],
    [0, 0xc0040000],
    [0, 0x41e00000],
    [0, 0xc1e00000],
    [0x00200000, 0xc1e00000],
    [0, 0x43e00000],
    [0x10000000, 0x3ff00000], // 1 + 2^-24: a tie when narrowed to single
    [0x10000001, 0x3ff00000],
    [0x30000000, 0x3ff00000],
    [0xe0000000, 0x47efffff], // just above the largest single
    [0, 0x47f00000],
    [0, 0x36a00000], // 2^-149, the least single denormal
    [0, 0x36900000], // 2^-150: ties to zero
    [1, 0x36900000],
    [0xffffffff, 0x7fefffff],
  ] as [number, number][]
).map(([l, h]) => [l | 0, h | 0]);
/** Integer lanes with saturation and sign edges in every width. */
const INT_SPECIAL = hexes(`0 ffffffff 7fffffff 80000000 7fff8000 80007fff 00ff7f80 ff007f80
  7f7f7f7f 80808080 80008000 ffff0000 0000ffff 00010001 fffe0002 01010101 7ffe8001`);

/** Four MOV dword stores and a MOVUPS: XMM register `reg` holds chosen lanes afterwards. */
function literal(g: G, reg: string, kind: 'f32' | 'f64' | 'int'): Spec[] {
  const at = mem(g, chance(g, 50) ? 16 : 1);
  const lanes: number[] = [];
  if (kind === 'f64')
    for (let q = 0; q < 2; q++) {
      const v = chance(g, 80) ? pick(g, F64_SPECIAL) : [int(g, -1000, 1000), int(g, -1000, 1000)];
      lanes.push(v[0]!, v[1]!);
    }
  else
    for (let i = 0; i < 4; i++)
      lanes.push(
        chance(g, 75)
          ? pick(g, kind === 'f32' ? F32_SPECIAL : INT_SPECIAL)
          : g(fc.integer, { min: -(2 ** 31), max: 2 ** 31 - 1 }),
      );
  return [
    ...lanes.map((v, i) => ({ c: 'Mov_rm32_imm32', o: [{ m: at.m + 4 * i }, { i: v }] })),
    { c: 'Movups_xmm_xmmm128', o: [reg, at] },
  ];
}

/** An XMM register or, one time in four, an aligned m128. */
function xm128a(g: G): Opnd {
  return chance(g, 25) ? mem(g, 16) : pick(g, XMM);
}

const PACKED_INT = words(
  `Paddb Paddw Paddd Paddq Psubb Psubw Psubd Psubq Paddsb Paddsw Paddusb
  Paddusw Psubsb Psubsw Psubusb Psubusw Pcmpeqb Pcmpeqw Pcmpeqd Pcmpgtb Pcmpgtw Pcmpgtd Pminub
  Pmaxub Pminsw Pmaxsw Pavgb Pavgw Pmullw Pmulhw Pmulhuw Pmuludq Pmaddwd Psadbw Pand Pandn Por
  Pxor`.replace(/\s+/g, ' '),
);

function sse2int(g: G): Unit {
  const dst = pick(g, XMM);
  const src = xm128a(g);
  const unit: Unit = [];
  // Planted lanes (saturation edges) in either operand, sometimes both the same register.
  if (chance(g, 40)) unit.push(...literal(g, dst, 'int'));
  if (typeof src === 'string' && chance(g, 30)) unit.push(...literal(g, src, 'int'));
  unit.push({ c: `${pick(g, PACKED_INT)}_xmm_xmmm128`, o: [dst, src] });
  return unit;
}

const SHIFTS = words('Psllw Pslld Psllq Psrlw Psrld Psrlq Psraw Psrad');
const UNPACKS = words(
  `Punpcklbw Punpcklwd Punpckldq Punpcklqdq Punpckhbw Punpckhwd Punpckhdq
  Punpckhqdq Unpcklps Unpckhps Unpcklpd Unpckhpd Packsswb Packssdw Packuswb`.replace(/\s+/g, ' '),
);

function sse2shuffle(g: G): Unit {
  const dst = pick(g, XMM);
  const k = int(g, 0, 99);
  const count = (width: number): number =>
    chance(g, 80) ? int(g, 0, width + 1) : pick(g, [width - 1, width, 64, 127, 255]);
  if (k < 20) {
    // By imm8, or by an XMM/m128 count: mostly a small one, set with MOVD (or stored).
    const mn = pick(g, SHIFTS);
    const width = mn.endsWith('w') ? 16 : mn.endsWith('d') ? 32 : 64;
    if (chance(g, 40)) return [{ c: `${mn}_xmm_imm8`, o: [dst, { i: count(width) }] }];
    const form = int(g, 0, 2);
    if (form === 0) return [{ c: `${mn}_xmm_xmmm128`, o: [dst, xm128a(g)] }]; // random count
    if (form === 1) {
      const c = pick(g, XMM);
      return [
        { c: 'Mov_r32_imm32', o: ['EAX', { i: count(width) }] },
        { c: 'Movd_xmm_rm32', o: [c, 'EAX'] },
        { c: `${mn}_xmm_xmmm128`, o: [dst, c] },
      ];
    }
    const at = mem(g, 16);
    return [
      { c: 'Mov_rm32_imm32', o: [at, { i: count(width) }] },
      { c: 'Mov_rm32_imm32', o: [{ m: at.m + 4 }, { i: chance(g, 90) ? 0 : 1 }] },
      { c: `${mn}_xmm_xmmm128`, o: [dst, at] },
    ];
  }
  if (k < 28) {
    const mn = pick(g, ['Pslldq', 'Psrldq']);
    return [
      { c: `${mn}_xmm_imm8`, o: [dst, { i: chance(g, 85) ? int(g, 0, 17) : int(g, 0, 255) }] },
    ];
  }
  if (k < 40) {
    const mn = pick(g, ['Pshufd', 'Pshuflw', 'Pshufhw', 'Shufps', 'Shufpd']);
    return [{ c: `${mn}_xmm_xmmm128_imm8`, o: [dst, xm128a(g), { i: int(g, 0, 255) }] }];
  }
  if (k < 65) {
    const unit: Unit = chance(g, 30) ? literal(g, dst, 'int') : [];
    unit.push({ c: `${pick(g, UNPACKS)}_xmm_xmmm128`, o: [dst, xm128a(g)] });
    return unit;
  }
  if (k < 75) {
    const s = pick(g, [32, 64] as Size[]);
    const imm = { i: chance(g, 85) ? int(g, 0, 7) : int(g, 0, 255) };
    if (chance(g, 50)) return [{ c: `Pextrw_r${s}_xmm_imm8`, o: [pick(g, DST[s]), dst, imm] }];
    const from: Opnd = chance(g, 30) ? mem(g) : pick(g, SRC[s]);
    return [{ c: `Pinsrw_xmm_r${s}m16_imm8`, o: [dst, from, imm] }];
  }
  if (k < 85) return [{ c: `${pick(g, ['Movhlps', 'Movlhps'])}_xmm_xmm`, o: [dst, pick(g, XMM)] }];
  const s = pick(g, [32, 64] as Size[]);
  const mn = pick(g, ['Movmskps', 'Movmskpd', 'Pmovmskb']);
  const unit: Unit = chance(g, 30) ? literal(g, dst, 'f32') : [];
  unit.push({ c: `${mn}_r${s}_xmm`, o: [pick(g, DST[s]), dst] });
  return unit;
}

const FP_ARITH = words('Add Sub Mul Div Min Max Sqrt');

function ssefloat(g: G): Unit {
  const dst = pick(g, XMM);
  const xm = (bytes: 4 | 8 | 16): Opnd =>
    bytes === 16 ? xm128a(g) : chance(g, 30) ? mem(g, chance(g, 80) ? bytes : 1) : pick(g, XMM);
  const k = int(g, 0, 99);
  const unit: Unit = [];
  // Plant special values in the destination and/or a register source.
  const plant = (reg: Opnd, kind: 'f32' | 'f64'): void => {
    if (typeof reg === 'string' && chance(g, 45)) unit.push(...literal(g, reg, kind));
  };
  if (k < 40) {
    // Arithmetic: scalar single, packed single, packed double.
    const [sfx, bytes, kind] = pick(g, [
      ['ss', 4, 'f32'],
      ['ps', 16, 'f32'],
      ['pd', 16, 'f64'],
    ] as const);
    const src = xm(bytes);
    plant(dst, kind);
    plant(src, kind);
    const mm = bytes === 4 ? 'xmmm32' : 'xmmm128';
    unit.push({ c: `${pick(g, FP_ARITH)}${sfx}_xmm_${mm}`, o: [dst, src] });
    return unit;
  }
  if (k < 55) {
    const [mn, bytes, kind] = pick(g, [
      ['Cmpss', 4, 'f32'],
      ['Cmpps', 16, 'f32'],
      ['Cmpsd', 8, 'f64'],
      ['Cmppd', 16, 'f64'],
    ] as const);
    const src = xm(bytes);
    plant(dst, kind);
    plant(src, kind);
    const mm = bytes === 4 ? 'xmmm32' : bytes === 8 ? 'xmmm64' : 'xmmm128';
    const imm = chance(g, 90) ? int(g, 0, 7) : int(g, 8, 255);
    unit.push({ c: `${mn}_xmm_${mm}_imm8`, o: [dst, src, { i: imm }] });
    return unit;
  }
  if (k < 63) {
    const src = xm(4);
    plant(dst, 'f32');
    plant(src, 'f32');
    unit.push({ c: `${pick(g, ['Ucomiss', 'Comiss'])}_xmm_xmmm32`, o: [dst, src] });
    return unit;
  }
  if (k < 72) {
    const s = pick(g, [32, 64] as Size[]);
    if (chance(g, 40)) {
      // Integers that round when narrowed to single: wide random ones and the edges.
      const r = pick(g, DST[s]);
      const v = g(fc.bigInt, { min: 0n, max: 2n ** 64n - 1n });
      const edge = pick(g, [2n ** 60n + 2n ** 36n + 1n, 2n ** 63n, 2n ** 24n + 1n, 2n ** 53n + 1n]);
      unit.push({
        c: 'Mov_r64_imm64',
        o: [GPR[64][GPR[s].indexOf(r)]!, { i64: chance(g, 50) ? v : edge }],
      });
      unit.push({ c: `Cvtsi2ss_xmm_rm${s}`, o: [dst, r] });
      return unit;
    }
    unit.push({ c: `Cvtsi2ss_xmm_rm${s}`, o: [dst, rm(g, s, false)] });
    return unit;
  }
  if (k < 80) {
    const s = pick(g, [32, 64] as Size[]);
    const src = xm(4);
    plant(src, 'f32');
    unit.push({
      c: `${pick(g, ['Cvttss2si', 'Cvtss2si'])}_r${s}_xmmm32`,
      o: [pick(g, DST[s]), src],
    });
    return unit;
  }
  const [c, bytes, kind] = pick(g, [
    ['Cvtss2sd_xmm_xmmm32', 4, 'f32'],
    ['Cvtsd2ss_xmm_xmmm64', 8, 'f64'],
    ['Cvtdq2pd_xmm_xmmm64', 8, 'f32'],
    ['Cvtps2pd_xmm_xmmm64', 8, 'f32'],
    ['Cvtpd2ps_xmm_xmmm128', 16, 'f64'],
    ['Cvtdq2ps_xmm_xmmm128', 16, 'f32'],
    ['Cvttpd2dq_xmm_xmmm128', 16, 'f64'],
    ['Cvtpd2dq_xmm_xmmm128', 16, 'f64'],
    ['Cvttps2dq_xmm_xmmm128', 16, 'f32'],
    ['Cvtps2dq_xmm_xmmm128', 16, 'f32'],
  ] as const);
  const src = xm(bytes);
  plant(src, kind);
  unit.push({ c, o: [dst, src] });
  return unit;
}

const ALIGN_CODES = [
  ...PACKED_INT.map((mn) => `${mn}_xmm_xmmm128`),
  ...words(
    `Movdqa_xmm_xmmm128 Movdqa_xmmm128_xmm Movaps_xmm_xmmm128 Movaps_xmmm128_xmm
    Movapd_xmm_xmmm128 Movntdq_m128_xmm Movntps_m128_xmm Movntpd_m128_xmm Pshufd_xmm_xmmm128_imm8
    Shufps_xmm_xmmm128_imm8 Psllw_xmm_xmmm128 Psrad_xmm_xmmm128 Punpckhqdq_xmm_xmmm128
    Packuswb_xmm_xmmm128 Addps_xmm_xmmm128 Sqrtpd_xmm_xmmm128 Cmpps_xmm_xmmm128_imm8
    Cvtpd2ps_xmm_xmmm128 Cvttps2dq_xmm_xmmm128 Xorps_xmm_xmmm128 Unpcklpd_xmm_xmmm128
    Movdqu_xmm_xmmm128 Movdqu_xmmm128_xmm Movups_xmm_xmmm128 Movupd_xmmm128_xmm Lddqu_xmm_m128
    Cvtps2pd_xmm_xmmm64 Cvtdq2pd_xmm_xmmm64 Addss_xmm_xmmm32 Cmpsd_xmm_xmmm64_imm8
    Movhpd_xmm_m64 Pinsrw_xmm_r32m16_imm8`.replace(/\s+/g, ' '),
  ),
];

/** One instruction whose memory operand is 16-byte misaligned (or, one time in sixteen,
 *  aligned): #GP(0) for a legacy-SSE m128 operand but for the unaligned moves; m64/m32/m16
 *  operands have no alignment rule. Not in INSN_CLASSES: its code faults. */
function ssealign(g: G): Unit {
  const at = { m: mem(g, 16, 32).m + int(g, 0, 15) };
  const c = pick(g, ALIGN_CODES);
  const o = c
    .split('_')
    .slice(1)
    .map((k): Opnd => (k === 'xmm' ? pick(g, XMM) : k === 'imm8' ? { i: int(g, 0, 255) } : at));
  return [{ c, o }];
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
  sse2int,
  sse2shuffle,
  ssefloat,
  ssealign,
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
