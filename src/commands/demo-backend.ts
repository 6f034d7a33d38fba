// gatehouse demo-backend [--port 9443] [--host 127.0.0.1] [--certs ./certs] [--alias demo]
// The HTTPS echo service behind the bundled gateway.yaml (see src/demo/backend.ts).
import path from 'node:path';
import { EXIT_OK, UsageError, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { startDemoBackend } from '../demo/backend.js';
import { createLogger } from '../log.js';

export const DEMO_BACKEND_USAGE = `Usage: gatehouse demo-backend [--port 9443] [--host 127.0.0.1] [--certs ./certs] [--alias demo] [--pretty]

An HTTPS echo service with a self-signed certificate, made on first start and kept in .gatehouse/.
The certificate is written to <certs>/<alias>.crt, where the bundled gateway.yaml trusts it.
`;

export async function demoBackendCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    port: { type: 'string', default: '9443' },
    host: { type: 'string', default: '127.0.0.1' },
    certs: { type: 'string', default: 'certs' },
    alias: { type: 'string', default: 'demo' },
    pretty: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (got "${values.port}")`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(values.alias)) throw new UsageError(`--alias must be a certificate alias (got "${values.alias}")`);

  const logger = createLogger({ pretty: values.pretty });
  const backend = await startDemoBackend({
    host: values.host,
    port,
    certsDirectory: path.resolve(io.cwd, values.certs),
    alias: values.alias,
    stateDirectory: path.resolve(io.cwd, '.gatehouse'),
    logger,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    // Started by `npm start`'s wrapper with an IPC channel: stop with it rather than be orphaned.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', resolve);
    }
  });
  await backend.close();
  logger.flush();
  return EXIT_OK;
}
