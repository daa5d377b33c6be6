// Scanning a file without reading all of it: the headers, then each executable segment in
// turn, read into one buffer the size of the largest; symbols (those a scan uses) are read
// only once a segment has a hit. Peak memory is that buffer, plus, for a file with hits, the
// kept symbols and their string table, whatever the size of the file (debug information, data
// and resources are never read). Same results as scanElf on the same bytes.
import { closeSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { fileSource } from './byte-source.ts';
import { readElfHeaders, readScanSymbols } from './elf-reader.ts';
import { isExecutableLoad, type ElfHeaders } from './elf-types.ts';
import { BinaryIoError, ElfFormatError } from './errors.ts';
import { openInput } from './file-io.ts';
import { scanSegments, type ProgressFn, type SegmentsScan } from './scanner.ts';

export interface FileScan extends SegmentsScan {
  headers: ElfHeaders;
}

export type FileScanOutcome =
  | { kind: 'clean'; scan: FileScan }
  | { kind: 'found'; scan: FileScan }
  | { kind: 'invalid'; message: string };

/**
 * Scans the ELF file at `path`. A malformed file gives kind 'invalid'; a path that cannot be
 * read (missing, not a regular file, I/O error) throws BinaryIoError.
 */
export function scanFile(path: string, onProgress?: ProgressFn): FileScanOutcome {
  const input = openInput(path);
  try {
    const src = fileSource(input.fd, input.size, path);
    let headers: ElfHeaders;
    try {
      headers = readElfHeaders(src, { symbols: 'none' });
    } catch (err) {
      if (err instanceof ElfFormatError) return { kind: 'invalid', message: err.message };
      throw err;
    }
    const largest = headers.programHeaders
      .filter(isExecutableLoad)
      .reduce((m, p) => (p.filesz > m ? p.filesz : m), 0n);
    if (largest > BigInt(bufferConstants.MAX_LENGTH))
      throw new BinaryIoError(`cannot read ${path}: an executable segment is too large to scan`);
    const buffer = Buffer.allocUnsafe(Number(largest));
    const scan = scanSegments(
      headers,
      (seg) => ({
        bytes: src.read(Number(seg.offset), Number(seg.filesz), buffer),
        base: Number(seg.offset),
      }),
      onProgress,
      () => readScanSymbols(src, headers),
    );
    const out = { headers, ...scan };
    return out.occurrences.length === 0
      ? { kind: 'clean', scan: out }
      : { kind: 'found', scan: out };
  } finally {
    closeSync(input.fd);
  }
}
