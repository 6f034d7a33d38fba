// The floor for the WebSocket benchmark: a TCP server that opens a verified TLS connection to the
// backend for each client connection and copies bytes both ways (Node's pipe, as the gateway does
// after the 101), nothing else: no HTTP parsing, no routing, no log. The handshake goes through it
// as bytes. Prints its port on stdout.
//
//   node --import tsx bench/minimal-tunnel.ts <backend port> <backend certificate>
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

const [port, caPath] = process.argv.slice(2);
const ca = readFileSync(caPath!);
const server = net.createServer({ noDelay: true }, (client) => {
  const backend = tls.connect({ host: '127.0.0.1', port: Number(port), ca, rejectUnauthorized: true });
  backend.setNoDelay(true);
  const close = () => {
    client.destroy();
    backend.destroy();
  };
  client.on('error', close).on('close', close);
  backend.on('error', close).on('close', close);
  client.pipe(backend);
  backend.pipe(client);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
