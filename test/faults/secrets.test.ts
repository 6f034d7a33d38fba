// Secrets never leave the gateway: not in log lines, not in /status or /metrics, not in
// an error a client or an operator reads. A gateway runs with an admin token and a listener
// passphrase from the environment, serves and refuses requests that carry credentials, switches
// its own key from PEM to PKCS#12, rejects a reload whose broken values came from the
// environment; then everything it said is scanned for every secret it was given.
import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { createLogger, REDACTED_PATHS } from '../../src/log.js';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import type { Response } from '../helpers/client.js';
import { LogCapture, nextReload, startTestGateway } from '../helpers/gateway.js';
import { createCA, issue, pkcs12 } from '../helpers/pki.js';

const ca = createCA('Secrets Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'secrets.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });
const otherCA = createCA('Secrets Test Other CA', { keyIndex: 2 });
const otherLeaf = issue({ cn: 'secrets.test', sans: ['127.0.0.1'], issuer: otherCA, keyIndex: 3 });
const own = issue({ cn: 'gateway.secrets.test', sans: ['127.0.0.1'], keyIndex: 2 });

const TOKEN = 'adm-tok-7Hq2Vx9pL3mK8wQ';
const PASSPHRASE = 'pp-Zq7Xw3-listener-44Rt';
const COOKIE = 'sess-9d8c7b6a5f4e3d2c1b0a';
const BEARER = 'bearer-Kf83jd92Lq0PzXy';
const BAD = 'sk_live_51HxBADsecretValue9';
const URL_KEY = 'qk_7TgR2sWx0aPl';

/** The listener's key, PEM encrypted with the passphrase (as `openssl pkcs8 -topk8 -v2 aes256` writes it). */
const encryptedKeyPem = createPrivateKey(own.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }) as string;
const p12 = pkcs12(own, PASSPHRASE);
/** Base64 lines of a PEM body (between its BEGIN and END lines). */
const bodyLines = (pem: string) => pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));

const FORBIDDEN: readonly [string, string][] = [
  ['the admin token', TOKEN],
  ['the listener passphrase', PASSPHRASE],
  ['the cookie value', COOKIE],
  ['the Authorization value', BEARER],
  ['the Authorization header', `Bearer ${BEARER}`],
  ['a value from the environment (BAD)', BAD],
  ['a key in a URL from the environment', URL_KEY],
  ['a PEM private key', 'PRIVATE KEY'],
  ...bodyLines(own.keyPem).map((line, i): [string, string] => [`line ${i + 1} of the private key's base64 body`, line]),
  ...bodyLines(encryptedKeyPem).map((line, i): [string, string] => [`line ${i + 1} of the encrypted key's base64 body`, line]),
  ['the start of the PKCS#12 in base64', p12.toString('base64').slice(0, 40)],
];

/** Which secrets `text` contains (by name). */
const leaksIn = (text: string) => FORBIDDEN.filter(([, secret]) => text.includes(secret)).map(([name]) => name);

const env = { ADMIN_TOKEN: TOKEN, P: PASSPHRASE, BAD, KEYED_URL: `https://127.0.0.1:9/x?key=${URL_KEY}` };

const config = (shop: string, untrusted: string, extra = '') => `version: 1
listen: { http: "127.0.0.1:0", https: { address: "127.0.0.1:0", certificate: gateway, passphrase: "\${P}" } }
admin: { address: "127.0.0.1:0", token: "\${ADMIN_TOKEN}" }
reload: { interval: 200ms }
apis:
  - { name: Shop, context: /shop, version: v1, endpoints: { production: { url: "${shop}", certificate: shop-ca${extra} } } }
  - { name: Untrusted, context: /untrusted, version: v1, endpoints: { production: { url: "${untrusted}", certificate: shop-ca } } }
  - { name: Later, context: /later, version: v1, endpoints: { production: { url: "${shop}", certificate: later-ca } } }
`;

