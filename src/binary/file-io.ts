// Reading inputs and writing outputs so that a failure leaves nothing behind: the output is
// written to a temporary file in the destination directory and renamed over the target only
// once it is complete (rename within one file system is atomic, POSIX rename(2)).
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { basename, dirname, join } from 'node:path';
import { fileSource } from './byte-source.ts';
import { BinaryIoError } from './errors.ts';

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? (err instanceof Error ? err.message : String(err));
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'it is a directory';
  if (st.isFIFO()) return 'not a regular file (a FIFO)';
  if (st.isCharacterDevice()) return 'not a regular file (a character device)';
  if (st.isBlockDevice()) return 'not a regular file (a block device)';
  if (st.isSocket()) return 'not a regular file (a socket)';
  return 'not a regular file';
}

export interface OpenInput {
  fd: number;
  path: string;
  size: number;
  /** Permission bits (0o777), kept on the output. */
  mode: number;
  dev: number;
  ino: number;
}

/**
 * Opens a regular file for reading; anything else (a FIFO, /dev/zero, a directory) is refused
 * before a read could block or never end. The caller closes `fd`.
 */
export function openInput(path: string): OpenInput {
  let fd: number | undefined;
  try {
    // stat first: opening a FIFO without O_NONBLOCK waits for a writer.
    const before = statSync(path);
    if (!before.isFile()) throw new BinaryIoError(`cannot read ${path}: ${kindOf(before)}`);
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    // fstat again: the path may have been replaced between stat and open.
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BinaryIoError(`cannot read ${path}: ${kindOf(st)}`);
    return { fd, path, size: st.size, mode: st.mode & 0o777, dev: st.dev, ino: st.ino };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if (err instanceof BinaryIoError) throw err;
    throw new BinaryIoError(`cannot read ${path}: ${reason(err)}`);
  }
}

export interface InputFile {
  bytes: Uint8Array;
  mode: number;
  dev: number;
  ino: number;
}

/** The whole of a regular file, with its mode and identity. */
export function readInputFile(path: string): InputFile {
  const f = openInput(path);
  try {
    if (f.size > bufferConstants.MAX_LENGTH)
      throw new BinaryIoError(`cannot read ${path}: too large to load (${f.size} bytes)`);
    const bytes = fileSource(f.fd, f.size, path).read(0, f.size, Buffer.allocUnsafe(f.size));
    return { bytes, mode: f.mode, dev: f.dev, ino: f.ino };
  } finally {
    closeSync(f.fd);
  }
}

export function readInput(path: string): Uint8Array {
  return readInputFile(path).bytes;
}

/** True if `path` names the same file as `input` (also through a symlink or a hard link). */
export function isSameFile(input: { dev: number; ino: number }, path: string): boolean {
  try {
    const st = statSync(path);
    return st.dev === input.dev && st.ino === input.ino;
  } catch {
    return false; // does not exist (or cannot be seen): writing it cannot touch the input
  }
}

/**
 * Writes bytes to path atomically, with permission bits `mode` (the input's: a 0700 binary
 * stays 0700; set-user-ID and set-group-ID bits are not carried over to a new file).
 */
export function writeOutputAtomically(path: string, bytes: Uint8Array, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.skybridge-${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes, { flag: 'wx', mode: mode & 0o777 });
    chmodSync(tmp, mode & 0o777); // exactly, whatever the umask
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new BinaryIoError(`cannot write ${path}: ${reason(err)}`);
  }
}
