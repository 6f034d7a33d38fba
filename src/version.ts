// The version of this Gatehouse (package.json's), read once: -v, gatehouse_build_info, the
// tracing resource. src/version.ts and dist/version.js both sit one folder below package.json.
import { readFileSync } from 'node:fs';

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
