// A configuration and its certificates folder in a real temporary folder (tap's testdir, removed
// after the test), loaded through the real pipeline.
import path from 'node:path';
import type { Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import type { LoadResult } from '../../src/config/load.js';
import { formatText } from '../../src/diagnostics.js';

export type Fixture = Record<string, unknown>;

export interface Loaded extends LoadResult {
  readonly dir: string;
  /** The diagnostics as `gatehouse validate` prints them, paths relative to the folder. */
  readonly text: string;
}

export async function loadFixture(
  t: Test,
  files: Fixture,
  options: { env?: Record<string, string>; nowMs?: number; config?: string } = {},
): Promise<Loaded> {
  const dir = t.testdir(files as Parameters<Test['testdir']>[0]);
  const result = await loadConfig(path.join(dir, options.config ?? 'gateway.yaml'), {
    env: options.env ?? {},
    ...(options.nowMs !== undefined ? { nowMs: options.nowMs } : {}),
  });
  return { ...result, dir, text: formatText(result.diagnostics, dir) };
}

/** A minimal valid configuration with one API whose production endpoint is `endpoint` (YAML flow map). */
export function oneApi(endpoint: string, extra = ''): string {
  return `version: 1
${extra}apis:
  - name: Shop
    context: /shop
    version: "1.0"
    endpoints:
      production: ${endpoint}
`;
}
