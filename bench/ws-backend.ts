// The WebSocket benchmark's backend: a wss echo server (the `ws` library over HTTPS with a
// self-signed certificate, which the gateway verifies). Prints its port on stdout, then echoes
// every message until killed.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const [certPath, keyPath] = process.argv.slice(2);
const server = https.createServer({ cert: readFileSync(certPath!), key: readFileSync(keyPath!) });
const sockets = new WebSocketServer({ server, perMessageDeflate: false });
sockets.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
