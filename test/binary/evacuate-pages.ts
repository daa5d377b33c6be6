// Not a test: an experiment run by hand (docs/binary.md, "Moving code off a page: how it was
// tried"). For page after page of a file's .text, it does what the rewriter does when that
// page holds data with 0F 01 D4 next to code: moves the page's code out (evacuate.ts), takes
// execute permission off the page (nx-pages.ts), checks the output (evacuate-check.ts), then
// runs WORKLOAD with the output's path and compares what it prints with BASELINE (the
// workload's output for the original file). With --control, the page loses execute without
// its code moving: the pages whose output then differs are those the workload runs.
//
//   node --import tsx test/binary/evacuate-pages.ts FILE WORKLOAD BASELINE [STEP] [--control]
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeEvacuation } from '../../src/binary/data-pages.ts';
import { readElf } from '../../src/binary/elf-reader.ts';
import { planAppend, writeWithCodeSegment } from '../../src/binary/elf-writer.ts';
import { RewriteRefusedError } from '../../src/binary/errors.ts';
import { verifyEvacuation } from '../../src/binary/evacuate-check.ts';
import { evacuationDataSize, planEvacuation } from '../../src/binary/evacuate.ts';
import { checkSplits, planSplits, PAGE } from '../../src/binary/nx-pages.ts';
import type { Occurrence } from '../../src/binary/occurrence.ts';
import { scanParsedElf } from '../../src/binary/scanner.ts';

const args = process.argv.slice(2).filter((a) => a !== '--control');
const control = process.argv.includes('--control');
const [file, workload, baseline, stepArg] = args;
const step = BigInt(stepArg ?? '1');
const elf = readElf(readFileSync(file));
const scan = scanParsedElf(elf);
const text = elf.sections.find((s) => s.name === '.text')!;
const want = readFileSync(baseline, 'utf8');
const out = join(mkdtempSync(join(tmpdir(), 'evacuate-pages-')), 'candidate');
const refusals = new Map<string, number>();
let same = 0;
let different = 0;
let tried = 0;

/** Writes the file with `page` non-executable, its code moved out unless --control. */
function candidate(page: bigint): Uint8Array {
  const ev = planEvacuation(elf, scan.maps, [page], []);
  // A stand-in for the data occurrence that would make the page non-executable.
  const data = { kind: 'data', address: page } as Occurrence;
  const splits = planSplits(elf, scan.maps, [data], new Set([page]));
  if (!Array.isArray(splits)) throw new RewriteRefusedError(splits.reason);
  const extra = splits.reduce((n, x) => n + x.pieces.length - 1, 0);
  const plan = planAppend(elf, extra, evacuationDataSize(ev));
  const moved = placeEvacuation(elf, ev, plan);
  if (control) return writeWithCodeSegment(elf, [], new Uint8Array(0), plan, splits);
  const bytes = writeWithCodeSegment(elf, moved.patches, moved.code, plan, splits, moved.extra);
  const outElf = readElf(bytes);
  const problems = [
    ...verifyEvacuation(elf, scan.maps, outElf, ev, moved.delta),
    ...checkSplits(elf, scan.maps, outElf, splits, new Set([page])),
  ];
  if (problems.length > 0) throw new Error(`0x${page.toString(16)}: ${problems[0]}`);
  return bytes;
}

const first = text.addr - (text.addr % PAGE) + PAGE;
for (let page = first; page + PAGE <= text.addr + text.size; page += PAGE * step) {
  tried++;
  let bytes: Uint8Array;
  try {
    bytes = candidate(page);
  } catch (err) {
    if (!(err instanceof RewriteRefusedError)) throw err;
    // Group refusals by kind: addresses, instructions and names left out.
    const kind = err.message.replace(/0x[0-9a-f]+|`[^`]*`|\([^)]*\)/g, '…');
    refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
    continue;
  }
  writeFileSync(out, bytes);
  chmodSync(out, 0o755);
  let got: string;
  try {
    got = execFileSync(workload, [out], { encoding: 'utf8', timeout: 60_000 });
  } catch (err) {
    got = `failed: ${String(err)}`;
  }
  if (got === want) same++;
  else {
    different++;
    console.log(`0x${page.toString(16)}: output differs`);
  }
}
const refused = [...refusals.values()].reduce((a, b) => a + b, 0);
console.log(`${tried} page(s): ${same} same output, ${different} different, ${refused} refused`);
for (const [kind, n] of refusals) console.log(`  ${n} refused: ${kind}`);
