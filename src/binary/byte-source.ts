// Where the ELF reader gets its bytes: a buffer already in memory, or an open file read range
// by range, so that a scan holds only the headers, the symbol tables and one executable
// segment at a time instead of the whole file.
import { readSync } from 'node:fs';
import { BinaryIoError } from './errors.ts';

export interface ByteSource {
  readonly size: number;
  /**
   * Bytes [offset, offset + length), a range the caller has checked lies inside the file.
   * A file source copies them into `into` when given (reused between segments), else into a
   * new buffer; a memory source returns a view.
   */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

// readSync takes at most 2 GiB - 1 per call (a 32-bit length in libuv).
const MAX_READ = 1 << 30;

export function fileSource(fd: number, size: number, path: string): ByteSource {
  return {
    size,
    read(offset, length, into) {
      const out = into ? into.subarray(0, length) : new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let n: number;
        try {
          n = readSync(fd, out, done, Math.min(length - done, MAX_READ), offset + done);
        } catch (err) {
          throw new BinaryIoError(
            `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          );
        }
        // The size came from fstat: a short read means the file shrank while being read.
        if (n === 0) throw new BinaryIoError(`cannot read ${path}: it shrank while being read`);
        done += n;
      }
      return out;
    },
  };
}
