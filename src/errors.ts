// The catalogue of every code Gatehouse reports: configuration diagnostics (errors and warnings of
// `gatehouse validate`, of start-up and of reloads) and the errors a client receives.
// docs/errors.md is generated from this table (`npm run docs`) and a test fails when the two
// drift apart.

export interface CodeInfo {
  /** What the code means, in one sentence. */
  readonly meaning: string;
  /** What the operator does about it. */
  readonly fix: string;
  /** For codes a client receives: the HTTP status. */
  readonly status?: number;
}

export const CODES = {
  // --- reading and parsing the configuration file
  CONFIG_READ: {
    meaning: 'The configuration file could not be read (missing, a folder, unreadable, or too large).',
    fix: 'Check the path given with -c (default gateway.yaml in the current folder) and its permissions.',
  },
  CONFIG_SYNTAX: {
    meaning: 'The file is not valid YAML or TOML (bad indentation, an unclosed quote, a duplicate key...).',
    fix: 'Fix the text at the line and column given; quote values that contain ": " or start with special characters.',
  },
  CONFIG_ENV_UNSET: {
    meaning: 'A ${VAR} reference names an environment variable that is not set, or is malformed.',
    fix: 'Set the variable in the environment, or give a default: ${VAR:-default}. Write $${ for a literal ${.',
  },
  // --- the JSON Schema (schemas/gateway.schema.json)
  CONFIG_UNKNOWN_KEY: {
    meaning: 'A key that the schema does not define; typos must not pass silently.',
    fix: 'Correct the spelling (the message suggests the closest key and lists the known ones) or remove the key.',
  },
  CONFIG_MISSING_KEY: {
    meaning: 'A required key is absent.',
    fix: 'Add the key named in the message to the section the position points at.',
  },
  CONFIG_TYPE: {
    meaning: 'A value has the wrong type (a number where a string is expected, a list where a map is expected...).',
    fix: 'Write the type the message names; in YAML, quote values such as versions ("1.0") that would otherwise be numbers.',
  },
  CONFIG_INVALID_VALUE: {
    meaning: 'A value has the right type but not an allowed form (not one of the allowed words, a bad duration or address, an empty list...).',
    fix: 'Use one of the forms the message gives; the schema (and an editor using it) lists them.',
  },
  // --- cross-field rules
  CONFIG_DUPLICATE_API: {
    meaning: 'Two APIs have the same name and version.',
    fix: 'Give one of them another version (or name).',
  },
  CONFIG_DUPLICATE_ROUTE: {
    meaning: 'Two APIs have the same context and version, so requests cannot tell them apart.',
    fix: 'Change the context or the version of one of them.',
  },
  CONFIG_DUPLICATE_DEFAULT: {
    meaning: 'More than one version of a context is marked default: true.',
    fix: 'Keep default: true on one version of the context only.',
  },
  CONFIG_CONTEXT_SHADOW: {
    meaning: "An API's context lies under another API's /context/version route, so the same request path would match both.",
    fix: 'Choose a context that does not start with another API\'s "/context/version".',
  },
  CONFIG_URL: {
    meaning: 'An endpoint URL is not an absolute http:// or https:// URL, or carries credentials, a query or a fragment.',
    fix: 'Write the backend as https://host[:port][/base/path]; send credentials in headers, not in the URL.',
  },
  CONFIG_CERT_ON_HTTP: {
    meaning: 'A certificate is given for an http:// endpoint, where no TLS takes place.',
    fix: 'Use an https:// URL, or remove the certificate.',
  },
  CONFIG_NO_TRUST: {
    meaning: 'An https:// endpoint has no certificate and trustSystemCAs is false: nothing could ever be trusted.',
    fix: 'Give the endpoint a certificate alias, or allow the system roots (trustSystemCAs: true).',
  },
  CONFIG_PROTOCOL_RANGE: {
    meaning: 'A protocols list is not a contiguous range of TLS versions (e.g. TLSv1 and TLSv1.2 without TLSv1.1).',
    fix: 'List consecutive versions: [TLSv1.2, TLSv1.3], or [TLSv1.3] alone.',
  },
  CONFIG_TIMEOUTS: {
    meaning: 'A timeout or interval is zero, or an endpoint\'s connect timeout is above its socket timeout.',
    fix: 'Use positive durations, with connect not above socket for each endpoint.',
  },
  CONFIG_DURATION_UNITLESS: {
    meaning: 'A warning: a timeout, interval or delay is a number without a unit under 1000, which is milliseconds (60 is 60 ms), most likely meant as seconds.',
    fix: 'Write the unit: 60s for seconds, or 60ms to keep milliseconds (then the warning goes away too).',
  },
  CONFIG_CIPHERS: {
    meaning: 'OpenSSL accepts no cipher from the cipher string.',
    fix: 'Check the names with `openssl ciphers -v \'<string>\'`, or remove the key to use the secure default.',
  },
  CONFIG_RESOURCE: {
    meaning: 'A resource path template is malformed, or a path and method are listed twice.',
    fix: 'Write templates as /literal, /{param} segments and an optional trailing /*; list each path once.',
  },
  CONFIG_ADDRESS: {
    meaning: 'A listen or admin address is invalid (port out of range) or used by two listeners.',
    fix: 'Give each listener its own host:port with a port from 1 to 65535 (0 picks a free port).',
  },
  CONFIG_ALIAS: {
    meaning: 'A certificate alias is ambiguous (two files carry it) or written with a file extension.',
    fix: 'Write the alias without extension, and keep one file per alias in the certificates folder.',
  },
  // --- certificates
  CERT_READ: {
    meaning: 'A certificate file could not be read: unreadable, too large, not a regular file, or resolving outside the certificates folder.',
    fix: 'Check the file and its permissions; certificates must be files inside the certificates folder (symlinks included).',
  },
  CERT_PARSE: {
    meaning: 'A certificate file holds no certificate that parses (empty, truncated, garbage, or a key instead of a certificate).',
    fix: 'Replace the file with the PEM or DER certificate; `openssl x509 -in <file> -noout -text` shows what is wrong.',
  },
  CERT_EXPIRED: {
    meaning: 'A referenced certificate has expired. Every handshake that needs it fails (502 BACKEND_TLS_UNTRUSTED): no setting makes an expired certificate acceptable. With certs.expired: reject (the default) the configuration is refused; with warn it loads, and only the endpoints that depend on that certificate fail.',
    fix: 'Drop the renewed certificate into the certificates folder, or remove the expired alias from the rotation list. certs.expired: warn is for letting the rest load (a rotation list whose other certificate is current, an endpoint being retired), not for serving with the expired one.',
  },
  CERT_NOT_YET_VALID: {
    meaning: 'A referenced certificate is not valid yet (its notBefore is in the future); handshakes will fail until then.',
    fix: 'Check the clock of this machine and the certificate\'s dates.',
  },
  CERT_EXPIRING: {
    meaning: 'A referenced certificate expires within certs.warnBefore.',
    fix: 'Renew the certificate, and add the new alias beside the old one (certificate: [old, new]) for the switch.',
  },
  CERT_PENDING: {
    meaning: 'A referenced alias has no file yet; the endpoint answers 503 CERTIFICATE_PENDING until it appears.',
    fix: 'Drop <alias>.crt into the certificates folder (or `gatehouse cert fetch`); the next reload picks it up.',
  },
  CERT_DIRECTORY: {
    meaning: 'The certificates folder cannot be read (an error: the configuration is refused, and a reload keeps the running one), or does not exist (a warning at a first start: every endpoint with a certificate waits for its file).',
    fix: "Give the gateway's user permission to list and read the folder; create it, or point certs.directory at it (relative to the configuration file).",
  },
  CERT_WITHDRAWN: {
    meaning: 'A reload would leave a running endpoint with none of the certificate files it trusts (its folder emptied, renamed or unmounted, or its files deleted while the configuration still names them). The reload is refused and the running configuration keeps serving.',
    fix: 'Restore the files (or the folder, or its mount). To stop trusting a backend, remove the alias from the configuration rather than its file.',
  },
  CERT_HOSTNAME: {
    meaning: "No certificate the endpoint trusts can verify the host its hostname verifier checks: they are all servers' own certificates (leaves, or self-signed ones, CA:TRUE or not) that do not name the host, or certificates that are not CAs and name no host at all. The handshake is bound to fail.",
    fix: 'Set tls.serverName to a name in the certificate, reissue the certificate with the host in its SANs, trust the CA that issues it, or relax hostnameVerifier.',
  },
  CERT_KEY_PERMISSIONS: {
    meaning: "The HTTPS listener's private key file (or .p12/.pfx) can be read by users other than its owner (group or others have read permission).",
    fix: 'chmod 600 the file (readable by its owner only). In Kubernetes, set defaultMode: 0400 on the Secret volume.',
  },
  CERT_KEY_IN_TRUST_FILE: {
    meaning: 'A certificate file in the certificates folder also holds a private key.',
    fix: 'Remove the private key from the file: the folder holds what the gateway trusts, and keys are secrets.',
  },
  LISTENER_CERTIFICATE: {
    meaning: "The HTTPS listener's own certificate or key is missing, does not parse, or the key does not match the certificate.",
    fix: 'Provide <alias>.crt with <alias>.key (PEM), or <alias>.p12 / .pfx, with the right passphrase.',
  },
  CLIENT_CERTIFICATE: {
    meaning: "A client certificate (clientCertificate) cannot be used: its key does not match the certificate, the passphrase does not open it, or a file does not parse.",
    fix: 'Put the matching <alias>.crt and <alias>.key (or <alias>.p12) in the certificates folder, and the passphrase in tls.clientCertificatePassphrase; the message names the file.',
  },
  KEYS_FILE: {
    meaning: 'The API keys file (keys.file) has an entry that cannot be used: a key missing or unknown, a sha256 that is not 64 lowercase hex digits (or is a key pasted in its place), a type other than production or sandbox, a name or a key given twice.',
    fix: 'Fix the entry at the line given; `gatehouse key new --name N --type T --apis A` prints a new key and the entry to paste. The file holds hashes only: never write a key in it.',
  },
  OPENAPI_FILE: {
    meaning: "An OpenAPI or Swagger definition (resources.openapi) cannot be used: the file cannot be read, is not OpenAPI 3.0/3.1 or Swagger 2.0, is not valid against its specification, has a $ref to another file or a URL, or lists a path that cannot be matched by whole segments. The API's old resources keep serving.",
    fix: "Fix the definition at the line given (relative to the configuration file's folder). Bundle a definition split over files into one (npx @redocly/cli bundle); Gatehouse reads no other file or URL for it.",
  },
  JWKS_FILE: {
    meaning: "A JWKS (security.jwt.jwks) cannot be used: the file cannot be read or is not a JSON Web Key Set, a key is not a usable public key, a key is symmetric (kty oct), or the set holds private key material.",
    fix: "Put the issuer's public JWKS at the path given (relative to the configuration file's folder): the document its jwks_uri serves. The message names the key by its position and kid.",
  },
  JWKS_FETCH: {
    meaning: "An https:// jwks URL could not be fetched or did not answer a JSON Web Key Set: unreachable, untrusted, a status other than 200, or a body that is not a key set. The last good set keeps verifying tokens; /status says since when it is stale.",
    fix: "Check the URL, and that jwt.certificate names the certificate the issuer is trusted by (as an endpoint's certificate); the message says what failed.",
  },
  RATE_LIMIT_STORE: {
    meaning: 'The Redis of rateLimits.store stopped answering (down, unreachable, frozen, refusing the password), or answers again. While it does not, each request that a limit applies to gets what rateLimits.onStoreError says, at once: no request waits for Redis to come back.',
    fix: 'Bring Redis back, or check the URL and its credentials; the gateway reconnects by itself (within about a second of Redis answering) and logs when it does. /status shows the store and its last error; gatehouse_rate_limit_store_up is 0 meanwhile.',
  },
  CONFIG_ADMIN_TOKEN: {
    meaning: 'admin.address is reachable from other machines (not 127.0.0.1, ::1 or localhost) and admin.token is empty: /status and POST /reload would be open to the network.',
    fix: 'Set admin.token (from an environment variable: token: ${GATEHOUSE_ADMIN_TOKEN}), or bind admin.address to 127.0.0.1.',
  },
  // --- reloads
  CONFIG_RESTART_REQUIRED: {
    meaning: 'A reload would move a listener (listen.http, listen.https.address, admin.address) or change listen.workers: addresses are bound and workers started once, so the reload is refused and the running configuration keeps serving.',
    fix: 'Revert the address (or listen.workers) to reload the rest, or restart the gateway.',
  },
  LISTEN_FAILED: {
    meaning: 'A listener could not bind its address at start: already in use by another process, a port below 1024 without the privilege, or an address this machine does not have. Nothing is started.',
    fix: 'Stop the process that holds the port (`ss -ltnp` shows it), or set the listener (listen.http, listen.https.address, admin.address) to a free port this user may bind.',
  },
  ACCESS_LOG_FAILED: {
    meaning: "The access log's file (accessLog.destination) cannot be opened for appending: its folder does not exist, the gateway's user may not write there, or the file system is read-only. At start nothing is started; on a reload the access lines keep going where they went.",
    fix: 'Create the folder and let the gateway\'s user write to it, or set accessLog.destination to stdout (the default; in a container the runtime collects it) or stderr.',
  },
  RELOAD_WORKER: {
    meaning: 'With listen.workers above 1, a worker could not prepare the new configuration (it failed, exited, or did not answer within the bound): the reload is refused by every worker, and the running configuration keeps serving everywhere.',
    fix: 'The message names the worker and why; its log lines (with its worker number) say more. Reload again (SIGHUP or POST /reload) once it serves; a worker that keeps failing is replaced.',
  },
  RELOAD_PREFLIGHT: {
    meaning: 'With reload.preflight, the handshake with an endpoint whose connection settings changed failed (an error with enforce, which refuses the reload; a warning with warn).',
    fix: 'Fix the trust, TLS settings or URL of the endpoint named (the message gives the failure code), or the backend.',
  },
  // --- warnings on TLS settings
  TLS_ALLOW_ALL: {
    meaning: 'hostnameVerifier AllowAll: any certificate the endpoint trusts is accepted whatever host it names.',
    fix: 'Prefer Strict with tls.serverName set to the name in the certificate.',
  },
  TLS_LEGACY_PROTOCOL: {
    meaning: 'TLSv1 or TLSv1.1 is allowed; both are deprecated (RFC 8996) and need a lowered OpenSSL security level.',
    fix: 'Upgrade the backend to TLSv1.2 or later and remove the old versions from protocols.',
  },
  // --- what a client receives: {"error": {"code", "message", "requestId"}}
  INVALID_PATH: {
    status: 400,
    meaning: 'The request path climbs above the root with .., holds a dot segment with parameters (..; or .;x, which Tomcat and Spring read as ..), or an encoding that a backend could decode into path structure (%2F, %5C, %2E, %00), a backslash, a control character or a malformed escape. Refused rather than guessed at, so that no path escapes its API or the resources allow-list.',
    fix: 'Send the path plainly: no encoded slashes or dots, no .. above the root. Data that contains slashes belongs in the query string or the body.',
  },
  REQUEST_HEADERS_TOO_LARGE: {
    status: 431,
    meaning: 'The request carries more header fields than the gateway accepts (100), or header lines larger than listen.maxHeaderSize in total (then Node answers 431 before the gateway sees the request).',
    fix: 'Send fewer or smaller headers; large data belongs in the body.',
  },
  UPGRADE_NOT_SUPPORTED: {
    status: 501,
    meaning: 'The request asks to switch protocols ("upgrade" in Connection, and Upgrade: websocket or another protocol than h2c): Gatehouse does not proxy upgraded connections yet, and refuses them rather than forward a plain request the backend would misread. An Upgrade header without "upgrade" in Connection is no such request: it is removed and the request proxied. An h2c offer is declined by serving HTTP/1.1.',
    fix: 'Call the backend directly for WebSocket traffic, or put a WebSocket-capable proxy in front of it.',
  },
  INVALID_HOST: {
    status: 400,
    meaning: 'The request carries more than one Host header (RFC 9112 §3.2): which one names the target cannot be told, so the request is refused before it reaches a backend.',
    fix: 'Send one Host header; a client or proxy that duplicates it needs fixing.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning: "The request body is larger than the API's maxBodySize: refused at once when Content-Length says so, else when the streamed body passes the limit (the backend's request is aborted). The connection is closed afterwards.",
    fix: "Send a smaller body, or raise the API's maxBodySize.",
  },
  UNAUTHENTICATED: {
    status: 401,
    meaning: "The API requires a credential (security.apiKey, security.jwt) and the request has none, more than one, a key that is not one of the keys file, or a token that does not verify (signature, issuer, audience, expiry, not-before, algorithm); the response's WWW-Authenticate says which credential the API takes and, for a token, what is wrong with it.",
    fix: 'Send the key in the header the API names (apikey unless security.apiKey.header says otherwise), or a fresh token of the issuer as Authorization: Bearer <token>; a new key comes from `gatehouse key new` and its entry in keys.file.',
  },
  FORBIDDEN: {
    status: 403,
    meaning: "The credential is valid, but may not call this API: the key's apis do not list it, it is a sandbox key or token and the API has no sandbox endpoint (never sent to production instead), or the token's key type claim is neither PRODUCTION nor SANDBOX.",
    fix: "Add the API's name to the key's apis in the keys file, or give the API a sandbox endpoint; the access line names the key.",
  },
  JWKS_UNAVAILABLE: {
    status: 503,
    meaning: "The API takes JWTs whose keys come from an https:// jwks URL, and the gateway has no key set yet: the first fetch failed (the message says why). A set fetched once is kept while the issuer is unreachable, so this happens only before the first success.",
    fix: "Make the jwks URL reachable and trusted (jwt.certificate); the gateway fetches it again on the next request with a token, at most every few seconds. /status shows the fetch's last error.",
  },
  RATE_LIMITED: {
    status: 429,
    meaning: "The caller (an API key, a token's subject, or a client address on an open API) went over the API's rateLimit or its key's plan in the current window. Retry-After says in how many seconds the window ends; RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset say which limit and when.",
    fix: 'Wait Retry-After seconds, or give the key a larger plan (plans in gateway.yaml, plan in the keys file) or the API a larger rateLimit.',
  },
  RATE_LIMIT_UNAVAILABLE: {
    status: 503,
    meaning: 'The API is rate limited, the store the limits are counted in (Redis) did not answer within 100 ms, and rateLimits.onStoreError is deny: the request is refused rather than served uncounted.',
    fix: 'Bring Redis back (the gateway reconnects by itself); or set rateLimits.onStoreError: allow to serve uncounted while it is away. /status shows the store and its last error.',
  },
  NO_ROUTE: {
    status: 404,
    meaning: 'No API matches the path (context and version), the API has no sandbox endpoint for a sandbox request, or its resources do not list the path.',
    fix: 'Call /{context}/{version}/... of a declared API (or /{context}/... for its default version); add the path to resources.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    meaning: "The API's resources list the path, but not with this method. The Allow header lists the methods that are.",
    fix: 'Use an allowed method, or add the method to the resource in the configuration.',
  },
  CERTIFICATE_PENDING: {
    status: 503,
    meaning: "The endpoint's certificate alias has no file yet, so no backend certificate can be trusted.",
    fix: 'Drop <alias>.crt into the certificates folder; the endpoint serves once a reload picks it up.',
  },
  NO_BACKEND_AVAILABLE: {
    status: 503,
    meaning: "Every target of the endpoint's group is suspended after transport failures (or a failed health check), or waits for its certificate.",
    fix: 'The log line with the request id lists each target, until when it is suspended and why; bring a backend back (a target returns when its suspension ends or a health check passes).',
  },
  BACKEND_TLS_UNTRUSTED: {
    status: 502,
    meaning: "The backend's certificate is not trusted by this endpoint (not issued by, nor equal to, a certificate it trusts), or it is expired or not yet valid.",
    fix: "The log line with the request id names the presented certificate; trust it with `gatehouse cert fetch` (check the fingerprint), or fix the backend's certificate.",
  },
  BACKEND_HOSTNAME_MISMATCH: {
    status: 502,
    meaning: "The backend's certificate is trusted but does not name the host the endpoint's hostname verifier checks.",
    fix: "Set tls.serverName to a name in the certificate (the log lists them), reissue the certificate, or relax hostnameVerifier.",
  },
  BACKEND_TLS_PROTOCOL: {
    status: 502,
    meaning: "The TLS handshake failed on protocol version or cipher, or the backend does not speak TLS at all.",
    fix: "Align the endpoint's tls.protocols and tls.ciphers with the backend's; for a plain-HTTP backend use an http:// URL.",
  },
  BACKEND_TLS_CLIENT_CERTIFICATE: {
    status: 502,
    meaning: "The backend refused the TLS handshake over the gateway's client certificate: none was configured, or the backend does not trust it, or it expired.",
    fix: "The log line with the request id says which certificate was offered (alias, subject, fingerprint) and the backend's alert; set clientCertificate, or have the backend trust that certificate's issuer.",
  },
  BACKEND_UNREACHABLE: {
    status: 502,
    meaning: 'The backend could not be reached: name not resolved, connection refused or reset, or the connection closed before a response.',
    fix: "Check that the backend runs and that the URL's host and port are right from the gateway's network.",
  },
  BACKEND_INVALID_RESPONSE: {
    status: 502,
    meaning: 'The backend answered with something that is not valid HTTP/1.1.',
    fix: "Check the backend's port and protocol (an https:// URL on a plain-HTTP port, a non-HTTP service).",
  },
  BACKEND_TIMEOUT: {
    status: 504,
    meaning: "The backend did not complete the connection and TLS handshake within timeouts.connect, or was silent longer than timeouts.socket (waiting for the response headers, or between two parts of the body). The log line names which timeout and its value.",
    fix: "Check the backend; raise the endpoint's timeouts.socket (default 60s, WSO2's http.socket.timeout) or timeouts.connect if it is slow by design.",
  },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

/** The codes a client can receive, with their HTTP status. */
export type RequestCode = { [K in Code]: (typeof CODES)[K] extends { status: number } ? K : never }[Code];
