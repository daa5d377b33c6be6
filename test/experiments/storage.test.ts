// The storage stack's transports: a client writes 20 blocks to the RAM-disk server and reads
// them back, over each kernel's own IPC and over SkyBridge, on each kernel.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KERNELS } from '../../src/experiments/kernels.ts';
import { storageStack } from '../../src/experiments/storage.ts';

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
