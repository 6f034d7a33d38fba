#!/usr/bin/env node
// `npm start`: the demo backend, then the gateway on the bundled gateway.yaml, in one terminal.
// The backend writes its certificate to certs/demo.crt before it listens; the gateway starts once
// it does, so it trusts the certificate from its first request.
//
// This wrapper stands between npm and the gateway, so it must not swallow what is meant for it:
// SIGTERM, SIGINT and SIGHUP are passed on to the gateway (SIGHUP reloads it; the first two stop
// both processes), and the wrapper exits with the gateway's exit code. Each child also has an IPC
// channel to this process: if the wrapper dies without passing a signal on (SIGKILL, or npm
// killed by a signal it does not forward), the channel closes and the gateway stops gracefully
// instead of being orphaned with its ports.
import { spawn, spawnSync } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
const extra = process.argv.slice(2);

// In a checkout with the compiler, build first so that `npm start` runs the sources as they are;
// a production install runs the dist/ it carries.
const built = spawnSync(process.execPath, [fileURLToPath(new URL('build.js', import.meta.url)), '--if-compiler'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

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

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 0;
}
