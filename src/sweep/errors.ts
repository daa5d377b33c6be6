// Errors of the sweep engine that the command line reports as usage errors (exit status 2):
// a bad --queue address, a bad --jobs. The CLI's own ArgumentError is a layer above; the
// commands turn this one into it.

export class SweepArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepArgumentError';
  }
}
