#!/usr/bin/env node
// Entry point for `npx skybridge`: runs the compiled CLI in dist/, which `npm run build`
// makes (npm runs it as `prepare` after `npm ci` or `npm install` in a checkout; an installed
// package ships it). `npm run skybridge -- ARGS` runs the TypeScript sources instead.
//
// In a checkout whose src/ has changed since dist/ was built, it runs the sources through tsx
// (a development dependency) instead, so the command never runs code older than the
// sources beside it; `npm run build` makes it fast again.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
const stamp = fileURLToPath(new URL('../dist/.built', import.meta.url));
const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Whether anything under src/ (a file, or a folder a file was added to or removed from)
 *  changed since the build that wrote dist/ began (scripts/build.mjs checks the same). */
function stale() {
  if (!existsSync(src)) return false;
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const newer = (path) => statSync(path).mtimeMs > built;
  return newer(src) || readdirSync(src, { recursive: true }).some((f) => newer(`${src}${f}`));
}

async function runSources() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    return false;
  }
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
  return true;
}

if (!existsSync(main) || stale()) {
  if (!(await runSources())) {
    if (!existsSync(main)) {
      process.stderr.write(
        "skybridge: dist/ has not been built: run 'npm run build' (or 'npm run skybridge -- ARGS' to run the sources)\n",
      );
      process.exit(1);
    }
    await import(main.href);
  }
} else await import(main.href);
