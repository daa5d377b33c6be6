// An error the user caused (bad input, unknown name): printed as one line, exit status 1.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
