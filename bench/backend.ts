// The benchmark's backend: HTTPS with a self-signed certificate (the gateway verifies it), a small
// JSON answer, keep-alive. Prints its port on stdout, then serves until killed.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

const [certPath, keyPath] = process.argv.slice(2);
const body = JSON.stringify({ ok: true, service: 'bench backend', items: [1, 2, 3, 4, 5, 6, 7, 8] });

const server = https.createServer({ cert: readFileSync(certPath!), key: readFileSync(keyPath!), keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
let handshakes = 0;
server.on('secureConnection', () => handshakes++);
// The count of TLS handshakes so far, for the benchmark (a proxy should keep its connections).
process.on('SIGUSR2', () => process.stdout.write(`handshakes ${handshakes}\n`));
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