/** A request over the gateway's HTTPS listener, verifying its certificate. */
async function httpsRequest(url: string, headers: Record<string, string>): Promise<Response> {
  const req = https.request(url, { ca: own.certPem, headers, agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8') };
}

t.test('no secret in any log line, /status, /metrics or error body', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const untrusted = await startBackend(t, { certificate: otherLeaf });
  const good = config(backend.url, untrusted.url);
  const gw = await startTestGateway(t, good, { certs: { 'shop-ca.crt': ca.certPem, 'gateway.crt': own.certPem, 'gateway.key': encryptedKeyPem } }, { env });
  chmodSync(path.join(gw.dir, 'certs', 'gateway.key'), 0o600);
  t.ok(gw.httpsUrl, 'the HTTPS listener runs with the encrypted PEM key');

  /** Bodies of every refusal, by request. */
  const errorBodies: [string, string][] = [];
  const requestIds: string[] = [];
  let n = 0;
  const credentials = () => {
    const id = `secrets-${++n}`;
    requestIds.push(id);
    return { authorization: `Bearer ${BEARER}`, cookie: `session=${COOKIE}; theme=dark`, 'x-request-id': id };
  };
  const send = async (base: string, target: string, expected: number, code?: string) => {
    const res = base.startsWith('https:') ? await httpsRequest(`${base}${target}`, credentials()) : await request(`${base}${target}`, { headers: credentials() });
    t.equal(res.status, expected, `${base.slice(0, 5)} ${target}: ${expected}`);
    if (code) t.match(res.text, `"code":"${code}"`, `${target}: ${code}`);
    if (res.status >= 400) errorBodies.push([`${base} ${target}`, res.text]);
    return res;
  };
  const exercise = async (base: string) => {
    const ok = await send(base, '/shop/v1/items?page=2', 200);
    t.match(ok.text, COOKIE, 'the backend did receive the cookie: credentials pass through untouched');
    await send(base, '/untrusted/v1/x', 502, 'BACKEND_TLS_UNTRUSTED');
    await send(base, '/later/v1/x', 503, 'CERTIFICATE_PENDING');
    await send(base, '/nowhere', 404, 'NO_ROUTE');
    await send(base, '/shop/v1/a%2Fb', 400, 'INVALID_PATH');
  };
  await exercise(gw.url);
  await exercise(gw.httpsUrl!);

  // The listener switches to a PKCS#12 with the same passphrase (dropped in whole, then picked up).
  const staging = path.join(gw.dir, '.gateway.p12');
  writeFileSync(staging, p12, { mode: 0o600 });
  const switched = nextReload(gw.gateway, 'applied');
  renameSync(staging, path.join(gw.dir, 'certs', 'gateway.p12'));
  await switched;
  t.equal(gw.gateway.holder.current.config.listen.https!.credentials.kind, 'pfx', 'now served from the PKCS#12');
  await exercise(gw.httpsUrl!);

  // Reloads whose broken values came from the environment: quoted as written, never expanded. One
  // fails the schema (a duration), one a rule (a URL with a query, checked after the schema).
  const rejections: string[] = [];
  for (const [name, broken, expected] of [
    ['a duration', config(backend.url, untrusted.url, ', timeouts: { connect: "${BAD}" }'), /^apis\[0\]\.endpoints\.production\.timeouts\.connect: must be a duration like .* \(got "\$\{BAD\}"\)  \[CONFIG_INVALID_VALUE\]$/],
    ['a URL', config(backend.url, '${KEYED_URL}'), /^apis\[1\]\.endpoints\.production\.url: must not have a query or a fragment \(got "\$\{KEYED_URL\}"\); the client's query string is passed on  \[CONFIG_URL\]$/],
  ] as const) {
    const rejected = nextReload(gw.gateway, 'rejected');
    writeFileSync(path.join(gw.dir, 'gateway.yaml'), broken);
    const outcome = await rejected;
    const messages = outcome.diagnostics.map((d) => `${d.path}: ${d.message}  [${d.code}]`);
    t.match(messages, [expected], `${name} from the environment: the error quotes the reference as written`);
    t.equal(messages.length, 1, `${name}: one error`);
    rejections.push(...outcome.diagnostics.map((d) => JSON.stringify(d)));
    await send(gw.url, '/shop/v1/after-rejection', 200);
  }
  const restored = Promise.race([nextReload(gw.gateway, 'unchanged'), nextReload(gw.gateway, 'applied')]);
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), good);
  await restored;
  // The last rejection stays in /status: break it once more, with the duration.
  const last = nextReload(gw.gateway, 'rejected');
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(backend.url, untrusted.url, ', timeouts: { connect: "${BAD}" }'));
  await last;

  // The admin address: with the token, without it, and with a wrong one.
  const admin = (target: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }, method = 'GET') => request(`${gw.adminUrl}${target}`, { headers, method });
  const status = await admin('/status');
  t.equal(status.status, 200);
  t.match(status.text, /"result": ?"rejected"/, '/status shows the last rejected reload');
  t.match(status.text, '${BAD}', '/status quotes the reference');
  const metrics = await admin('/metrics');
  t.equal(metrics.status, 200);
  const reload = await admin('/reload', { authorization: `Bearer ${TOKEN}` }, 'POST');
  t.equal(reload.status, 422, 'POST /reload reports the rejection (the file is still broken)');
  t.match(reload.text, '${BAD}', 'quoting the reference');
  const adminBodies: [string, Response][] = [
    ['/status', status],
    ['/metrics', metrics],
    ['POST /reload', reload],
    ['/status without a token', await admin('/status', {})],
    ['/status with a wrong token', await admin('/status', { authorization: `Bearer ${TOKEN.slice(0, -1)}x` })],
    ['/status with the cookie and request credentials', await admin('/status', { authorization: `Bearer ${BEARER}`, cookie: `session=${COOKIE}` })],
  ];
  t.equal(adminBodies[3]![1].status, 401);
  t.equal(adminBodies[4]![1].status, 401);

  // Every access line is written (they are batched) before the logs are read.
  for (const id of requestIds) await gw.logs.request(id);

  const scans: [string, readonly string[]][] = [
    ['log lines', gw.logs.raw],
    ['error response bodies', errorBodies.map(([, body]) => body)],
    ['admin responses', adminBodies.map(([, res]) => res.text)],
    ['reload diagnostics', rejections],
  ];
  for (const [name, texts] of scans) {
    const found = texts.flatMap((text, i) => leaksIn(text).map((secret) => `${name}[${i}]: ${secret}`));
    t.same(found, [], `${name}: no secret in ${texts.length} texts`);
  }
  t.ok(gw.logs.raw.length >= 25, `the log scan covered ${gw.logs.raw.length} lines`);
  t.ok(gw.logs.lines.filter((l) => l.msg === 'request').length >= requestIds.length, 'including an access line per request');
  t.ok(gw.logs.find((l) => l.msg.startsWith('configuration rejected')), 'including the rejection');
  t.ok(gw.logs.find((l) => l.msg === 'configuration applied'), 'including an applied reload');
  t.ok(errorBodies.length >= 12, `the error body scan covered ${errorBodies.length} bodies`);
  t.ok(status.text.length > 1_000, `the /status scan covered ${status.text.length} characters`);
  t.ok(metrics.text.split('\n').length > 50, 'the /metrics scan covered the whole exposition');
});

