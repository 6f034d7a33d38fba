// Bearer JWTs (SPEC §11, docs/security.md) against real backends that record what they receive.
// Keys are made and tokens signed at test time (jose). A JWKS file beside the configuration, and
// a JWKS served over HTTPS by a private CA's certificate; every refusal: expired, not yet valid,
// wrong issuer and audience, bad signature, alg none, HMAC, unknown kid then a rotation, no exp;
// the token's keytype claim choosing the endpoint whatever the headers say.
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import t from 'tap';
import type { Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import { parsePrometheus, select } from '../helpers/prometheus.js';
import { until, untilAsync } from '../helpers/wait.js';

const ISSUER = 'https://idp.test/';

interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(kid: string, alg: 'ES256' | 'RS256' | 'EdDSA'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const es = await signingKey('es-1', 'ES256');
const rs = await signingKey('rs-1', 'RS256');
const rotated = await signingKey('es-2', 'ES256');
/** Same kid as `es`, another key: its signatures do not verify. */
const impostor = await signingKey('es-1', 'ES256');

const jwks = (...keys: SigningKey[]) => JSON.stringify({ keys: keys.map((k) => k.jwk) }, null, 2);

const now = () => Math.floor(Date.now() / 1000);

function sign(key: SigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: 'orders', sub: 'alice', exp: now() + 300, iat: now(), ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

const gatewayYaml = (prod: string, sand: string, jwt = 'jwks: ./jwks.json') => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: 100ms }
defaults:
  security:
    jwt: { issuer: "${ISSUER}", audience: orders, keyTypeClaim: keytype, ${jwt} }
apis:
  - { name: Orders, context: /orders, version: v1, endpoints: { production: { url: "${prod}" }, sandbox: { url: "${sand}" } } }
  - { name: Reports, context: /reports, version: v1, endpoints: { production: { url: "${prod}" } } }
`;

async function setup(t: Test, files: Record<string, string> = { 'jwks.json': jwks(es, rs) }) {
  const prod = await startBackend(t, { handler: (_req, res) => res.end('production') });
  const sand = await startBackend(t, { handler: (_req, res) => res.end('sandbox') });
  const gw = await startTestGateway(t, gatewayYaml(prod.url, sand.url), files);
  return { prod, sand, gw };
}

const errorOf = (res: { text: string }) => (JSON.parse(res.text) as { error: { code: string; message: string } }).error;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t.test('a valid token reaches production; the token never reaches the backend nor the log, its iss and sub are logged', async (t) => {
  const { prod, gw } = await setup(t);
  for (const key of [es, rs]) {
    const token = await sign(key);
    const res = await request(`${gw.url}/orders/v1/items`, { headers: { ...bearer(token), 'x-request-id': `jwt-${key.kid}` } });
    t.equal(res.status, 200, `${key.alg}: 200`);
    t.equal(res.text, 'production');
    const received = prod.requests.at(-1)!;
    t.notOk('authorization' in received.headers, 'Authorization was removed before the backend');
    t.notOk(received.rawHeaders.some((h) => h.includes(token)), 'the token appears nowhere in what the backend received');
    const line = await gw.logs.request(`jwt-${key.kid}`);
    t.same(line.jwt, { iss: ISSUER, sub: 'alice' }, 'the access line names the token by iss and sub');
    t.notOk(JSON.stringify(gw.logs.lines).includes(token.split('.')[2]!), 'no log line holds the token');
  }
  // "bearer" is case-insensitive (RFC 9110 §11.1).
  const res = await request(`${gw.url}/orders/v1/items`, { headers: { authorization: `bearer ${await sign(es)}` } });
  t.equal(res.status, 200, 'the scheme is case-insensitive');
});

t.test("the token's keytype chooses the endpoint whatever the headers say; a sandbox token on an API without sandbox is refused", async (t) => {
  const { prod, sand, gw } = await setup(t);
  const sandboxToken = await sign(es, { keytype: 'SANDBOX' });
  const res = await request(`${gw.url}/orders/v1/items`, { headers: { ...bearer(sandboxToken), 'x-gatehouse-environment': 'production' } });
  t.equal(res.status, 200);
  t.equal(res.text, 'sandbox', 'a sandbox token goes to sandbox, whatever X-Gatehouse-Environment says');
  const productionToken = await sign(es, { keytype: 'PRODUCTION' });
  const asked = await request(`${gw.url}/orders/v1/items`, { headers: { ...bearer(productionToken), 'x-gatehouse-environment': 'sandbox' } });
  t.equal(asked.text, 'production', 'a production token goes to production, whatever the header asks');
  const before = prod.requests.length;
  const refused = await request(`${gw.url}/reports/v1/all`, { headers: bearer(sandboxToken) });
  t.equal(refused.status, 403);
  t.equal(errorOf(refused).code, 'FORBIDDEN');
  t.match(errorOf(refused).message, /SANDBOX.*no sandbox endpoint.*never sent to production/);
  t.equal(prod.requests.length, before, 'never sent to production instead');
  const odd = await request(`${gw.url}/orders/v1/items`, { headers: bearer(await sign(es, { keytype: 'STAGING' })) });
  t.equal(odd.status, 403, 'a keytype other than PRODUCTION or SANDBOX is refused');
  t.match(errorOf(odd).message, /keytype claim is "STAGING": it must be PRODUCTION or SANDBOX/);
  t.equal(sand.requests.length, 1);
});

t.test('401 UNAUTHENTICATED for every token that does not verify, with a Bearer challenge that says why', async (t) => {
  const { prod, gw } = await setup(t);
  const hmac = await new SignJWT({ iss: ISSUER, aud: 'orders', exp: now() + 300 }).setProtectedHeader({ alg: 'HS256', kid: 'es-1' }).sign(new TextEncoder().encode('a shared secret of 32 bytes long!'));
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: 'orders', sub: 'mallory', exp: now() + 300 })}.`;
  const good = await sign(es);
  const [h, p] = good.split('.');
  const tampered = `${h}.${b64({ iss: ISSUER, aud: 'orders', sub: 'mallory', exp: now() + 300 })}.${good.split('.')[2]}`;
  const cases: [string, Record<string, string | string[]>, RegExp][] = [
    ['no token', {}, /requires a bearer token: Authorization: Bearer <token>/],
    ['Basic credentials', { authorization: 'Basic YWxpY2U6c2VjcmV0' }, /holds no bearer token/],
    ['two tokens', { authorization: [`Bearer ${good}`, `Bearer ${good}`] }, /more than one Authorization header/],
    ['expired', bearer(await sign(es, { exp: now() - 120 })), /the token expired at \d{4}-/],
    ['not yet valid', bearer(await sign(es, { nbf: now() + 600 })), /not valid before \d{4}-/],
    ['another issuer', bearer(await sign(es, { iss: 'https://evil.test/' })), /issuer is "https:\/\/evil.test\/", not "https:\/\/idp.test\/"/],
    ['another audience', bearer(await sign(es, { aud: 'billing' })), /audience is "billing": it must be "orders"/],
    ['no exp', bearer(await sign(es, { exp: undefined })), /no exp claim: a token that never expires is refused/],
    ['a bad signature (same kid, another key)', bearer(await sign(impostor)), /signature does not verify/],
    ['claims changed after signing', bearer(tampered), /signature does not verify/],
    ['alg none', bearer(unsigned), /algorithm "none" is not accepted/],
    ['HMAC', bearer(hmac), /algorithm "HS256" is not accepted/],
    ['an unknown kid', bearer(await sign(rotated)), /no key of the issuer's key set matches the token \(kid "es-2"\)/],
    ['not a JWT', bearer('not.a.jwt'), /not a valid JWT/],
  ];
  t.ok(p, 'the good token has a payload');
  for (const [n, [what, headers, message]] of cases.entries()) {
    const res = await request(`${gw.url}/orders/v1/items`, { headers: { ...headers, 'x-request-id': `case-${n}` } });
    t.equal(res.status, 401, `${what}: 401`);
    t.equal(errorOf(res).code, 'UNAUTHENTICATED', what);
    t.match(errorOf(res).message, message, `${what}: the message says why`);
    const challenge = res.headers['www-authenticate'] as string;
    if (what === 'no token' || what === 'Basic credentials' || what === 'two tokens') t.equal(challenge, 'Bearer realm="Orders"', `${what}: no error code without a token (RFC 6750 §3.1)`);
    else t.match(challenge, /^Bearer realm="Orders", error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]+"$/, `${what}: the challenge says invalid_token, in RFC 6750's characters`);
  }
  t.equal(prod.requests.length, 0, 'nothing reached the backend');
  const expiredLine = await gw.logs.request(`case-${cases.findIndex(([what]) => what === 'expired')}`);
  t.same(expiredLine.jwt, { iss: ISSUER, sub: 'alice' }, 'a token refused for a claim, after its signature verified, is named in the log');
  const tamperedLine = await gw.logs.request(`case-${cases.findIndex(([what]) => what === 'claims changed after signing')}`);
  t.equal(tamperedLine.jwt, undefined, 'claims of a token whose signature failed are never logged');
  t.notOk(gw.logs.lines.some((l) => JSON.stringify(l).includes('mallory')), 'nor anywhere else');

  const metrics = parsePrometheus((await request(`${gw.adminUrl}/metrics`)).text);
  const unauthenticated = select(metrics, 'gatehouse_auth_requests_total', { api: 'Orders', outcome: 'unauthenticated' });
  t.equal(unauthenticated[0]?.value, cases.length, 'every refusal counted');
});

t.test('clockTolerance lets a token just expired by a clock that runs ahead through; 0s does not', async (t) => {
  const { gw } = await setup(t);
  const justExpired = await sign(es, { exp: now() - 10 });
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(justExpired) })).status, 200, 'within the default 30 s');
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), readFileSync(path.join(gw.dir, 'gateway.yaml'), 'utf8').replace('keyTypeClaim: keytype,', 'keyTypeClaim: keytype, clockTolerance: 0s,'));
  await gw.gateway.reloader.reloadNow('test');
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(justExpired) })).status, 401, 'clockTolerance: 0s');
  // A token verified once is remembered (its signature is not checked again), but its expiry still counts.
  const shortLived = await sign(es, { exp: now() + 2 });
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(shortLived) })).status, 200, 'valid for 2 s');
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(shortLived) })).status, 200, 'and again, remembered');
  await new Promise((resolve) => setTimeout(resolve, 3_100));
  const late = await request(`${gw.url}/orders/v1/items`, { headers: bearer(shortLived) });
  t.equal(late.status, 401, 'a remembered token expires all the same');
  t.match(errorOf(late).message, /the token expired at/);
});

