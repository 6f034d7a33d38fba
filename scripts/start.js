#!/usr/bin/env node
// `npm start`: the demo backend, then the gateway on the bundled gateway.yaml, in one terminal.
// The backend writes its certificate to certs/demo.crt before it listens; the gateway starts once
// it does, so it trusts the certificate from its first request.
//
// This wrapper stands between npm and the gateway, so it must not swallow what is meant for it:
// SIGTERM, SIGINT and SIGHUP are passed on to the gateway (SIGHUP reloads it; the first two stop
// both processes), and the wrapper exits with the gateway's exit code. Each child also has an IPC
// channel to this process: if the wrapper dies without passing a signal on (SIGKILL), the channel
// closes and the gateway stops gracefully instead of being orphaned with its ports. And when npm,
// above it, exits on a signal without passing it on, the wrapper sees its parent change and stops.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
const extra = process.argv.slice(2);

// dist/ is built by `npm ci` (the prepare script) and by `npm test`; after editing src/, `npm run build`.
if (!existsSync(new URL('../dist/main.js', import.meta.url))) {
  console.error('gatehouse: dist/ is not built: run `npm run build` first');
  process.exit(1);
}

const backend = spawn(process.execPath, [bin, 'demo-backend', '--pretty'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
let gateway;
let stopping = false;

backend.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!gateway && !stopping && chunk.toString().includes('demo backend listening')) {
    gateway = spawn(process.execPath, [bin, 'run', '--pretty', ...extra], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    process.stdout.write('\n  Try: curl http://127.0.0.1:8280/demo/1.0.0/hello\n\n');
    gateway.on('exit', (code, signal) => {
      if (backend.exitCode === null) backend.kill('SIGTERM');
      process.exitCode = code ?? (signal ? 128 + signalNumber(signal) : 1);
    });
  }
});
backend.on('exit', (code) => {
  if (!gateway) process.exitCode = code ?? 1;
  else if (gateway.exitCode === null) gateway.kill('SIGTERM');
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (signal === 'SIGHUP') {
      // A reload of the gateway; the demo backend has nothing to reload.
      gateway?.kill(signal);
      return;
    }
    stopping = true;
    gateway?.kill(signal);
    // The backend stops after the gateway (its requests in flight are the gateway's).
    if (!gateway || gateway.exitCode !== null) backend.kill(signal);
  });
}

// npm itself does not pass SIGTERM or SIGHUP on to its script: it exits, and this process would
// be reparented and run on with its children and their ports. So when it is gone, stop as on Ctrl-C.
const { startedByNpm, watchParent } = await import('../dist/cli/parent.js');
if (startedByNpm()) {
  watchParent(() => {
    if (stopping) return;
    process.stderr.write('npm start: npm, which started this script, is gone: stopping the gateway and the demo backend\n');
    process.emit('SIGINT', 'SIGINT');
  });
}

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 0;
}
