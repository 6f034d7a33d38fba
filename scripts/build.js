#!/usr/bin/env node
// `npm run build`: dist/ from src/, afresh (tsc never deletes the output of a source that was
// moved or removed, and a package must not ship such leftovers).
//
// `--if-compiler` is for `prepare`, which npm runs after `npm ci` / `npm install` in a checkout,
// for a git dependency, and before `npm pack`: it builds when TypeScript is installed. A
// production install (`npm ci --omit=dev` on a built checkout, as the container image does) has
// no compiler and needs none, since dist/ is there: it says so and succeeds, instead of failing
// with "tsc: not found".
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = fileURLToPath(new URL('../dist', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

if (!existsSync(tsc)) {
  if (!process.argv.includes('--if-compiler')) {
    console.error('gatehouse build: TypeScript is not installed: run `npm ci` (with the dev dependencies) first');
    process.exit(1);
  }
  if (existsSync(new URL('../dist/main.js', import.meta.url))) {
    console.log('gatehouse: TypeScript is not installed (a production install): using the dist/ already built');
    process.exit(0);
  }
  console.error('gatehouse: dist/ is missing and TypeScript is not installed: run `npm ci` (with the dev dependencies) and `npm run build` first');
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
process.exit(built.status ?? 1);
