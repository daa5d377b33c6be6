// README.md's result tables are generated (src/report/readme-tables.ts, `npm run readme`):
// this fails when they say something a run of this checkout no longer measures. It runs the
// primitives experiment and the ipc experiment's first group in-process (a few seconds).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { README, currentTables } from '../../scripts/readme.ts';
import { readmeBlocks, updateReadme, type ReadmeTable } from '../../src/report/readme-tables.ts';

test("README.md's generated tables are what this checkout measures (else: npm run readme)", () => {
  const tables = currentTables();
  const blocks = readmeBlocks(readFileSync(README, 'utf8'));
  assert.deepEqual(blocks.map((b) => b.name).sort(), Object.keys(tables).sort());
  for (const b of blocks)
    assert.equal(
      b.text,
      tables[b.name as ReadmeTable],
      `README.md's '${b.name}' table is stale: run 'npm run readme'`,
    );
});

test('updateReadme replaces what is between the markers and nothing else', () => {
  const doc = [
    'before',
    '<!-- generated: primitives (npm run readme) -->',
    '| old |',
    '<!-- end generated -->',
    'middle',
    '<!-- generated: ipc-kernels (npm run readme) -->',
    'x',
    '<!-- end generated -->',
    'after',
  ].join('\n');
  const out = updateReadme(doc, { primitives: '| a |\n| b |', 'ipc-kernels': '| c |' });
  assert.equal(out, doc.replace('| old |', '| a |\n| b |').replace('\nx\n', '\n| c |\n'));
  assert.equal(updateReadme(out, { primitives: '| a |\n| b |', 'ipc-kernels': '| c |' }), out);
  assert.throws(
    () => updateReadme('no markers', { primitives: '', 'ipc-kernels': '' }),
    /no markers/,
  );
  assert.throws(
    () =>
      updateReadme('<!-- generated: nope x -->\n\n<!-- end generated -->', {
        primitives: '',
        'ipc-kernels': '',
      }),
    /no generated table is called 'nope'/,
  );
});
