// What a command may touch of the process: streams, environment and working folder. Commands
// return an exit code; only main() hands it to the process.
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Exit codes (docs/operations.md): every command uses these three. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

/** node:util parseArgs, with its errors turned into usage errors (exit 2). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's text goes on about positionals after "--"; the first sentence is what matters.
    throw new UsageError((e as Error).message.split('. To specify')[0]);
  }
}

/** The configuration file a command works on: -c/--config against the working folder, and no stray arguments. */
export function configFileArg(io: CommandIo, config: string | undefined, positionals: readonly string[]): string {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (the file goes after -c)`);
  return configFile(io, config);
}

/**
 * The configuration file: -c when given, else $GATEHOUSE_CONFIG (how a container image names its
 * mounted file), else gateway.yaml in the current folder.
 */
export function configFile(io: CommandIo, config: string | undefined): string {
  return path.resolve(io.cwd, config ?? (io.env.GATEHOUSE_CONFIG || 'gateway.yaml'));
}

/** --format, one of `formats`. */
export function formatArg<F extends string>(value: string, formats: readonly F[]): F {
  if (!(formats as readonly string[]).includes(value)) throw new UsageError(`--format must be one of ${formats.join(', ')} (got "${value}")`);
  return value as F;
}
