// Reading inputs and writing outputs so that a failure leaves nothing behind: the output is
// written to a temporary file in the destination directory and renamed over the target only
// once it is complete (rename within one file system is atomic, POSIX rename(2)).
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BinaryIoError } from './errors.ts';

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? (err instanceof Error ? err.message : String(err));
}

export function readInput(path: string): Uint8Array {
  try {
    if (statSync(path).isDirectory())
      throw new BinaryIoError(`cannot read ${path}: it is a directory`);
    return readFileSync(path);
  } catch (err) {
    if (err instanceof BinaryIoError) throw err;
    throw new BinaryIoError(`cannot read ${path}: ${reason(err)}`);
  }
}

/** Writes bytes to path atomically, executable (0755) like the input binary. */
export function writeOutputAtomically(path: string, bytes: Uint8Array, mode = 0o755): void {
  const tmp = join(dirname(path), `.${basename(path)}.skybridge-${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes, { flag: 'wx', mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new BinaryIoError(`cannot write ${path}: ${reason(err)}`);
  }
}
