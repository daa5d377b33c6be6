// Hostile clients, as machine code, on every kernel: each attack runs first on core 0; then
// a victim client of the same server and a witness of another server each make a call. The
// checks read physical memory: every process's secret is intact, the victim and the witness
// are served, and the attacker got exactly what it should.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SbError,
  BINDINGS_VA,
  SERVER_VA,
  St,
  TAG_VA,
  TRAMPOLINE_VA,
} from '../../src/skybridge/layout.ts';
import { trampoline } from '../../src/experiments/skybridge-setup.ts';
import {
  ALL_KERNELS,
  assertExited,
  assertStopped,
  P,
  scene,
  secretOf,
  type Scene,
} from './world.ts';

interface Arena {
  s: Scene;
  sid: number;
  eid: number;
  /** Starts the victim's and the witness's calls (after the attack, lower priority). */
  witnesses(): void;
  /** The victim got the server's secret word 3 and the witness its echo; secrets intact. */
  assertServed(): void;
}

function arena(kernel: (typeof ALL_KERNELS)[number], o: { attackerBound?: boolean } = {}): Arena {
  const s = scene(kernel, ['server', 'victim', 'attacker', 'echo', 'witness']);
  const sid = s.server('server', 'secret_handler');
  const eid = s.server('echo', 'echo_handler');
  s.bind('victim', sid);
  if (o.attackerBound ?? true) s.bind('attacker', sid);
  s.bind('witness', eid);
  return {
    s,
    sid,
    eid,
    witnesses: () => {
      s.start('victim', 'client_main', [sid, 3, 1], { priority: 50 });
      s.start('witness', 'client_main', [eid, 41, 1], { priority: 50 });
    },
    assertServed: () => {
      const out = (p: string): number[] => [0, 1, 2].map((i) => s.word(p, 'out', i));
      assert.deepEqual(out('victim'), [1, 0, secretOf(s.procs.server!)[3]!], 'victim served');
      assert.deepEqual(out('witness'), [1, 0, 42], 'witness served');
      assert.equal(s.procs.server!.killed, false);
      assert.equal(s.procs.echo!.killed, false);
      s.assertSecrets();
    },
  };
}

const at = trampoline().at;

/** The caller number of `client`'s view of the arena's server, from the view's tag. */
function callerOf(a: Arena, client: string): number {
  return a.s.sb.callerNumber(a.s.procs[client]!, a.sid);
}
const u64 = (n: number): number => n;