t.test('a JWKS file rotated: a new kid is refused until the file holds it, and accepted after the reload, under load', async (t) => {
  const { gw } = await setup(t);
  const oldToken = await sign(es);
  const newToken = await sign(rotated);
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(newToken) })).status, 401, 'the new kid is unknown');
  let failures = 0;
  let sent = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      sent++;
      const res = await request(`${gw.url}/orders/v1/items`, { headers: bearer(oldToken) });
      if (res.status !== 200) failures++;
    }
  })();
  writeFileSync(path.join(gw.dir, 'jwks.json'), jwks(es, rotated));
  await untilAsync(async () => (await request(`${gw.url}/orders/v1/items`, { headers: bearer(newToken) })).status === 200, 'the rotated key is accepted');
  running = false;
  await load;
  t.ok(sent > 5, `requests ran during the rotation (${sent})`);
  t.equal(failures, 0, 'a token of the key kept never failed during the reload');
  writeFileSync(path.join(gw.dir, 'jwks.json'), jwks(rotated));
  await untilAsync(async () => (await request(`${gw.url}/orders/v1/items`, { headers: bearer(oldToken) })).status === 401, 'the removed key is refused');
});

/** A JWKS over HTTPS, by a leaf of a private CA: `keys` is what it serves now; `down` makes it answer 503. */
async function startIdp(t: Test) {
  const ca = createCA('IdP Test CA');
  const leaf = issue({ cn: 'idp.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 2 });
  const state = { keys: [es], status: 200, fetches: 0 };
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => {
    state.fetches++;
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(state.status === 200 ? jwks(...state.keys) : '{"error":"down"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/jwks`, ca, state, server };
}

t.test('a jwks URL: fetched with the trust of jwt.certificate, refetched for an unknown kid, the last good set kept while the issuer is down', async (t) => {
  const idp = await startIdp(t);
  const prod = await startBackend(t, { handler: (_req, res) => res.end('production') });
  const gw = await startTestGateway(t, gatewayYaml(prod.url, prod.url, `jwks: "${idp.url}", certificate: idp-ca, jwksRefresh: 300ms`), { certs: { 'idp-ca.crt': idp.ca.certPem } });
  const status = async () => (JSON.parse((await request(`${gw.adminUrl}/status`)).text) as { jwks: Record<string, unknown>[] }).jwks;
  await untilAsync(async () => (await status())[0]?.state === 'ok', 'the JWKS is fetched');
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(await sign(es)) })).status, 200, 'a token of the fetched set verifies');

  // The issuer rotates: a token with the new kid fetches the set again at once.
  idp.state.keys = [es, rotated];
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(await sign(rotated)) })).status, 200, 'an unknown kid fetched the set again');

  // The issuer goes down: the last good set serves, and /status says it is stale.
  idp.state.status = 503;
  await untilAsync(async () => (await status())[0]?.state === 'stale', '/status says stale');
  const stale = (await status())[0]!;
  t.equal(stale.keys, 2, 'the last good set is kept');
  t.match(stale.lastError, /answered 503, not 200/, 'with what failed');
  t.ok(stale.fetchedAt, 'and when the set was fetched');
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(await sign(rotated)) })).status, 200, 'tokens keep verifying');
  await until(() => gw.logs.lines.some((l) => l.code === 'JWKS_FETCH' && l.level === 40), 'a warning is logged');
  t.equal(gw.logs.lines.filter((l) => l.code === 'JWKS_FETCH' && l.level === 40).length, 1, 'once, not per refresh');
  // Made-up kids do not turn into requests to the issuer: one refetch per cooldown.
  const fetches = idp.state.fetches;
  for (let i = 0; i < 5; i++) await request(`${gw.url}/orders/v1/items`, { headers: bearer(await sign({ ...impostor, kid: `made-up-${i}` })) });
  t.ok(idp.state.fetches - fetches <= 2, `unknown kids fetched at most once more (besides the refresh timer): ${idp.state.fetches - fetches}`);

  idp.state.status = 200;
  await untilAsync(async () => (await status())[0]?.state === 'ok', 'back to ok');
  t.ok(gw.logs.lines.some((l) => l.code === 'JWKS_FETCH' && l.level === 30), 'the recovery is logged');

  // The issuer retires a key: its tokens, remembered as verified, are refused once the new set is fetched.
  const retiring = await sign(es);
  t.equal((await request(`${gw.url}/orders/v1/items`, { headers: bearer(retiring) })).status, 200, 'verified, and remembered');
  idp.state.keys = [rotated];
  await untilAsync(async () => (await request(`${gw.url}/orders/v1/items`, { headers: bearer(retiring) })).status === 401, "the retired key's token is refused");
});

