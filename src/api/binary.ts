// `skybridge/binary`: the VMFUNC scanner and rewriter for real x86-64 ELF files (what
// `skybridge scan` and `skybridge rewrite` run; limits in src/binary/README.md).

export { scanFile, type FileScan, type FileScanOutcome } from '../binary/scan-file.ts';
export {
  scanCode,
  scanElf,
  type ElfScan,
  type ProgressFn,
  type ScanOutcome,
} from '../binary/scanner.ts';
export { rewriteElf, type RewriteOptions, type RewriteOutcome } from '../binary/rewriter.ts';
export { readElf } from '../binary/elf-reader.ts';
export { describeOccurrence, type Occurrence } from '../binary/occurrence.ts';
export {
  BinaryIoError,
  ElfFormatError,
  RewriteRefusedError,
  isBinaryToolError,
} from '../binary/errors.ts';
