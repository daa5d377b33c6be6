// Self-test of the native differential-testing harness (native.ts, native/runner.c) and of the
// random code generator (random-code.ts): hand-computed results, faults, and the generator's
// promises (decodable, reserved registers untouched, no reads of undefined flags).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Code,
  Decoder,
  DecoderOptions,
  InstructionInfoFactory,
  Mnemonic,
  Register,
  RegisterExt,
  using,
} from '../../../src/binary/iced.ts';
import {
  ARITH_FLAGS,
  CODE_BASE,
  DATA_BASE,
  FLAG,
  nativeUnavailable,
  runNative,
  zeroState,
  type CpuState,
  type NativeResult,
} from './native.ts';
import {
  arbCase,
  arbState,
  definedFlagsMask,
  disassemble,
  encodeUnits,
  INSN_CLASSES,
  R15_VALUE,
  readsUndefinedFlags,
  RSP_VALUE,
  type Unit,
} from './random-code.ts';

const skip = nativeUnavailable();
const [RAX, RCX, RDX, RBX, RSP, , RSI, RDI] = [0, 1, 2, 3, 4, 5, 6, 7]; // gpr indices
const R15 = 15;
const R15_OFF = Number(R15_VALUE - DATA_BASE);

function state(set: Partial<Record<number, bigint>> = {}, rflags = 0): CpuState {
  const s = zeroState();
  s.gpr[RSP] = RSP_VALUE;
  s.gpr[R15] = R15_VALUE;
  for (const [k, v] of Object.entries(set)) s.gpr[Number(k)] = v as bigint;
  s.rflags = rflags;
  for (let i = 0; i < s.mem.length; i++) s.mem[i] = (i * 7 + 3) & 0xff;
  return s;
}
const code = (...units: Unit): Uint8Array => encodeUnits([units]);
const ok = (r: NativeResult): CpuState => {
  assert.equal(
    r.kind,
    'ok',
    JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)),
  );
  return (r as { out: CpuState }).out;
};
const f64 = (x: number): bigint => new BigUint64Array(new Float64Array([x]).buffer)[0];

