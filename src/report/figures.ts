// Which figures each experiment gets. An experiment without an entry here (or whose rows a
// builder does not find) is shown by its table alone.

import type { ExperimentResult } from './schema.ts';
import type { Figure } from './figure.ts';
import { ipcFigures } from './figure-ipc.ts';
import { indirectFigures } from './figure-indirect.ts';
import { sqliteFigures } from './figure-sqlite.ts';

const BUILDERS: Record<string, (r: ExperimentResult) => Figure[]> = {
  ipc: ipcFigures,
  indirect: indirectFigures,
  sqlite: sqliteFigures,
};

export function figuresFor(result: ExperimentResult): Figure[] {
  return BUILDERS[result.id]?.(result) ?? [];
}
