// `skybridge/experiments`: what `skybridge reproduce` runs, the results document's schema and
// writers (JSON, CSV, Markdown), the counters of each case, and the Chrome trace file.

export { CATALOG, type ExperimentId, type ExperimentInfo } from '../experiments/catalog.ts';
export { EXPERIMENTS, findExperiment } from '../experiments/registry.ts';
export {
  SEEDS,
  summarize,
  type Experiment,
  type ExperimentResult,
  type ResultRow,
  type RowParams,
  type RunContext,
  type Stats,
} from '../experiments/experiment.ts';
export { CounterLog, caseCounters, type CaseCounters } from '../experiments/case-counters.ts';
export { runSel4Bench, type IpcCase } from '../experiments/sel4bench.ts';
export { measureIndirect, WORKING_SETS, type IndirectResult } from '../experiments/indirect.ts';
export { guestImage, symbol, type GuestImage } from '../experiments/guest-image.ts';
export {
  runProgram,
  RUN_KERNELS,
  type RunKernel,
  type RunOptions,
  type RunResult,
} from '../experiments/run-program.ts';
export {
  SCHEMA_VERSION,
  caseId,
  resultsDocumentSchema,
  resultsJsonSchema,
  rowId,
  type Provenance,
  type ResultsDocument,
} from '../report/schema.ts';
export { parseResults, readResults, validateResults } from '../report/read-results.ts';
export { provenance } from '../report/provenance.ts';
export { JsonResultsWriter, renderResult, toJson } from '../report/table.ts';
export {
  CsvResultsWriter,
  MarkdownResultsWriter,
  resultsWriter,
  type Format,
  type ResultsWriter,
} from '../report/export.ts';
export { chromeTrace, type ChromeTrace } from '../report/trace-file.ts';
export { traceCase, TRACEABLE } from '../experiments/trace-case.ts';
export { toolVersion } from '../report/version.ts';
