#!/usr/bin/env node
// The installed command. The TypeScript sources are compiled to dist/ by `npm run build`
// (which `npm install` runs through the `prepare` script).
import process from 'node:process';
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
// The command is over: nothing still pending (a log write a stuck file system holds in the
// kernel, say) may keep a stopped gateway's process alive. Unref'd: a clean exit is not delayed.
setTimeout(() => process.exit(), 5_000).unref();
