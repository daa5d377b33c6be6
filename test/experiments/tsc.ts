// Cycle figures the benchmarks take from RDTSC stamps: each stamp reads the floor of the
// core's clock (the model's TSC counts whole cycles, as the hardware's does), and per-class
// costs are fractions of a cycle, so a composition of exact costs matches a measured mean to
// within one cycle, not exactly: where the clock's fractional phase at the first stamp
// differs (another kernel booted before, another mitigation site ran), the floors move by one.
import assert from 'node:assert/strict';

/** `actual` is `expected` to within RDTSC's one-cycle resolution. */
export function assertWithinTsc(actual: number | undefined, expected: number, what = ''): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1,
    `${what ? `${what}: ` : ''}${actual} is not ${expected} to within one cycle (RDTSC's resolution)`,
  );
}
