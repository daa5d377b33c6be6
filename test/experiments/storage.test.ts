// The storage stack's transports: a client writes 20 blocks to the RAM-disk server and reads
// them back, over each kernel's own IPC and over SkyBridge, on each kernel; and the platform
// under the kernel: bare hardware, or the Rootkernel with 1 GiB or 4 KiB EPT pages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KERNELS } from '../../src/experiments/kernels.ts';
import { storageStack, type Platform } from '../../src/experiments/storage.ts';
import { Mode, type CounterSnapshot } from '../../src/hw/counters.ts';

for (const kernel of KERNELS)
  for (const transport of ['native', 'skybridge'] as const)
    test(`${kernel}, ${transport}: 20 blocks written to the RAM disk and read back intact`, () => {
      const s = storageStack({ kernel, transport });
      s.add('ramdisk');
      s.add('client');
      s.connect('client', 'ramdisk', 'ramdisk_handler', 'ramdisk_main');
      const t = s.start('client', 'blocks_main', 20);
      s.run();
      assert.equal(t.alive, true, `parked, not stopped: ${t.exitReason}`);
      assert.equal(s.word('client', 'out', 1), 0, 'no failed call');
      assert.equal(s.word('client', 'out', 0), 20, 'every block read back as written');
      assert.equal(s.word('ramdisk', 'disk_writes'), 20);
      assert.equal(s.word('ramdisk', 'disk_reads'), 20);
    });

test('bare hardware (no Rootkernel): no VMX operation, one-dimensional walks, no VM exits, time by CPL; 4 KiB EPT pages walk more than 1 GiB ones', () => {
  const run = (platform: Platform): { s: ReturnType<typeof storageStack>; d: CounterSnapshot } => {
    const s = storageStack({ kernel: 'seL4', transport: 'native', platform });
    s.add('ramdisk');
    s.add('client');
    s.connect('client', 'ramdisk', 'ramdisk_handler', 'ramdisk_main');
    s.start('client', 'blocks_main', 20);
    s.run();
    assert.equal(s.word('client', 'out', 0), 20, `${platform}: every block read back`);
    return { s, d: s.m.snapshot() };
  };
  const bare = run('bare');
  assert.equal(bare.s.k.rootkernel, null);
  for (const c of bare.s.m.cores)
    assert.deepEqual([c.vmxOn, c.nonRoot, c.ts.eptOn], [false, false, false]);
  assert.throws(() => bare.s.k.rk, /bare hardware: there is no Rootkernel/);
  const d = bare.d;
  assert.ok(d.get('walk.count') > 0 && d.get('walk.refs.guest') > 0);
  assert.equal(d.get('walk.refs.ept'), 0, 'no EPT under the walks');
  assert.equal(d.get('vmexits'), 0);
  assert.equal(d.get('cycles', { mode: Mode.VmxRoot }), 0, 'never in VMX root operation');
  assert.ok(d.get('cycles', { mode: Mode.Kernel }) > 0);
  const client = bare.s.m.owners.id('client');
  assert.ok(d.get('cycles', { owner: client, mode: Mode.User }) > 0);

  const g1 = run('ept-1g').d;
  const k4 = run('ept-4k').d;
  assert.ok(g1.get('walk.refs.ept') > 0, 'two-dimensional under the Rootkernel');
  assert.ok(k4.get('walk.refs.ept') > g1.get('walk.refs.ept'), '4 KiB EPT walks go deeper');

  assert.throws(
    () => storageStack({ kernel: 'seL4', transport: 'skybridge', platform: 'bare' }),
    /SkyBridge needs the Rootkernel/,
  );
});