describe('native runner', { skip }, () => {
  it('add rax, rbx: sum and all six status flags (SDM Vol. 2A "ADD")', () => {
    const add = code({ c: 'Add_rm64_r64', o: ['RAX', 'RBX'] });
    const [a, b] = runNative([
      { code: add, in: state({ [RAX]: 2n ** 63n - 1n, [RBX]: 1n }) },
      { code: add, in: state({ [RAX]: 2n ** 64n - 1n, [RBX]: 1n }, FLAG.OF | FLAG.SF | FLAG.DF) },
    ]);
    const outA = ok(a);
    assert.equal(outA.gpr[RAX], 2n ** 63n);
    assert.equal(outA.rflags, FLAG.OF | FLAG.SF | FLAG.AF | FLAG.PF); // 0x..00: even parity
    const outB = ok(b);
    assert.equal(outB.gpr[RAX], 0n);
    assert.equal(outB.rflags, FLAG.CF | FLAG.ZF | FLAG.AF | FLAG.PF | FLAG.DF); // DF passes through
    assert.equal(outB.gpr[RBX], 1n);
    assert.deepEqual(outB.mem, state().mem);
  });

  it('an empty sequence returns its random input state exactly', () => {
    const states = fc.sample(arbState, { numRuns: 200, seed: 11 });
    const results = runNative(states.map((s) => ({ code: new Uint8Array(0), in: s })));
    results.forEach((r, i) => {
      const out = ok(r);
      assert.deepEqual(out.gpr, states[i].gpr);
      assert.deepEqual(out.xmm, states[i].xmm);
      assert.equal(out.rflags, states[i].rflags & ARITH_FLAGS);
      assert.deepEqual(out.mem, states[i].mem);
    });
  });

  it('div by zero is SIGFPE at the DIV; INT3, UD2 and a guard page fault too; the next case still runs', () => {
    const div0 = code({ c: 'Xor_rm32_r32', o: ['ECX', 'ECX'] }, { c: 'Div_rm64', o: ['RCX'] });
    const guard = code({ c: 'Mov_r64_rm64', o: ['RAX', { m: 0x2000 - R15_OFF }] }); // DATA_BASE + 0x2000
    const r = runNative([
      { code: div0, in: state() },
      { code: code({ c: 'Int3', o: [] }), in: state() },
      { code: code({ c: 'Ud2', o: [] }), in: state() },
      { code: guard, in: state() },
      {
        code: code({ c: 'Add_rm64_r64', o: ['RAX', 'RBX'] }),
        in: state({ [RAX]: 40n, [RBX]: 2n }),
      },
    ]);
    assert.deepEqual(r.slice(0, 4), [
      { kind: 'signal', signal: 'SIGFPE', rip: CODE_BASE + 2n }, // after the 2-byte xor
      { kind: 'signal', signal: 'SIGTRAP', rip: CODE_BASE + 1n }, // INT3 is a trap: RIP after it
      { kind: 'signal', signal: 'SIGILL', rip: CODE_BASE },
      { kind: 'signal', signal: 'SIGSEGV', rip: CODE_BASE },
    ]);
    assert.equal(ok(r[4]).gpr[RAX], 42n);
  });

  it('rep stosb fills the data area upwards, and downwards after std', () => {
    const setup: Unit = [
      { c: 'Lea_r64_m', o: ['RDI', { lea: ['R15', 'None', 1, 16] }] },
      { c: 'Mov_r32_imm32', o: ['ECX', { i: 5 }] },
      { c: 'Mov_r8_imm8', o: ['AL', { i: 0xab - 256 }] },
    ];
    const up = code(...setup, { c: 'Stosb_m8_AL', o: [], rep: 1 });
    const down = code(...setup, { c: 'Std', o: [] }, { c: 'Stosb_m8_AL', o: [], rep: 1 });
    const [a, b] = runNative([up, down].map((c) => ({ code: c, in: state() })));
    const base = R15_OFF + 16;
    const outA = ok(a);
    const want = state().mem;
    want.fill(0xab, base, base + 5);
    assert.deepEqual(outA.mem, want);
    assert.equal(outA.gpr[RDI], R15_VALUE + 21n);
    assert.equal(outA.gpr[RCX], 0n);
    const outB = ok(b);
    const wantB = state().mem;
    wantB.fill(0xab, base - 4, base + 1);
    assert.deepEqual(outB.mem, wantB);
    assert.equal(outB.gpr[RDI], R15_VALUE + 11n);
    assert.equal(outB.rflags & FLAG.DF, FLAG.DF);
  });

  it('push/pop go through the case stack inside the data area; call pushes its return address', () => {
    const pushf = code({ c: 'Pushfq', o: [] }, { c: 'Pop_r64', o: ['RDX'] });
    const [a, b, c] = runNative([
      {
        code: code({ c: 'Push_r64', o: ['RBX'] }, { c: 'Pop_r64', o: ['RSI'] }),
        in: state({ [RBX]: 0x1122334455667788n }),
      },
      {
        code: code({ c: 'Call_rel32_64', o: [{ next: true }] }, { c: 'Pop_r64', o: ['RDI'] }),
        in: state(),
      },
      { code: pushf, in: state({}, FLAG.CF | FLAG.DF) },
    ]);
    const outA = ok(a);
    assert.equal(outA.gpr[RSI], 0x1122334455667788n);
    assert.equal(outA.gpr[RSP], RSP_VALUE);
    const slot = Number(RSP_VALUE - DATA_BASE) - 8;
    assert.equal(
      new DataView(outA.mem.buffer, outA.mem.byteOffset).getBigUint64(slot, true),
      0x1122334455667788n,
    );
    assert.equal(ok(b).gpr[RDI], CODE_BASE + 5n);
    // User mode: IF (0x200) and the always-1 bit 1 are set, TF/AC/... clear.
    assert.equal(ok(c).gpr[RDX], BigInt(0x202 | FLAG.CF | FLAG.DF));
  });

  it('SSE2: addsd, cvttsd2si of NaN (integer indefinite), ucomisd flags', () => {
    const s = state();
    s.xmm[0] = [f64(1.5), 0x1234n];
    s.xmm[1] = [f64(2.25), 0x5678n];
    s.xmm[2] = [f64(NaN), 0n];
    const [a] = runNative([
      {
        code: code(
          { c: 'Addsd_xmm_xmmm64', o: ['XMM0', 'XMM1'] },
          { c: 'Cvttsd2si_r64_xmmm64', o: ['RAX', 'XMM2'] },
          { c: 'Ucomisd_xmm_xmmm64', o: ['XMM0', 'XMM2'] },
        ),
        in: s,
      },
    ]);
    const out = ok(a);
    assert.deepEqual(out.xmm[0], [f64(3.75), 0x1234n]);
    assert.equal(out.gpr[RAX], 2n ** 63n);
    assert.equal(out.rflags, FLAG.ZF | FLAG.PF | FLAG.CF); // unordered (SDM Vol. 2B "UCOMISD")
  });
});

