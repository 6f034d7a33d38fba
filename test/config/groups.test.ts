// Endpoint groups in the configuration (SPEC §8): what a group compiles to, what each target
// inherits key by key, and the messages for groups written wrong.
import t from 'tap';
import { createCA } from '../helpers/pki.js';
import { loadFixture, oneApi } from '../helpers/workspace.js';

const ca = createCA('Groups Config CA');

t.test('a group compiles to its targets, each inheriting target, then endpoint, then API, then defaults', async (t) => {
  const config = `version: 1
defaults:
  timeouts: { connect: 3s }
  suspend: { factor: 3 }
apis:
  - name: Orders
    context: /orders
    version: v1
    tls: { hostnameVerifier: DefaultAndLocalhost }
    endpoints:
      production:
        balance: failover
        certificate: orders-ca
        timeouts: { socket: 20s }
        suspend: { initial: 5s }
        healthCheck: { path: /health }
        targets:
          - url: https://orders-a.internal:9443/api
          - url: https://orders-b.internal:9443/api
            certificate: other-ca
            weight: 2
            timeouts: { connect: 1s }
            tls: { hostnameVerifier: Strict }
`;
  const { config: compiled, text } = await loadFixture(t, { 'gateway.yaml': config, certs: { 'orders-ca.crt': ca.certPem, 'other-ca.crt': ca.certPem } });
  t.equal(text, '');
  const production = compiled!.apis[0]!.production;
  t.match(production, { group: true, balance: 'failover', suspend: { initialMs: 5_000, factor: 3, maxMs: 300_000 }, healthCheck: { path: '/health', intervalMs: 10_000, timeoutMs: 2_000 } });
  const [a, b] = production.targets;
  t.match(a, {
    name: 'Orders v1 production target 1',
    description: 'API "Orders" version v1, production endpoint, target 1',
    path: 'apis[0].endpoints.production.targets[0]',
    index: 0,
    weight: 1,
    certificateAliases: ['orders-ca'],
    timeouts: { connectMs: 3_000, socketMs: 20_000 },
    tls: { hostnameVerifier: 'DefaultAndLocalhost' },
  });
  t.match(b, { name: 'Orders v1 production target 2', weight: 2, certificateAliases: ['other-ca'], timeouts: { connectMs: 1_000, socketMs: 20_000 }, tls: { hostnameVerifier: 'Strict' } });
});

t.test('groups written wrong: each message names the line and what to do', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['neither', '{ certificate: x }', /apis\[0\]\.endpoints\.production: needs url \(one backend\) or targets \(a group of two or more\)  \[CONFIG_MISSING_KEY\]/],
    ['both', '{ url: "https://a", targets: [{ url: "https://b" }, { url: "https://c" }] }', /apis\[0\]\.endpoints\.production\.targets: an endpoint has url or targets, not both/],
    ['one target', '{ targets: [{ url: "https://b" }] }', /apis\[0\]\.endpoints\.production\.targets: must list at least 2 items \(got one\); a single backend is written url: instead of targets/],
    ['suspend on a url', '{ url: "https://a", suspend: { initial: 1s } }', /production\.suspend: applies to the targets of a group; a single url is never suspended/],
    ['the same url twice', '{ targets: [{ url: "https://b" }, { url: "https://b" }] }', /targets\[1\]\.url: is the same URL as apis\[0\]\.endpoints\.production\.targets\[0\]: give it a weight/],
    ['a check slower than its interval', '{ targets: [{ url: "https://b" }, { url: "https://c" }], healthCheck: { path: /h, interval: 1s, timeout: 2s } }', /healthCheck\.timeout: is longer than the interval \(1s\)/],
    ['first suspension above the longest', '{ targets: [{ url: "https://b" }, { url: "https://c" }], suspend: { initial: 10m } }', /production\.suspend\.initial: the first suspension \(10m\) is longer than the longest \(5m, defaults\.suspend\.max\)/],
    ['a weight of 0', '{ targets: [{ url: "https://b", weight: 0 }, { url: "https://c" }] }', /targets\[0\]\.weight: must be at least 1 \(got 0\)/],
    ['a bad balance', '{ targets: [{ url: "https://b" }, { url: "https://c" }], balance: random }', /production\.balance: must be one of round-robin, failover/],
    ['a bad url in a target', '{ targets: [{ url: "ftp://b" }, { url: "https://c" }] }', /targets\[0\]\.url: must use http:\/\/ or https:\/\//],
    ['a certificate on a plain target', '{ targets: [{ url: "http://b", certificate: x }, { url: "https://c" }] }', /targets\[0\]\.certificate: http:\/\/b is plain http:\/\//],
  ];
  for (const [name, endpoint, expected] of cases) {
    const { config, text } = await loadFixture(t, { 'gateway.yaml': oneApi(endpoint), certs: {} });
    t.equal(config, undefined, `${name}: refused`);
    t.match(text, expected, name);
  }
});
