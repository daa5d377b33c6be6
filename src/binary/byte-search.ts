// The hot loop of a scan: every position of 0F 01 D4 in a byte range. Buffer.indexOf runs a
// native substring search (memchr on the first byte, then a compare), which is far faster
// than any per-byte JavaScript loop or than decoding instructions.

/** The VMFUNC encoding, SDM Vol. 2C "VMFUNC—Invoke VM function": NP 0F 01 D4. */
export const VMFUNC_BYTES = Uint8Array.of(0x0f, 0x01, 0xd4);
const NEEDLE = Buffer.from(VMFUNC_BYTES);

/** File offsets in [start, end) where the three bytes begin (all three inside the range). */
export function findVmfuncBytes(bytes: Uint8Array, start = 0, end = bytes.length): number[] {
  const hay = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  const out: number[] = [];
  let i = hay.indexOf(NEEDLE, 0);
  while (i !== -1) {
    out.push(start + i);
    i = hay.indexOf(NEEDLE, i + 1);
  }
  return out;
}

export function containsVmfuncBytes(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(NEEDLE) !== -1;
}