describe('definedFlagsMask', () => {
  const all = ARITH_FLAGS;
  const cases: [string, Unit, number][] = [
    ['and: AF undefined', [{ c: 'And_rm64_r64', o: ['RAX', 'RBX'] }], all & ~FLAG.AF],
    ['mul: only CF OF', [{ c: 'Mul_rm64', o: ['RBX'] }], FLAG.CF | FLAG.OF | FLAG.DF],
    [
      'mul then add: all again',
      [
        { c: 'Mul_rm64', o: ['RBX'] },
        { c: 'Add_rm64_r64', o: ['RAX', 'RBX'] },
      ],
      all,
    ],
    ['bsf: only ZF', [{ c: 'Bsf_r64_rm64', o: ['RAX', 'RBX'] }], FLAG.ZF | FLAG.DF],
    ['shl by 1: OF defined', [{ c: 'Shl_rm64_1', o: ['RAX', { i: 1 }] }], all & ~FLAG.AF],
    ['shl by imm 1: OF defined', [{ c: 'Shl_rm64_imm8', o: ['RAX', { i: 1 }] }], all & ~FLAG.AF],
    [
      'shl by 3: OF undefined',
      [{ c: 'Shl_rm64_imm8', o: ['RAX', { i: 3 }] }],
      all & ~FLAG.AF & ~FLAG.OF,
    ],
    [
      'shl by 64 (masked 0): nothing changes',
      [
        { c: 'Mul_rm64', o: ['RBX'] },
        { c: 'Shl_rm64_imm8', o: ['RAX', { i: 64 }] },
      ],
      FLAG.CF | FLAG.OF | FLAG.DF,
    ],
    [
      'shl al by 9: CF undefined',
      [{ c: 'Shl_rm8_imm8', o: ['AL', { i: 9 }] }],
      all & ~(FLAG.AF | FLAG.OF | FLAG.CF),
    ],
    [
      'shl by CL: OF AF undefined, nothing newly defined',
      [
        { c: 'Mul_rm64', o: ['RBX'] },
        { c: 'Shl_rm64_CL', o: ['RAX', 'CL'] },
      ],
      FLAG.CF | FLAG.DF,
    ],
    [
      'rol by 3: OF undefined, rest kept',
      [{ c: 'Rol_rm32_imm8', o: ['EAX', { i: 3 }] }],
      all & ~FLAG.OF,
    ],
    [
      'rcl al by 9: CF kept',
      [
        { c: 'Mul_rm64', o: ['RBX'] },
        { c: 'Rcl_rm8_imm8', o: ['AL', { i: 9 }] },
      ],
      FLAG.CF | FLAG.DF,
    ],
    ['popcnt: all defined', [{ c: 'Popcnt_r64_rm64', o: ['RAX', 'RBX'] }], all],
  ];
  for (const [name, unit, want] of cases) {
    it(name, () => assert.equal(definedFlagsMask(code(...unit)).toString(16), want.toString(16)));
  }

  it('encodeUnits puts a cmp before an instruction that reads an undefined flag', () => {
    const mul: Unit = [{ c: 'Mul_rm64', o: ['RBX'] }];
    const sete: Unit = [{ c: 'Sete_rm8', o: ['DL'] }];
    // MUL defines CF (ADC needs no help) but not ZF; ADC defines all six.
    const noFix = encodeUnits([mul, [{ c: 'Adc_rm64_r64', o: ['RAX', 'RCX'] }], sete]);
    assert.doesNotMatch(disassemble(noFix).join('\n'), /cmp/);
    const c = encodeUnits([mul, sete]);
    assert.match(disassemble(c).join('\n'), /mul rbx\n.*cmp .*\n.*sete dl/);
    assert.equal(readsUndefinedFlags(c), false);
    assert.equal(definedFlagsMask(c), all);
  });
});

