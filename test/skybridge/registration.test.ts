// Registration and binding: every refusal before anything is allocated, limits per client
// (as in the paper: 511 servers in one client's EPTP list), records that fit their pages
// for any server id, and two clients whose lists use the same indices for different servers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BINDINGS_VA, BINDING_BYTES, MAX_SERVERS, Rec } from '../../src/skybridge/layout.ts';
import { assertExited, scene, walk } from './world.ts';

test('a binding refused at the 511-entry limit allocates nothing; the limit is per client: another client still binds', () => {
  const servers = Array.from({ length: 512 }, (_, i) => `s${i}`);
  const names = ['client', 'other', ...servers];
  const s = scene('seL4', names, { servers });
  const ids = names.slice(2).map((n) => s.server(n, 'echo_handler'));
  for (const id of ids.slice(0, 511)) s.bind('client', id);
  const used = s.k.frames.used;
  assert.throws(() => s.bind('client', ids[511]!), /no index of client's EPTP list is free/);
  assert.equal(s.k.frames.used, used, 'no frame allocated by the refused binding');
  // Index 1 of `other`'s list is its own: the first server it binds to.
  const b = s.bind('other', ids[511]!);
  assert.equal(b.index, 1);
  const t = s.start('other', 'client_main', [ids[511]!, 9, 1]);
  s.run();
  assertExited(t);
  assert.deepEqual(
    [0, 1, 2].map((i) => s.word('other', 'out', i)),
    [1, 0, 10],
  );
});

test('binding records for any server id stay inside the records region, and a call to a server with a high id works', () => {
  const servers = Array.from({ length: 300 }, (_, i) => `s${i}`);
  const names = ['client', ...servers];
  const s = scene('seL4', names, { servers });
  const ids = names.slice(1).map((n) => s.server(n, 'echo_handler'));
  const high = ids[299]!;
  assert.equal(high, 300);
  const b = s.bind('client', high);
  const rec = BINDINGS_VA + high * BINDING_BYTES;
  assert.ok(rec + BINDING_BYTES <= BINDINGS_VA + MAX_SERVERS * BINDING_BYTES);
  const pa = walk(s.m, s.procs.client!.space.userRoot, rec + Rec.index)!;
  assert.equal(s.m.mem.read32(pa), b.index);
  // The shared buffer is elsewhere: writing it changes no record.
  assert.notEqual(walk(s.m, s.procs.client!.space.userRoot, b.buffer), null);
  const t = s.start('client', 'client_main', [high, 1, 1]);
  s.run();
  assertExited(t);
  assert.deepEqual(
    [0, 1, 2].map((i) => s.word('client', 'out', i)),
    [1, 0, 2],
  );
});

test('bad registrations are refused with their reason', () => {
  const s = scene('seL4', ['a', 'b']);
  const id = s.server('a', 'echo_handler');
  assert.throws(() => s.server('a', 'echo_handler'), /already a server/);
  assert.throws(() => s.server('b', 'echo_handler', { maxConcurrent: 65 }), /maxConcurrent/);
  assert.throws(() => s.bind('a', id), /cannot bind to itself/);
  assert.throws(() => s.bind('b', 99), /no server 99/);
  assert.throws(() => s.bind('b', id, 1 << 20), /shared buffer/);
  s.bind('b', id);
  assert.throws(() => s.bind('b', id), /bound to server 1 already/);
});
