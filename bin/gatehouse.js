#!/usr/bin/env node
// The installed command. The TypeScript sources are compiled to dist/ by `npm run build`
// (which `npm install` runs through the `prepare` script).
import process from 'node:process';
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
