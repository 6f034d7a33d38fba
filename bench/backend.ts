// The benchmark's backend: HTTPS with a self-signed certificate (the gateway verifies it), a small
// JSON answer, keep-alive. Prints its port on stdout, then serves until killed. A third argument
// `2` opens a second port in the same process (printed as `second <port>`): two backends for an
// endpoint group that cost the machine no more than one.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

const [certPath, keyPath, ports = '1'] = process.argv.slice(2);
const body = JSON.stringify({ ok: true, service: 'bench backend', items: [1, 2, 3, 4, 5, 6, 7, 8] });
const options = { cert: readFileSync(certPath!), key: readFileSync(keyPath!), keepAliveTimeout: 60_000 };

function answer(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

// The count of TLS handshakes so far (of the first port), for the benchmark: a proxy should keep its connections.
let handshakes = 0;
const server = https.createServer(options, answer);
server.on('secureConnection', () => handshakes++);
process.on('SIGUSR2', () => process.stdout.write(`handshakes ${handshakes}\n`));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
  if (ports !== '2') return;
  const second = https.createServer(options, answer);
  second.listen(0, '127.0.0.1', () => process.stdout.write(`second ${(second.address() as AddressInfo).port}\n`));
});