for (const kernel of ALL_KERNELS) {
  for (const [what, addr] of [
    ['the tag page', TAG_VA],
    ['its binding records', BINDINGS_VA],
    ['the trampoline', TRAMPOLINE_VA],
  ] as const) {
    test(`${kernel}: a client writing ${what} takes a #PF; only its thread stops`, () => {
      const a = arena(kernel);
      const t = a.s.start('attacker', 'write_main', [addr, 1]);
      a.witnesses();
      a.s.run();
      assertStopped(t, /exception 14/);
      assert.equal(a.s.word('attacker', 'out'), 0);
      a.assertServed();
    });
  }

  test(`${kernel}: scribbling its thread block and entering the kernel does not put a client in a server's view`, () => {
    const a = arena(kernel);
    const t = a.s.start('attacker', 'scribble_main', [a.sid]);
    a.witnesses();
    a.s.run();
    // It came back from the system call in its own view: the server's state page is not
    // mapped there, so the read faults (in the server's view it would have read the id).
    assertStopped(t, new RegExp(`exception 14.*address ${(SERVER_VA + St.id).toString(16)}`));
    assert.equal(a.s.word('attacker', 'out', 1), 0);
    a.assertServed();
  });

  test(`${kernel}: entering the trampoline at its call VMFUNC with the victim's slot and a wrong key: refused, counted against the attacker's view, its thread stops`, () => {
    const a = arena(kernel);
    const victim = a.s.sb.bindingOf(a.s.procs.victim!, a.sid)!;
    const own = a.s.sb.bindingOf(a.s.procs.attacker!, a.sid)!;
    const t = a.s.start('attacker', 'jump_main', [at.sb_vmfunc_call, own.index, victim.slot]);
    a.witnesses();
    a.s.run();
    // The refusal came back to the client half with no call in flight: UD2 at sb_wild.
    assertStopped(t, new RegExp(`exception 6 at ${at.sb_wild.toString(16)}`));
    a.assertServed();
  });

  test(`${kernel}: VMFUNC at the trampoline's site to an index not in the client's list: VM exit, the attacker's process is killed`, () => {
    const a = arena(kernel);
    const t = a.s.start('attacker', 'jump_main', [at.sb_vmfunc_call, 7, 0]);
    a.witnesses();
    a.s.run();
    assertStopped(t, /VM exit/);
    assert.equal(a.s.procs.attacker!.killed, true);
    a.assertServed();
  });

  for (const [label, target] of [
    ['server half', at.sb_server_entry],
    ['client return path', at.sb_client_return],
    ['abort path', at.sb_abort],
  ] as const) {
    test(`${kernel}: jumping into the trampoline's ${label} in its own view: UD2, only its thread stops`, () => {
      const a = arena(kernel);
      const t = a.s.start('attacker', 'jump_main', [target, 0, 0]);
      a.witnesses();
      a.s.run();
      assertStopped(t, new RegExp(`exception 6 at ${at.sb_wild.toString(16)}`));
      a.assertServed();
    });
  }

  test(`${kernel}: VMFUNC at the return site into the server's view: the server's half finds no call, the kernel unwinds, the attacker's thread stops, the server lives`, () => {
    const a = arena(kernel);
    const own = a.s.sb.bindingOf(a.s.procs.attacker!, a.sid)!;
    const t = a.s.start('attacker', 'jump_main', [at.sb_vmfunc_return, own.index, 0]);
    a.witnesses();
    a.s.run();
    assertStopped(t, new RegExp(`exception 6 at ${at.sb_wild.toString(16)}`));
    assert.ok(a.s.sb.events.some((e) => /Aborted/.test(e.what)));
    a.assertServed();
  });

  test(`${kernel}: guessing keys for the victim's slot: 8 refusals, then the attacker's view is locked out, even with its own key; the victim is still served`, () => {
    const a = arena(kernel);
    const victim = a.s.sb.bindingOf(a.s.procs.victim!, a.sid)!;
    const own = a.s.sb.bindingOf(a.s.procs.attacker!, a.sid)!;
    a.s.setWord('attacker', 'param', P.server, a.sid);
    const caller = callerOf(a, 'attacker');
    const t = a.s.start('attacker', 'guess_main', [own.index, victim.slot, 20]);
    a.witnesses();
    a.s.run();
    assertExited(t);
    assert.deepEqual(
      [0, 1, 2].map((i) => a.s.word('attacker', 'out', i)),
      [8, 12, 0],
    );
    assert.equal(a.s.word('attacker', 'out', 4), SbError.Locked, 'its own key no longer works');
    assert.equal(a.s.sb.failures(a.sid, caller), 8, 'counted against the view, in its page');
    a.assertServed();
  });

  test(`${kernel}: VMFUNC bytes written into its own data and executed: #PF (no execute), only its thread stops`, () => {
    const a = arena(kernel);
    const t = a.s.start('attacker', 'exec_main', [a.s.sym('out') + 64, 1]);
    a.witnesses();
    a.s.run();
    assertStopped(t, /exception 14/);
    a.assertServed();
  });

  test(`${kernel}: mmap will not give a page both write and execute; a written page is not executable`, () => {
    const a = arena(kernel);
    const t = a.s.start('attacker', 'mmap_main');
    a.witnesses();
    a.s.run();
    assertStopped(t, /exception 14/);
    assert.equal(a.s.word('attacker', 'out', 2), u64(-13), 'PROT_WRITE|PROT_EXEC: -EACCES');
    a.assertServed();
  });

  test(`${kernel}: calls to a server it is not bound to, and to ids past the table, are NotBound`, () => {
    for (const id of [0, 1023, 1024, 2 ** 40]) {
      // Bound to the echo server only: the trampoline is mapped, the server's record empty.
      const a = arena(kernel, { attackerBound: false });
      a.s.bind('attacker', a.eid);
      const t = a.s.start('attacker', 'client_main', [id === 0 ? a.sid : id, 1, 1]);
      a.witnesses();
      a.s.run();
      assertExited(t);
      assert.equal(a.s.word('attacker', 'out', 1), u64(SbError.NotBound), `server ${id}`);
      a.assertServed();
    }
  });
}