t.test('the logger redacts secrets by path (REDACTED_PATHS), in the root and in child loggers', async (t) => {
  const capture = new LogCapture();
  const logger = createLogger({ destination: capture, level: 'debug' });
  logger.info({ headers: { authorization: `Bearer ${BEARER}`, cookie: `session=${COOKIE}`, 'set-cookie': [`session=${COOKIE}`], accept: 'text/plain' } }, 'request headers');
  logger.info({ token: TOKEN, passphrase: PASSPHRASE, authorization: BEARER, cookie: COOKIE }, 'top-level secrets');
  logger.info({ admin: { token: TOKEN }, https: { passphrase: PASSPHRASE }, upstream: { authorization: BEARER, cookie: COOKIE } }, 'nested secrets');
  logger.child({ component: 'proxy' }).warn({ headers: { authorization: `Bearer ${BEARER}` } }, 'from a child logger');
  logger.flush();
  await capture.waitFor((l) => l.msg === 'from a child logger');

  t.equal(capture.lines.length, 4);
  t.same(capture.lines[0]!.headers, { authorization: '[redacted]', cookie: '[redacted]', 'set-cookie': '[redacted]', accept: 'text/plain' }, 'headers');
  t.match(capture.lines[1], { token: '[redacted]', passphrase: '[redacted]', authorization: '[redacted]', cookie: '[redacted]' }, 'top level');
  t.match(capture.lines[2], { admin: { token: '[redacted]' }, https: { passphrase: '[redacted]' }, upstream: { authorization: '[redacted]', cookie: '[redacted]' } }, 'one level down');
  t.match(capture.lines[3], { component: 'proxy', headers: { authorization: '[redacted]' } }, 'child loggers');
  t.same(capture.raw.flatMap((line) => leaksIn(line)), [], 'no secret in any raw line');
  t.ok(REDACTED_PATHS.includes('headers.authorization') && REDACTED_PATHS.includes('headers.cookie'), 'the paths name the credential headers');
});

