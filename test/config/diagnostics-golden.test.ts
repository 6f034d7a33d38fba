// The error text is a contract: every rule with a failing example and its exact output, as
// `gatehouse validate` prints it (paths relative to the configuration's folder).
import t from 'tap';
import { loadFixture } from '../helpers/workspace.js';

interface Case {
  readonly name: string;
  readonly file?: string;
  readonly text: string;
  readonly env?: Record<string, string>;
  readonly expected: string;
}

const cases: Case[] = [
  {
    name: 'schema: unknown, missing, wrong type, wrong value, all at once',
    text: `version: 1
listen: { htp: 8280 }
admin: { address: [1] }
certs: { expired: Reject, warnBefore: 5 days }
reload: { interval: true }
defaults:
  tls: { serverName: "not a host!", protocols: [] }
  headers: { forwarded: "yes" }
apis:
  - name: Shop
    context: shop
    version: 1.0
    default: "true"
    endpoints:
      production: { url: 5, certificate: "../etc/passwd" }
      staging: { url: "https://x" }
  - context: /b
    version: v1
    endpoints: { production: { url: "https://b" } }
    resources: [ { path: menu, methods: [GET, FETCH] } ]
routing: { sandboxHeader: "X Env" }
`,
    expected: `gateway.yaml:2:11  listen.htp: unknown key "htp"; did you mean "http"? (known: http, https, workers, shutdownDelay, shutdownTimeout, headersTimeout, requestTimeout, idleTimeout, trustedProxies)  [CONFIG_UNKNOWN_KEY]
gateway.yaml:3:19  admin.address: must be host:port like 0.0.0.0:8280, 127.0.0.1:9901 or [::1]:9901, or a port alone (got a list)  [CONFIG_TYPE]
gateway.yaml:4:19  certs.expired: must be one of reject, warn (got "Reject"); did you mean "reject"?  [CONFIG_INVALID_VALUE]
gateway.yaml:4:39  certs.warnBefore: must be a duration like "500ms", "10s", "1m30s", "1h" or "30d", or an integer number of milliseconds (got "5 days")  [CONFIG_INVALID_VALUE]
gateway.yaml:5:21  reload.interval: must be a duration like "500ms", "10s", "1m30s", "1h" or "30d", or an integer number of milliseconds (got true)  [CONFIG_TYPE]
gateway.yaml:7:22  defaults.tls.serverName: must be a DNS host name like backend.internal (got "not a host!")  [CONFIG_INVALID_VALUE]
gateway.yaml:7:48  defaults.tls.protocols: must list at least 1 item (got an empty list)  [CONFIG_INVALID_VALUE]
gateway.yaml:8:25  defaults.headers.forwarded: must be true or false (got "yes")  [CONFIG_TYPE]
gateway.yaml:11:14  apis[0].context: must be a path like /pizzashack or /shop/orders: segments of letters, digits and ._~-, starting with / and no trailing / (got "shop")  [CONFIG_INVALID_VALUE]
gateway.yaml:12:14  apis[0].version: must be a string (got 1.0); quote it: "1.0"  [CONFIG_TYPE]
gateway.yaml:13:14  apis[0].default: must be true or false (got "true")  [CONFIG_TYPE]
gateway.yaml:15:26  apis[0].endpoints.production.url: must be a string (got 5)  [CONFIG_TYPE]
gateway.yaml:15:42  apis[0].endpoints.production.certificate: must be a certificate alias: the file name in the certificates folder without extension (letters, digits, '.', '_', '-') (got "../etc/passwd")  [CONFIG_INVALID_VALUE]
gateway.yaml:16:7  apis[0].endpoints.staging: unknown key "staging" (known: production, sandbox)  [CONFIG_UNKNOWN_KEY]
gateway.yaml:17:5  apis[1]: missing required key "name" (the API's name; unique together with version)  [CONFIG_MISSING_KEY]
gateway.yaml:20:26  apis[1].resources[0].path: must start with / (like /menu or /order/{orderId}) (got "menu")  [CONFIG_INVALID_VALUE]
gateway.yaml:20:47  apis[1].resources[0].methods[1]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (got "FETCH"); did you mean "PATCH"?  [CONFIG_INVALID_VALUE]
gateway.yaml:21:27  routing.sandboxHeader: must be an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-) (got "X Env")  [CONFIG_INVALID_VALUE]
`,
  },
  {
    name: 'schema: a document that is not a map',
    text: '- a\n- b\n',
    expected: 'gateway.yaml:1:1  the configuration must be a map of keys such as version and apis (got a list)  [CONFIG_TYPE]\n',
  },
  {
    name: 'schema: an empty file',
    text: '',
    expected: 'gateway.yaml  the configuration must be a map of keys such as version and apis (got nothing)  [CONFIG_TYPE]\n',
  },
  {
    name: 'schema: another language version',
    text: 'version: 2\napis: []\n',
    expected: 'gateway.yaml:1:10  version: must be 1 (got 2); this Gatehouse reads configuration version 1  [CONFIG_INVALID_VALUE]\n',
  },
  {
    name: 'schema: missing top-level keys point at the top',
    text: 'listen: { http: 8280 }\n',
    expected: `gateway.yaml:1:1  missing required key "apis" (the APIs the gateway serves)  [CONFIG_MISSING_KEY]
gateway.yaml:1:1  missing required key "version" (the configuration language version)  [CONFIG_MISSING_KEY]
`,
  },
  {
    name: 'syntax: YAML indentation',
    text: 'version: 1\napis:\n  - name: a\n   context: /x\n',
    expected:
      'gateway.yaml:4:4  a list item needs "- ", or this line is indented wrongly: to add it to the item that starts on line 3, indent it to column 5, like "name"; for a new item, write "- context: /x" at column 3  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'syntax: YAML duplicate key',
    text: 'version: 1\napis: []\nversion: 1\n',
    expected: 'gateway.yaml:3:1  "version" is already set on line 1: a map holds each key once; remove one of them  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'syntax: several YAML documents',
    text: 'version: 1\napis: []\n---\nversion: 1\n',
    expected: 'gateway.yaml:3:1  the file holds several YAML documents (---); a configuration is one document  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'syntax: TOML',
    file: 'gateway.toml',
    text: 'version = 1\napis = [\n',
    expected: 'gateway.toml:3:1  invalid value  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'schema: TOML positions come from its tables and keys',
    file: 'gateway.toml',
    text: 'version = 1\n\n[defaults.timeouts]\nconect = "1s"\n\n[[apis]]\nname = "A"\ncontext = "/a"\nversion = 1\n\n[apis.endpoints.production]\nurl = "https://a"\ncertificate = 7\n',
    expected: `gateway.toml:4:1  defaults.timeouts.conect: unknown key "conect"; did you mean "connect"? (known: connect, socket)  [CONFIG_UNKNOWN_KEY]
gateway.toml:9:11  apis[0].version: must be a string (got 1); quote it: "1"  [CONFIG_TYPE]
gateway.toml:13:15  apis[0].endpoints.production.certificate: must be a certificate alias: the file name in the certificates folder without extension (letters, digits, '.', '_', '-') (got 7)  [CONFIG_TYPE]
`,
  },
  {
    name: 'interpolation: unset, malformed and unterminated references; no secret is echoed',
    env: { HOST: 'h', SECRET: 'hunter2' },
    text: `version: 1
admin: { token: "\${TOKEN}", address: "\${ADMIN_ADDR:-127.0.0.1:9901}" }
apis:
  - name: A
    context: /a
    version: v1
    endpoints:
      production: { url: "\${BACKEND_URL}/api" }
      sandbox: { url: "https://\${HOST:-x}\${BAD-NAME}" }
  - name: B
    context: /b
    version: "\${VERSION}"
    endpoints:
      production: { url: "https://b/\${OPEN" }
`,
    expected: `gateway.yaml:2:17  admin.token: environment variable TOKEN is not set (set it, or write \${TOKEN:-default})  [CONFIG_ENV_UNSET]
gateway.yaml:8:26  apis[0].endpoints.production.url: environment variable BACKEND_URL is not set (set it, or write \${BACKEND_URL:-default})  [CONFIG_ENV_UNSET]
gateway.yaml:9:23  apis[0].endpoints.sandbox.url: malformed variable reference "\${BAD-NAME}" (write \${NAME} or \${NAME:-default} with NAME of letters, digits and _)  [CONFIG_ENV_UNSET]
gateway.yaml:12:14  apis[1].version: environment variable VERSION is not set (set it, or write \${VERSION:-default})  [CONFIG_ENV_UNSET]
gateway.yaml:14:26  apis[1].endpoints.production.url: unterminated variable reference "\${OPEN" (write \${NAME} or \${NAME:-default}; $\${ for a literal \${)  [CONFIG_ENV_UNSET]
`,
  },
  {
    name: 'interpolation: a value from the environment is quoted as written, never expanded',
    env: { INTERVAL: 'hunter2-secret' },
    text: 'version: 1\nreload: { interval: "${INTERVAL}" }\napis: []\n',
    expected:
      'gateway.yaml:2:21  reload.interval: must be a duration like "500ms", "10s", "1m30s", "1h" or "30d", or an integer number of milliseconds (got "${INTERVAL}")  [CONFIG_INVALID_VALUE]\n',
  },
  {
    name: 'rules: duplicate APIs, routes and defaults; a context under another route',
    text: `version: 1
apis:
  - name: Shop
    context: /shop
    version: "1.0"
    endpoints: { production: { url: "http://a:1" } }
  - name: Shop
    context: /shop2
    version: "1.0"
    endpoints: { production: { url: "http://a:1" } }
  - name: Other
    context: /shop
    version: "1.0"
    default: true
    endpoints: { production: { url: "http://a:1" } }
  - name: Other2
    context: /shop
    version: "2.0"
    default: true
    endpoints: { production: { url: "http://a:1" } }
  - name: Sub
    context: /shop/2.0/x
    version: "1"
    endpoints: { production: { url: "http://a:1" } }
`,
    expected: `gateway.yaml:9:14  apis[1].version: API "Shop" version "1.0" is already declared at line 3 (apis[0]); give one of them another version  [CONFIG_DUPLICATE_API]
gateway.yaml:12:14  apis[2].context: /shop/1.0 is already the route of API "Shop" (apis[0], line 3); change the context or the version  [CONFIG_DUPLICATE_ROUTE]
gateway.yaml:19:14  apis[3].default: context /shop already has a default version: "1.0" (apis[2], line 14); keep default: true on one version  [CONFIG_DUPLICATE_DEFAULT]
gateway.yaml:22:14  apis[4].context: /shop/2.0/x lies under /shop/2.0, the route of API "Other2" version "2.0" (apis[3]); the same requests would match both: choose another context  [CONFIG_CONTEXT_SHADOW]
`,
  },
  {
    name: 'rules: endpoint URLs, certificates on http://, no trust at all, aliases with extensions',
    text: `version: 1
apis:
  - name: A
    context: /a
    version: v1
    endpoints:
      production: { url: "ftp://x/y" }
      sandbox: { url: "not a url" }
  - name: B
    context: /b
    version: v1
    endpoints:
      production: { url: "https://user:secret@host/" }
      sandbox: { url: "https://host/api?x=1" }
  - name: C
    context: /c
    version: v1
    endpoints:
      production: { url: "http://host:8080/api", certificate: c }
      sandbox: { url: "https://host/api", tls: { trustSystemCAs: false } }
  - name: D
    context: /d
    version: v1
    endpoints:
      production: { url: "https://host/api", certificate: [d.crt, e] }
`,
    expected: `gateway.yaml:7:26  apis[0].endpoints.production.url: must use http:// or https:// (got "ftp://x/y")  [CONFIG_URL]
gateway.yaml:8:23  apis[0].endpoints.sandbox.url: must be an absolute http:// or https:// URL like https://backend.internal:9443/api (got "not a url")  [CONFIG_URL]
gateway.yaml:13:26  apis[1].endpoints.production.url: must not carry credentials (user:password@): they would end up in logs; send them as a header  [CONFIG_URL]
gateway.yaml:14:23  apis[1].endpoints.sandbox.url: must not have a query or a fragment (got "https://host/api?x=1"); the client's query string is passed on  [CONFIG_URL]
gateway.yaml:19:50  apis[2].endpoints.production.certificate: http://host:8080/api is plain http://, where no certificate is checked; use https:// or remove the certificate  [CONFIG_CERT_ON_HTTP]
gateway.yaml:20:7  apis[2].endpoints.sandbox: has no certificate and trustSystemCAs is false (apis[2].endpoints.sandbox.tls.trustSystemCAs), so no backend certificate could ever be trusted; add certificate: <alias>  [CONFIG_NO_TRUST]
gateway.yaml:25:60  apis[3].endpoints.production.certificate[0]: certificate aliases are written without extension: "d" finds d.crt (got "d.crt")  [CONFIG_ALIAS]
`,
  },
  {
    name: 'rules: addresses, protocol ranges, ciphers, zero and inconsistent timeouts; TLS warnings',
    text: `version: 1
listen:
  http: 0.0.0.0:8280
  https: { address: "8280", certificate: gw, protocols: [TLSv1.1, TLSv1.3] }
admin: { address: "127.0.0.1:99999" }
reload: { interval: 0 }
defaults:
  timeouts: { connect: 0s }
  tls: { protocols: [TLSv1, TLSv1.2], ciphers: "NOPE-CIPHER", hostnameVerifier: AllowAll }
apis:
  - name: A
    context: /a
    version: v1
    timeouts: { socket: 5s }
    endpoints:
      production: { url: "https://host/api", timeouts: { connect: 10s } }
      sandbox: { url: "https://host/api", tls: { protocols: [TLSv1.1] } }
`,
    expected: `gateway.yaml:4:21  listen.https.address: 0.0.0.0:8280 is already used by listen.http (line 3); give each listener its own port  [CONFIG_ADDRESS]
gateway.yaml:4:57  listen.https.protocols: must be a contiguous range of TLS versions (got [TLSv1.1, TLSv1.3]; expected [TLSv1.1, TLSv1.2, TLSv1.3], or drop the versions outside a range)  [CONFIG_PROTOCOL_RANGE]
gateway.yaml:4:57  warning  listen.https.protocols: TLSv1.1 is deprecated (RFC 8996); clients will use it with OpenSSL's security level lowered to 0 for this listener only  [TLS_LEGACY_PROTOCOL]
gateway.yaml:5:19  admin.address: port must be from 0 to 65535 (got "127.0.0.1:99999")  [CONFIG_ADDRESS]
gateway.yaml:6:21  reload.interval: must be greater than zero (got 0); use a duration like "10s"  [CONFIG_TIMEOUTS]
gateway.yaml:8:24  defaults.timeouts.connect: must be greater than zero (got "0s"); a timeout cannot be disabled  [CONFIG_TIMEOUTS]
gateway.yaml:9:21  defaults.tls.protocols: must be a contiguous range of TLS versions (got [TLSv1, TLSv1.2]; expected [TLSv1, TLSv1.1, TLSv1.2], or drop the versions outside a range)  [CONFIG_PROTOCOL_RANGE]
gateway.yaml:9:21  warning  defaults.tls.protocols: TLSv1 is deprecated (RFC 8996); the gateway will use it with OpenSSL's security level lowered to 0 for the endpoints using this setting only  [TLS_LEGACY_PROTOCOL]
gateway.yaml:9:48  defaults.tls.ciphers: OpenSSL matches no cipher in "NOPE-CIPHER"; check it with \`openssl ciphers -v 'NOPE-CIPHER'\`  [CONFIG_CIPHERS]
gateway.yaml:9:81  warning  defaults.tls.hostnameVerifier: AllowAll skips the hostname check: any certificate these endpoints trust is accepted for any host (the chain is still verified); prefer Strict with tls.serverName  [TLS_ALLOW_ALL]
gateway.yaml:16:67  apis[0].endpoints.production.timeouts.connect: connect timeout "10s" is above the socket timeout "5s" for apis[0].endpoints.production (the other is set at apis[0].timeouts.socket); connect must not be above socket  [CONFIG_TIMEOUTS]
gateway.yaml:17:61  warning  apis[0].endpoints.sandbox.tls.protocols: TLSv1.1 is deprecated (RFC 8996); the gateway will use it with OpenSSL's security level lowered to 0 for the endpoints using this setting only  [TLS_LEGACY_PROTOCOL]
`,
  },
  {
    name: 'rules: resource templates and duplicates',
    text: `version: 1
apis:
  - name: A
    context: /a
    version: v1
    resources:
      - { path: /menu, methods: [GET] }
      - { path: "/order/{id}/{id}", methods: [GET] }
      - { path: "/x/*/y", methods: [GET] }
      - { path: "/x//y", methods: [GET] }
      - { path: "/a b", methods: [GET] }
      - { path: "/item/{id}", methods: [GET, PUT] }
      - { path: "/item/{other}", methods: [PUT] }
      - { path: "/menu", methods: [POST, GET] }
      - { path: "/../x", methods: [GET] }
    endpoints:
      production: { url: "https://host/api" }
`,
    expected: `gateway.yaml:8:17  apis[0].resources[1].path: names the parameter {id} twice (got "/order/{id}/{id}"; expected a template like /menu, /order/{orderId} or /files/*)  [CONFIG_RESOURCE]
gateway.yaml:9:17  apis[0].resources[2].path: * is allowed only as the last segment (/files/*) (got "/x/*/y"; expected a template like /menu, /order/{orderId} or /files/*)  [CONFIG_RESOURCE]
gateway.yaml:10:17  apis[0].resources[3].path: has an empty segment (// or a trailing /) (got "/x//y"; expected a template like /menu, /order/{orderId} or /files/*)  [CONFIG_RESOURCE]
gateway.yaml:11:17  apis[0].resources[4].path: segment "a b" is neither a literal (letters, digits, -._~ and %XX) nor a {parameter} nor * (got "/a b"; expected a template like /menu, /order/{orderId} or /files/*)  [CONFIG_RESOURCE]
gateway.yaml:13:17  apis[0].resources[6].path: PUT /item/{other} is already allowed by apis[0].resources[5] (line 12); list each path and method once  [CONFIG_RESOURCE]
gateway.yaml:14:17  apis[0].resources[7].path: GET /menu is already allowed by apis[0].resources[0] (line 7); list each path and method once  [CONFIG_RESOURCE]
gateway.yaml:15:17  apis[0].resources[8].path: has a ".." segment (got "/../x"; expected a template like /menu, /order/{orderId} or /files/*)  [CONFIG_RESOURCE]
`,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const file = c.file ?? 'gateway.yaml';
    const loaded = await loadFixture(t, { [file]: c.text, certs: {} }, { config: file, ...(c.env ? { env: c.env } : {}) });
    t.equal(loaded.text, c.expected);
    t.equal(loaded.config, undefined, 'an invalid configuration yields no configuration');
    for (const secret of Object.values(c.env ?? {}).filter((v) => v.includes('hunter2'))) {
      t.notMatch(loaded.text, secret, 'no value from the environment appears in a message');
    }
  });
}

export const goldenCodes = cases.flatMap((c) => [...c.expected.matchAll(/\[([A-Z_]+)\]$/gm)].map((m) => m[1]!));
