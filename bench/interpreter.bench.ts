// Host throughput of the user-mode interpreter: interpreted guest instructions per host
// second on a warm integer loop (add, dec, jnz: registers only, decoded once), and on a
// loop that loads and stores through the MMU and caches every iteration.

import { performance } from 'node:perf_hooks';
import { Guest, USER_DATA } from '../test/hw/guest.ts';

function loop(label: string, code: number[], setup: (g: Guest) => void): void {
  const g = new Guest();
  const at = g.userCode(code);
  const cpu = g.m.cpus[0]!;
  const go = (n: number): number => {
    setup(g);
    g.core.rip = at;
    const t0 = performance.now();
    cpu.run(Infinity, at + code.length, n);
    return (performance.now() - t0) / 1000;
  };
  go(2_000_000); // warm the JIT
  const s = go(30_000_000);
  console.log(
    `${label.padEnd(58)} ${(cpu.executed / s / 1e6).toFixed(1).padStart(8)} M instructions/s`,
  );
}

const hex = (...parts: string[]): number[] =>
  parts
    .join(' ')
    .split(/\s+/)
    .map((b) => parseInt(b, 16));

export async function bench(): Promise<void> {
  // mov ecx, 0x7fffffff; xor eax, eax; l: add rax, rcx; dec rcx; jnz l
  loop(
    'warm integer loop (add, dec, jnz)',
    hex('b9 ff ff ff 7f', '31 c0', '48 01 c8', '48 ff c9', '75 f8'),
    () => {},
  );
  // l: mov rax, [rbx]; add rax, rcx; mov [rbx+8], rax; add rbx, 16; and rbx, mask; dec rcx; jnz l
  // over 16 KiB of user data (L1-resident, TLB hits).
  loop(
    'load/store loop (L1D and DTLB hits)',
    hex(
      'b9 ff ff ff 7f', // mov ecx, 0x7fffffff
      '48 8b 03', // l: mov rax, [rbx]
      '48 01 c8', // add rax, rcx
      '48 89 43 08', // mov [rbx+8], rax
      '48 83 c3 10', // add rbx, 16
      '48 81 e3 f0 3f 60 00', // and rbx, 0x603ff0 (16 KiB of USER_DATA)
      '48 ff c9', // dec rcx
      '75 e6', // jnz l
    ),
    (g) => g.core.regs.set(3, USER_DATA),
  );
}