t.test('every rule quotes a value from the environment as written, never expanded', async (t) => {
  const { loadFixture } = await import('../helpers/workspace.js');
  const api = (endpoint: string, more = '') => `apis:\n  - { name: A, context: /a, version: v1${more}, endpoints: { production: ${endpoint} } }\n`;
  const cases: [string, string, RegExp][] = [
    ['a URL with a query', api('{ url: "${S}" }'), /^must not have a query or a fragment \(got "\$\{S\}"\)/],
    ['a URL that is no URL', api('{ url: "${S}" }'), /^must be an absolute http:\/\/ or https:\/\/ URL .*\(got "\$\{S\}"\)$/],
    ['a URL of another scheme', api('{ url: "${S}" }'), /^must use http:\/\/ or https:\/\/ \(got "\$\{S\}"\)$/],
    ['a URL built from parts', api('{ url: "https://h.internal/${S}?k=1" }'), /^must not have a query or a fragment \(got "https:\/\/h\.internal\/\$\{S\}\?k=1"\)/],
    ['a connect timeout above the socket timeout', api('{ url: "https://h.internal", timeouts: { connect: "${S}", socket: 1s } }'), /^connect timeout "\$\{S\}" is above the socket timeout "1s"/],
    ['ciphers', `defaults: { tls: { ciphers: "\${S}" } }\n${api('{ url: "https://h.internal" }')}`, /^OpenSSL matches no cipher in "\$\{S\}"; check it with `openssl ciphers -v '\$\{S\}'`$/],
    ['a listener port', `listen: { http: "\${S}" }\n${api('{ url: "https://h.internal" }')}`, /^port must be from 0 to 65535 \(got "\$\{S\}"\)$/],
    ['a trusted proxy', `listen: { trustedProxies: ["\${S}"] }\n${api('{ url: "https://h.internal" }')}`, /"\$\{S\}" is not an IP address or a CIDR range/],
    ['a resource path', api('{ url: "https://h.internal" }', ', resources: [ { path: "/${S}//x", methods: [GET] } ]'), /\(got "\/\$\{S\}\/\/x"; expected a template/],
  ];
  const values = [
    `https://h.internal/x?key=${URL_KEY}`,
    `${URL_KEY}-not-a-url`,
    `ftp://${URL_KEY}.internal/`,
    `${URL_KEY}`,
    '987654321',
    `${URL_KEY}-cipher`,
    '127.0.0.1:99999',
    `${URL_KEY}-proxy`,
    `${URL_KEY}`,
  ];
  for (const [i, [name, body, expected]] of cases.entries()) {
    const secret = values[i]!;
    const loaded = await loadFixture(t, { 'gateway.yaml': `version: 1\n${body}`, certs: {} }, { env: { S: secret } });
    const messages = loaded.diagnostics.map((d) => d.message);
    t.ok(messages.some((m) => expected.test(m)), `${name}: quoted as written (${messages.join(' | ')})`);
    t.notOk(messages.some((m) => m.includes(secret)), `${name}: the expanded value is not in any message`);
  }
});
