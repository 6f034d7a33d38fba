// The JWT check alone, in this process: CPU time per check of a request's bearer token with its
// issuer's key already held (the set of a JWKS file, or a URL fetched before), for each kind of
// key: what security.jwt adds to a request. Two cases: a token seen for the first time (the header
// scan, jose's jwtVerify: decoding, the signature by WebCrypto, the claims), with 64 checks in
// flight as a gateway under load has them; and a token seen again (a client sends the same token
// until it expires), whose verdict the API remembers (VerifiedTokens) and whose times only are
// checked. process.cpuUsage counts every thread (WebCrypto's included).
//
//   node --import tsx bench/jwt.ts [--checks 20000] [--rounds 5]
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { checkCredentials } from '../src/proxy/security.js';
import type { Verdict } from '../src/proxy/verdict.js';
import { VerifiedTokens, openJwks } from '../src/snapshot/jwks.js';
import type { ApiRuntime } from '../src/snapshot/snapshot.js';
import type { JwtConfig } from '../src/config/types.js';
import { median } from './common.js';

const { values } = parseArgs({ options: { checks: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } });
const checks = Number(values.checks);
const IN_FLIGHT = 64;

for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const source = { kind: 'file', file: '/bench/jwks.json', sha256: alg, set: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg }] } } as const;
  const config: JwtConfig = { issuer: 'https://idp.example/', audience: ['orders'], keyTypeClaim: 'keytype', clockToleranceS: 30, algorithms: ['RS256', 'ES256', 'EdDSA'], jwks: source };
  const production = {};
  const remembering = new VerifiedTokens();
  // The first time for every check: nothing is remembered.
  const forgetting = { get: () => undefined, set: () => undefined, delete: () => undefined };
  const jwt = { config, keys: openJwks(source), verified: forgetting as unknown as VerifiedTokens<unknown> };
  const api = { config: { name: 'Orders', version: 'v1', security: { jwt: config } }, production, sandbox: undefined, jwt } as unknown as ApiRuntime;
  const token = await new SignJWT({ iss: config.issuer, aud: 'orders', sub: 'alice', keytype: 'PRODUCTION', exp: Math.floor(Date.now() / 1000) + 3600 })
    .setProtectedHeader({ alg, kid: 'k1', typ: 'JWT' })
    .sign(privateKey);
  const rawHeaders = ['Host', 'gateway.example:8280', 'User-Agent', 'curl/8.5.0', 'Accept', '*/*', 'Authorization', `Bearer ${token}`];
  const one = async () => {
    const verdict: Verdict = await checkCredentials(api, rawHeaders, undefined);
    if (verdict.kind !== 'allowed') throw new Error(`the token was refused: ${verdict.message}`);
  };
  const measure = async (count: number) => {
    const perCheck: number[] = [];
    for (let round = 0; round < Number(values.rounds) + 1; round++) {
      const started = process.cpuUsage();
      for (let done = 0; done < count; done += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, one));
      const used = process.cpuUsage(started);
      // The first round warms the JIT up (and imports the key into WebCrypto, once).
      if (round > 0) perCheck.push((used.user + used.system) / count);
    }
    return median(perCheck);
  };
  const first = await measure(checks);
  jwt.verified = remembering;
  const again = await measure(checks * 10);
  console.log(`node ${process.version}: ${alg}: ${first.toFixed(1)} µs CPU per JWT check of a new token, ${again.toFixed(2)} µs for a token seen before (medians of ${values.rounds} rounds, ${IN_FLIGHT} in flight)`);
}
