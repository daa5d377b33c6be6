// JSON for --json output: bigint addresses become "0x…" strings (JSON has no 64-bit integers).
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v),
    2,
  );
}

export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}
