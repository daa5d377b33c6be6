// Colours for terminal output: on only when stdout is a terminal and NO_COLOR is unset, so
// output piped to a file or another program (or read by CI) is plain text.
import pc from 'picocolors';

export const style = pc.createColors(
  process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
);
