#!/usr/bin/env node
// `npm start`: the demo backend, then the gateway on the bundled gateway.yaml, in one terminal.
// The backend writes its certificate to certs/demo.crt before it listens; the gateway starts once
// it does, so it trusts the certificate from its first request. Ctrl-C stops both.
import { spawn } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
const extra = process.argv.slice(2);

const backend = spawn(process.execPath, [bin, 'demo-backend', '--pretty'], { stdio: ['ignore', 'pipe', 'inherit'] });
let gateway;

backend.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!gateway && chunk.toString().includes('demo backend listening')) {
    gateway = spawn(process.execPath, [bin, 'run', '--pretty', ...extra], { stdio: 'inherit' });
    gateway.on('exit', (code) => {
      backend.kill('SIGTERM');
      process.exitCode = code ?? 1;
    });
    process.stdout.write('\n  Try: curl http://127.0.0.1:8280/demo/1.0.0/hello\n\n');
  }
});
backend.on('exit', (code) => {
  if (!gateway) process.exitCode = code ?? 1;
  else if (gateway.exitCode === null) gateway.kill('SIGTERM');
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    gateway?.kill(signal);
    backend.kill(signal);
  });
}