t.test('a jwks URL not trusted: nothing is fetched, tokens answer 503 JWKS_UNAVAILABLE with the reason', async (t) => {
  const idp = await startIdp(t);
  const prod = await startBackend(t, { handler: (_req, res) => res.end('production') });
  // No certificate: the private CA's leaf is not trusted by the system roots.
  const gw = await startTestGateway(t, gatewayYaml(prod.url, prod.url, `jwks: "${idp.url}"`));
  const res = await request(`${gw.url}/orders/v1/items`, { headers: bearer(await sign(es)) });
  t.equal(res.status, 503);
  t.equal(errorOf(res).code, 'JWKS_UNAVAILABLE');
  t.match(errorOf(res).message, /could not be fetched yet/);
  t.equal(idp.state.fetches, 0, 'the untrusted server never answered a request');
  const jwksStatus = (JSON.parse((await request(`${gw.adminUrl}/status`)).text) as { jwks: Record<string, unknown>[] }).jwks[0]!;
  t.equal(jwksStatus.state, 'unavailable');
  t.match(jwksStatus.lastError, /certificate|self.signed|issuer/i, '/status says why');
  t.equal(prod.requests.length, 0);
});

t.test('an API that takes a key or a token: either works, both at once are refused, neither gets both challenges', async (t) => {
  const prod = await startBackend(t, { handler: (_req, res) => res.end('production') });
  const { newApiKey } = await import('../../src/config/keys.js');
  const key = newApiKey();
  const yaml = gatewayYaml(prod.url, prod.url).replace('defaults:\n  security:\n', 'keys: { file: ./keys.yaml }\ndefaults:\n  security:\n    apiKey: {}\n');
  const gw = await startTestGateway(t, yaml, { 'jwks.json': jwks(es), 'keys.yaml': `- { name: web, sha256: ${key.sha256}, type: production, apis: [Orders] }\n` });
  t.equal((await request(`${gw.url}/orders/v1/a`, { headers: { apikey: key.key } })).status, 200, 'a key');
  t.equal((await request(`${gw.url}/orders/v1/a`, { headers: bearer(await sign(es)) })).status, 200, 'a token');
  const both = await request(`${gw.url}/orders/v1/a`, { headers: { apikey: key.key, ...bearer(await sign(es)) } });
  t.equal(both.status, 401);
  t.match(errorOf(both).message, /both an API key \(apikey\) and an Authorization header: send one credential/);
  const neither = await request(`${gw.url}/orders/v1/a`);
  t.equal(neither.status, 401);
  t.match(errorOf(neither).message, /requires an API key in the apikey header or a bearer token/);
  const challenges = neither.rawHeaders.filter((_h, i) => i % 2 === 1 && neither.rawHeaders[i - 1]!.toLowerCase() === 'www-authenticate');
  t.same(challenges, ['ApiKey realm="Orders", header="apikey"', 'Bearer realm="Orders"'], 'one WWW-Authenticate per credential the API takes');
});

