// `skybridge`: the package's main entry point, everything in one import. The narrower entry
// points (skybridge/machine, /kernels, /skybridge, /experiments, /binary) load less.

export * from './machine.ts';
export * from './kernels.ts';
export * from './skybridge.ts';
export * from './experiments.ts';
export * from './binary.ts';
