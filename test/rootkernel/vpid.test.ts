// RootkernelConfig.vpid: with "enable VPID" on (the default, VPID 1) a VM exit and the entry
// back keep the guest's TLB entries; off, the guest runs as VPID 0 and the exit and entry
// invalidate its linear and combined mappings (SDM Vol. 3C §29.4.3.1), so the next access
// misses the TLB.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuid } from '../../src/hw/isa.ts';
import { R } from '../../src/hw/core.ts';
import { LayoutError, computeLayout } from '../../src/rootkernel/layout.ts';
import { CLIENT_VALUE, Fixture, GIB, USER_DATA } from './fixture.ts';

/** The TLB counters of a user load of USER_DATA made after a CPUID (a VM exit) that
 *  followed a first load of the same page. */
function loadAfterExit(vpid: boolean | undefined) {
  const f = new Fixture({ cores: 1, ...(vpid !== undefined && { rk: { vpid } }) });
  const c = f.m.core(0);
  f.launch(c);
  f.toUser(c);
  assert.equal(c.load32(USER_DATA), CLIENT_VALUE);
  const warm = f.m.snapshot();
  c.load32(USER_DATA);
  const hit = f.m.snapshot().minus(warm);
  c.regs.set(R.RAX, 0);
  const beforeExit = f.m.snapshot();
  assert.equal(f.exit(c, () => cpuid(c, f.site.ucpuid)).kind, 'resumed');
  assert.equal(c.cpl, 3);
  const afterExit = f.m.snapshot();
  const exit = afterExit.minus(beforeExit);
  assert.equal(c.load32(USER_DATA), CLIENT_VALUE);
  const after = f.m.snapshot().minus(afterExit);
  return { vmcs: c.vmcs!, hit, exit, after };
}

describe('Rootkernel VPID', () => {
  it('on by default: VPID 1, and a VM exit and entry keep the guest TLB entries', () => {
    const r = loadAfterExit(undefined);
    assert.equal(r.vmcs.enableVpid, true);
    assert.equal(r.vmcs.vpid, 1);
    assert.equal(r.hit.get('tlb.miss.data'), 0, 'the second load hits');
    assert.equal(r.exit.get('vmexits'), 1);
    assert.equal(r.exit.get('tlb.invalidated'), 0);
    assert.equal(r.after.get('tlb.miss.data'), 0, 'still cached after the exit');
    assert.equal(r.after.get('dtlb.hit'), 1);
  });

  it('off: the exit and entry flush the guest TLB entries, the next load walks', () => {
    const r = loadAfterExit(false);
    assert.equal(r.vmcs.enableVpid, false);
    assert.equal(r.vmcs.vpid, 0);
    assert.equal(r.hit.get('tlb.miss.data'), 0, 'the second load hits');
    assert.equal(r.exit.get('vmexits'), 1);
    assert.ok(r.exit.get('tlb.invalidated') > 0, 'the exit and entry invalidated entries');
    assert.equal(r.after.get('tlb.miss.data'), 1, 'the load after the exit misses');
    assert.equal(r.after.get('walk.count'), 1);
  });

  it('vpid must be a boolean', () => {
    assert.throws(() => computeLayout(2 * GIB, { vpid: 'no' as never }), LayoutError);
  });
});