t.test('configuration problems are reported at their line', async (t) => {
  const load = async (security: string, files: Record<string, string> = {}) => {
    const dir = t.testdir({ 'gateway.yaml': `version: 1\napis:\n  - name: Orders\n    context: /orders\n    version: v1\n    security:\n${security}\n    endpoints: { production: { url: "https://127.0.0.1:1" } }\n`, certs: {}, ...files });
    return loadConfig(path.join(dir, 'gateway.yaml'), { env: {} });
  };
  const plain = await load(`      jwt: { issuer: x, jwks: "http://idp.test/jwks" }`);
  t.match(plain.diagnostics, [{ code: 'CONFIG_URL', line: 7, message: /must be an https:\/\/ URL, or a file: keys fetched over http:\/\/ could be replaced/ }]);
  const certOnFile = await load(`      jwt: { issuer: x, jwks: ./jwks.json, certificate: idp }`, { 'jwks.json': jwks(es) });
  t.match(certOnFile.diagnostics, [{ code: 'CONFIG_INVALID_VALUE', line: 7, message: /applies to an https:\/\/ jwks URL/ }]);
  const missing = await load(`      jwt: { issuer: x, jwks: ./nowhere.json }`);
  t.match(missing.diagnostics, [{ code: 'JWKS_FILE', file: /nowhere\.json$/, message: /cannot read the JWKS file/ }]);
  t.notOk(missing.config, 'a JWKS file that cannot be read stops the load');
  const symmetric = JSON.stringify({ keys: [es.jwk, { kty: 'oct', kid: 'shared', k: 'c2VjcmV0' }] }, null, 2);
  const oct = await load(`      jwt: { issuer: x, jwks: ./jwks.json }`, { 'jwks.json': symmetric });
  t.match(oct.diagnostics, [{ code: 'JWKS_FILE', line: 12, message: /key 2 \(kid "shared"\) is a symmetric key/ }]);
  const privateJwk = { ...(await exportJWK(es.privateKey)), kid: 'leaky' };
  const leaky = await load(`      jwt: { issuer: x, jwks: ./jwks.json }`, { 'jwks.json': JSON.stringify({ keys: [privateJwk] }) });
  t.match(leaky.diagnostics, [{ severity: 'warning', code: 'JWKS_FILE', message: /holds private key material \(d\)/ }]);
  t.notOk(JSON.stringify(leaky.diagnostics).includes(privateJwk.d!), 'the private value is never quoted');
  const broken = await load(`      jwt: { issuer: x, jwks: ./jwks.json }`, { 'jwks.json': '{"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA"}]}' });
  t.match(broken.diagnostics, [{ code: 'JWKS_FILE', message: /key 1 is not a usable public key/ }]);
  const notSet = await load(`      jwt: { issuer: x, jwks: ./jwks.json }`, { 'jwks.json': '[1, 2]' });
  t.match(notSet.diagnostics, [{ code: 'JWKS_FILE', message: /is not a JSON Web Key Set/ }]);
  const clash = await load(`      apiKey: { header: Authorization }\n      jwt: { issuer: x, jwks: ./jwks.json }`, { 'jwks.json': jwks(es) });
  t.ok(clash.diagnostics.some((d) => d.code === 'CONFIG_INVALID_VALUE' && /key's header is Authorization/.test(d.message)), 'a key in Authorization would collide with the tokens');
  const alg = await load(`      jwt: { issuer: x, jwks: ./jwks.json, algorithms: [HS256] }`, { 'jwks.json': jwks(es) });
  t.ok(alg.diagnostics.some((d) => d.severity === 'error' && d.line === 7), 'HS256 is not an algorithm the schema allows');
});
