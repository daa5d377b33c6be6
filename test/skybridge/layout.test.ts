// The kernel's numbers for SkyBridge's pages and status codes are the ones the trampoline
// and the C API are built from (guest/skybridge/skybridge-layout.h).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as L from '../../src/skybridge/layout.ts';
import { trampoline } from '../../src/experiments/skybridge-setup.ts';
import { loadTrampoline } from '../../src/skybridge/trampoline.ts';
import { guestImage } from '../../src/experiments/guest-image.ts';

const header = readFileSync(
  new URL('../../guest/skybridge/skybridge-layout.h', import.meta.url),
  'utf8',
);
const defines = new Map(
  [...header.matchAll(/^#define (SB_\w+) (-?(?:0x[0-9a-f]+|\d+))/gim)].map((m) => [
    m[1]!,
    Number(m[2]),
  ]),
);

test('every address, offset and limit of the header is the kernel’s', () => {
  const want: Record<string, number> = {
    SB_TRAMPOLINE: L.TRAMPOLINE_VA,
    SB_TAG: L.TAG_VA,
    SB_TAG_INDEX: L.Tag.index,
    SB_TAG_SERVER: L.Tag.server,
    SB_TAG_CALLER: L.Tag.caller,
    SB_TAG_PID: L.Tag.pid,
    SB_BINDINGS: L.BINDINGS_VA,
    SB_BINDING_SHIFT: Math.log2(L.BINDING_BYTES),
    SB_MAX_SERVERS: L.MAX_SERVERS,
    SB_REC_INDEX: L.Rec.index,
    SB_REC_SLOT: L.Rec.slot,
    SB_REC_KEY: L.Rec.key,
    SB_REC_BUFFER: L.Rec.buffer,
    SB_REC_BYTES: L.Rec.bytes,
    SB_SERVER: L.SERVER_VA,
    SB_ST_BUSY: L.St.busy,
    SB_ST_STACKS: L.St.stacks,
    SB_ST_ID: L.St.id,
    SB_ST_HANDLER: L.St.handler,
    SB_ST_LOCK: L.St.lock,
    SB_FAILS: L.FAILS_OFFSET,
    SB_KEYS: L.KEYS_OFFSET,
    SB_SLOTS: L.SLOTS_OFFSET,
    SB_MAX_CALLERS: L.MAX_CALLERS,
    SB_MAX_SLOTS: L.MAX_SLOTS,
    SB_STACKS: L.SERVER_STACKS_VA,
    SB_STACK_SHIFT: Math.log2(L.SERVER_STACK_BYTES),
    SB_THREADS: L.THREADS_VA,
    SB_TB_FLIGHT: L.Tb.flight,
    SB_TB_RSP: L.Tb.rsp,
    SB_TB_KEY: L.Tb.key,
    SB_TB_FROM: L.Tb.from,
    SB_TB_SERVER: L.Tb.server,
    SB_TB_HELD: L.Tb.held,
    SB_SHARED: L.SHARED_VA,
  };
  for (const [name, v] of Object.entries(L.SbError)) want[`SB_E${name.toUpperCase()}`] = v;
  assert.deepEqual(Object.fromEntries(defines), want);
});

test('the trampoline is one page at its address with VMFUNC exactly at its two sites', () => {
  const t = trampoline();
  assert.equal(t.at.sb_call, L.TRAMPOLINE_VA);
  assert.ok(t.at.sb_end - L.TRAMPOLINE_VA <= L.TRAMPOLINE_BYTES);
  const at = (va: number): number[] => [
    ...t.page.subarray(va - L.TRAMPOLINE_VA, va - L.TRAMPOLINE_VA + 3),
  ];
  assert.deepEqual(at(t.at.sb_vmfunc_call), [0x0f, 0x01, 0xd4]);
  assert.deepEqual(at(t.at.sb_vmfunc_return), [0x0f, 0x01, 0xd4]);
});

test('a trampoline file with VMFUNC bytes anywhere else is refused', () => {
  const bytes = new Uint8Array(guestImage('sb-trampoline').bytes);
  // Put 0F 01 D4 over the first bytes of sb_abort, in the file.
  const t = trampoline();
  const off = 0x1000 + (t.at.sb_abort - L.TRAMPOLINE_VA);
  bytes.set([0x0f, 0x01, 0xd4], off);
  assert.throws(() => loadTrampoline(bytes), /0F 01 D4 at .*expected only its two VMFUNC sites/);
});
