// Editing program header fields of a fixture copy, for tests of malformed or unusual layouts.
const FIELD = { type: [0, 4], flags: [4, 4], offset: [8, 8], vaddr: [16, 8], filesz: [32, 8], memsz: [40, 8] } as const; // prettier-ignore

export type PhdrField = keyof typeof FIELD;

/** File offsets of the PT_LOAD program headers, in table order. */
export function loadPhdrs(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(v.getBigUint64(32, true));
  const out: number[] = [];
  for (let i = 0; i < v.getUint16(56, true); i++)
    if (v.getUint32(phoff + i * 56, true) === 1) out.push(phoff + i * 56);
  return out;
}

/** A copy of `bytes` with field `f` of the n-th PT_LOAD (negative: from the end) set. */
export function withLoad(bytes: Uint8Array, n: number, f: PhdrField, value: bigint): Uint8Array {
  const out = Uint8Array.from(bytes);
  const v = new DataView(out.buffer);
  const list = loadPhdrs(out);
  const at = list[n < 0 ? list.length + n : n] + FIELD[f][0];
  if (FIELD[f][1] === 4) v.setUint32(at, Number(value), true);
  else v.setBigUint64(at, value, true);
  return out;
}

export function getLoad(bytes: Uint8Array, n: number, f: PhdrField): bigint {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const list = loadPhdrs(bytes);
  const at = list[n < 0 ? list.length + n : n] + FIELD[f][0];
  return FIELD[f][1] === 4 ? BigInt(v.getUint32(at, true)) : v.getBigUint64(at, true);
}