// Registers an instruction writes (full 64-bit names; a 32-bit write clears the upper half).
function writes(
  info: InstanceType<typeof InstructionInfoFactory>,
  ins: Parameters<InstanceType<typeof InstructionInfoFactory>['info']>[0],
): Set<number> {
  const out = new Set<number>();
  using(info.info(ins), (i) => {
    for (const u of i.usedRegisters() as { register: number; access: number; free(): void }[]) {
      if ([3, 4, 5, 6].includes(u.access)) out.add(RegisterExt.fullRegister(u.register)); // OpAccess Write..ReadCondWrite
      u.free();
    }
  });
  return out;
}
const STACK_MNEMONICS = new Set<number>([
  Mnemonic.Push,
  Mnemonic.Pop,
  Mnemonic.Call,
  Mnemonic.Pushfq,
]);

describe('random code generator', () => {
  for (const cls of INSN_CLASSES) {
    it(
      `${cls}: decodable, R15/RSP never written (but by push/pop/call), no undefined flag read`,
      { skip },
      () => {
        const cases = fc.sample(arbCase({ classes: [cls] }), { numRuns: 150, seed: 1234 });
        using(new InstructionInfoFactory(), (info) => {
          for (const c of cases) {
            const text = disassemble(c.code).join(' | ');
            using(new Decoder(64, c.code, DecoderOptions.None), (d) => {
              d.ip = CODE_BASE;
              while (d.canDecode) {
                using(d.decode(), (ins) => {
                  assert.notEqual(ins.code, Code.INVALID, text);
                  const w = writes(info, ins);
                  assert.ok(!w.has(Register.R15), `writes r15: ${text}`);
                  assert.ok(
                    !w.has(Register.RSP) || STACK_MNEMONICS.has(ins.mnemonic),
                    `writes rsp: ${text}`,
                  );
                });
              }
            });
            assert.equal(readsUndefinedFlags(c.code), false, text);
          }
        });
        // On the host: only DIV/IDIV may fault (#DE); RSP is balanced and R15 kept.
        runNative(cases).forEach((r, i) => {
          const text = disassemble(cases[i].code).join(' | ');
          if (r.kind === 'signal') {
            assert.ok(
              cls === 'muldiv' && r.signal === 'SIGFPE',
              `${r.signal} at 0x${r.rip.toString(16)}: ${text}`,
            );
            return;
          }
          assert.equal(r.out.gpr[RSP], RSP_VALUE, text);
          assert.equal(r.out.gpr[R15], R15_VALUE, text);
        });
      },
    );
  }

  it('mixed sequences fit the code page and fault only with #DE', { skip }, () => {
    const cases = fc.sample(arbCase(), { numRuns: 300, seed: 5 });
    for (const c of cases) assert.ok(c.code.length > 0 && c.code.length < 1000);
    for (const r of runNative(cases)) if (r.kind === 'signal') assert.equal(r.signal, 'SIGFPE');
  });
});
