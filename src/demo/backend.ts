// The demo backend behind the bundled gateway.yaml: a small HTTPS echo service with a
// self-signed certificate, generated on first start. Its certificate is copied into the
// gateway's certificates folder as <alias>.crt, which is all the gateway needs to trust it; its
// private key stays in .gatehouse/ (never in the certificates folder).
import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import type { Logger } from '../log.js';

export interface DemoBackendOptions {
  readonly host: string;
  readonly port: number;
  /** The gateway's certificates folder, where <alias>.crt is written. */
  readonly certsDirectory: string;
  readonly alias: string;
  /** Where the demo's own key and certificate are kept. */
  readonly stateDirectory: string;
  readonly logger: Logger;
}

export interface DemoBackend {
  readonly address: AddressInfo;
  readonly certificatePath: string;
  close(): Promise<void>;
}

const VALIDITY_DAYS = 825;
const RENEW_WHEN_DAYS_LEFT = 7;

/** The demo's key and certificate: reused while valid, else made anew (self-signed, 127.0.0.1 and localhost). */
export function ensureDemoCertificate(stateDirectory: string): { cert: string; key: string; created: boolean } {
  const certPath = path.join(stateDirectory, 'demo-backend.crt');
  const keyPath = path.join(stateDirectory, 'demo-backend.key');
  try {
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    const x509 = new X509Certificate(cert);
    if (Date.parse(x509.validTo) - Date.now() > RENEW_WHEN_DAYS_LEFT * 86_400_000) return { cert, key, created: false };
  } catch {
    // Absent or unreadable: make a new one.
  }
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  certificate.serialNumber = '01' + randomBytes(8).toString('hex');
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + VALIDITY_DAYS * 86_400_000);
  const name = [{ name: 'commonName', value: 'Gatehouse demo backend' }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
  ]);
  certificate.sign(key, forge.md.sha256.create());
  const cert = forge.pki.certificateToPem(certificate);
  mkdirSync(stateDirectory, { recursive: true });
  writeFileSync(keyPath, privateKey, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(certPath, cert);
  return { cert, key: privateKey, created: true };
}

export async function startDemoBackend(options: DemoBackendOptions): Promise<DemoBackend> {
  const { cert, key, created } = ensureDemoCertificate(options.stateDirectory);
  mkdirSync(options.certsDirectory, { recursive: true });
  const certificatePath = path.join(options.certsDirectory, `${options.alias}.crt`);
  let current: string | undefined;
  try {
    current = readFileSync(certificatePath, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== cert) writeFileSync(certificatePath, cert);

  const server = https.createServer({ cert, key }, (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const preview: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      if (bytes < 4096) preview.push(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://demo');
      const text = Buffer.concat(preview).toString('utf8', 0, Math.min(bytes, 4096));
      const body = JSON.stringify(
        {
          message: 'Hello from the Gatehouse demo backend, reached over TLS that the gateway verified.',
          method: req.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body: bytes === 0 ? null : { bytes, sha256: hash.digest('hex'), text },
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body + '\n');
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  options.logger.info(
    {
      url: `https://${options.host}:${address.port}`,
      certificate: certificatePath,
      fingerprint256: new X509Certificate(cert).fingerprint256,
      created,
    },
    'demo backend listening',
  );
  options.logger.flush();
  return {
    address,
    certificatePath,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
