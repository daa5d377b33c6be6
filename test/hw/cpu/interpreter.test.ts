// The interpreter's own rules, beyond what the differential test compares: code written
// after it was decoded runs as written (cross-modifying code through a writable alias of the
// same frame, and the kernel loading new code), instructions outside the covered set are
// #UD, privileged ones #GP(0), non-canonical addresses #GP(0)/#SS(0), a fetch from a
// non-executable page #PF with the instruction-fetch bit, and an instruction that runs into
// an unmapped page faults at that page.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stop } from '../../../src/hw/cpu/interpreter.ts';
import { R } from '../../../src/hw/core.ts';
import { mapGuestRange } from '../../../src/hw/page-table-writer.ts';
import { Trap } from '../../../src/hw/traps.ts';
import { Guest, USER_CODE, USER_DATA } from '../guest.ts';

const hex = (s: string): number[] => s.split(/\s+/).map((b) => parseInt(b, 16));

/** Runs `code` at USER_CODE until RIP passes its end; returns the trap if one was thrown. */
function exec(g: Guest, code: number[], at = USER_CODE): Trap | null {
  g.m.mem.writeBytes(g.resolve(at), Uint8Array.from(code));
  g.core.cpl = 3;
  g.core.syncContext();
  g.core.rip = at;
  try {
    assert.equal(g.m.cpus[0]!.run(Infinity, at + code.length, 10_000), Stop.StopAt);
    return null;
  } catch (e) {
    if (!(e instanceof Trap)) throw e;
    return e;
  }
}

function exception(t: Trap | null): {
  vector: number;
  errorCode: number;
  rip: number;
  cr2: number;
} {
  assert.ok(t !== null && t.event.kind === 'exception', `expected an exception, got ${t?.message}`);
  const ev = t.event as { vector: number; errorCode: number; rip: number; cr2: number };
  return ev;
}

describe('interpreter', () => {
  it('code rewritten through a writable alias of its frame runs as rewritten (decode cache dropped)', () => {
    const g = new Guest();
    const ALIAS = 0x7000_0000;
    // The code page, mapped a second time writable and not executable.
    mapGuestRange(g.m.mem, g.tables, g.pml4, ALIAS, g.resolve(USER_CODE), 4096, {
      user: true,
      writable: true,
      noExec: true,
    });
    // mov eax, 1
    assert.equal(exec(g, hex('b8 01 00 00 00')), null);
    assert.equal(g.core.regs.get(0), 1);
    // The program itself stores the new immediate through the alias: mov dword [rbx+1], 42.
    const store = USER_CODE + 0x100;
    g.m.mem.writeBytes(g.resolve(store), Uint8Array.from(hex('c7 43 01 2a 00 00 00')));
    const before = g.m.decodes.invalidations;
    g.core.regs.set(3, ALIAS);
    g.core.rip = store;
    assert.equal(g.m.cpus[0]!.run(Infinity, store + 7, 10), Stop.StopAt);
    assert.equal(g.m.decodes.invalidations, before + 1);
    g.core.regs.set(0, 0);
    g.core.rip = USER_CODE;
    assert.equal(g.m.cpus[0]!.run(Infinity, USER_CODE + 5, 10), Stop.StopAt);
    assert.equal(g.core.regs.get(0), 42);
  });

  it('x87 and AVX are outside the covered set: #UD at the instruction', () => {
    for (const code of ['d9 e8' /* fld1 */, 'c5 fc 58 c1' /* vaddps ymm0, ymm0, ymm1 */]) {
      const g = new Guest();
      const ev = exception(exec(g, hex(code)));
      assert.equal(ev.vector, 6, code);
      assert.equal(ev.rip, USER_CODE, code);
    }
  });

  it('privileged instructions are #GP(0) at CPL 3', () => {
    for (const code of [
      'f4' /* hlt */,
      'fa' /* cli */,
      '0f 20 d8' /* mov rax, cr3 */,
      '0f 30' /* wrmsr */,
      '0f 01 38' /* invlpg [rax] */,
      'e4 60' /* in al, 0x60 */,
    ]) {
      const g = new Guest();
      const ev = exception(exec(g, hex(code)));
      assert.deepEqual([ev.vector, ev.errorCode, ev.rip], [13, 0, USER_CODE], code);
    }
  });

  it('a non-canonical data address is #GP(0); through RSP it is #SS(0)', () => {
    const g = new Guest();
    g.core.regs.setBig(3, 0x0000_8000_0000_0000n);
    assert.deepEqual([exception(exec(g, hex('48 8b 03' /* mov rax, [rbx] */))).vector], [13]);
    const h = new Guest();
    h.core.regs.setBig(4, 0x1234_0000_0000_0000n);
    assert.equal(exception(exec(h, hex('50' /* push rax */))).vector, 12);
  });

  it('a fetch from a non-executable page is #PF with the fetch, user and present bits', () => {
    const g = new Guest();
    // jmp USER_DATA (a no-execute user page)
    const rel = USER_DATA - (USER_CODE + 5);
    const ev = exception(exec(g, [0xe9, ...[0, 8, 16, 24].map((s) => (rel >>> s) & 0xff)]));
    assert.deepEqual([ev.vector, ev.cr2, ev.errorCode & 0x15], [14, USER_DATA, 0x15]);
  });

  it('an instruction that runs into an unmapped page faults at that page', () => {
    const g = new Guest();
    // The two user code pages are mapped; the third is not. A 5-byte mov starting 2 bytes
    // before the end of the second page.
    const at = USER_CODE + 2 * 4096 - 2;
    g.m.mem.writeBytes(g.resolve(at), Uint8Array.from([0xb8, 0x01]));
    g.core.cpl = 3;
    g.core.syncContext();
    g.core.rip = at;
    let trap: Trap | null = null;
    try {
      g.m.cpus[0]!.run(Infinity, at + 5, 10);
    } catch (e) {
      trap = e as Trap;
    }
    const ev = exception(trap);
    assert.deepEqual([ev.vector, ev.cr2, ev.rip], [14, USER_CODE + 2 * 4096, at]);
  });
});

describe('the cost of locked operations and PAUSE (profile.insn)', () => {
  /** Cycles `code` takes, run twice (the second run warm: no fetch or data misses). */
  const cycles = (code: number[]): number => {
    const g = new Guest();
    g.core.regs.set(R.RBX, USER_DATA);
    exec(g, code);
    const t0 = g.core.cycles;
    exec(g, code);
    return g.core.cycles - t0;
  };
  const p = new Guest().m.profile.insn;
  it('LOCK XADD costs the locked class, XCHG with memory its own, PAUSE its own', () => {
    assert.equal(cycles(hex('f0 48 0f c1 03')), p.locked); // lock xadd [rbx], rax
    assert.equal(cycles(hex('48 87 03')), p.xchgMem); // xchg [rbx], rax
    assert.equal(cycles(hex('48 87 c3')), p.alu); // xchg rbx, rax: no lock
    assert.equal(cycles(hex('48 0f c1 03')), p.alu); // xadd [rbx], rax: no lock
    assert.equal(cycles(hex('f3 90')), p.pause);
  });
});
