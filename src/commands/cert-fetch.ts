// gatehouse cert fetch <https-url> --alias NAME [--sha256 FP] [--force] [-c gateway.yaml]
// Captures the chain a backend presents into <certs>/NAME.crt. Connecting trusts nothing (that is
// the point: the backend is not trusted yet), so nothing is written on the connection's word:
// only when --sha256 matches the leaf, or after an interactive "yes" on a terminal. In a script
// without --sha256 it refuses and prints the fingerprint and the command to run once compared:
// never trust-on-first-use silently. An existing file of the alias is replaced only with --force.
import { once } from 'node:events';
import { readFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { isIP } from 'node:net';
import { isatty } from 'node:tty';
import { EXIT_FAILED, EXIT_OK, UsageError, configFile as configFileOf, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { errorCode } from '../backend/failure.js';
import { fetchPresentedChain } from '../backend/probe.js';
import type { PresentedChain } from '../backend/probe.js';
import { bareHost, checkedHostClause, certificateNamesHost, hostnameRemedy, namesOf, verifierAccepts } from '../certs/hostname.js';
import { certificateLabel, parseCertificateBytes, x509Of } from '../certs/parse.js';
import { aliasOf, describeFsError } from '../certs/read.js';
import type { CertificateInfo } from '../certs/types.js';
import { writeFileAtomic } from '../certs/write.js';
import { DEFAULT_CERTS_DIRECTORY, readCertsFolderSetting } from '../config/certs-folder.js';
import { formatDuration, parseDuration } from '../config/durations.js';
import { loadConfig } from '../config/load.js';
import type { TargetConfig, GatewayConfig } from '../config/types.js';
import { certificateUsers, targetsOf, verifiedHost } from '../config/usage.js';
import { displayPath } from '../diagnostics.js';
import { plural, quoteArg } from '../text.js';
import { daysLeft, daysSince } from '../time.js';

export const CERT_FETCH_USAGE = `Usage: gatehouse cert fetch <https-url> --alias NAME [--sha256 FINGERPRINT] [--force] [options]

Connects to the backend without trusting it and shows each certificate it presents (subject,
SANs, issuer, validity, SHA-256 fingerprint), then writes the chain, leaf first, as PEM to
<certs>/NAME.crt. It writes only when --sha256 matches the leaf's fingerprint, or after you type
"yes" on a terminal; in a script without --sha256 it writes nothing and prints the fingerprint
and the command to run once you have compared it with the one the backend's owner gives you.
An existing file of the alias (NAME.crt, .pem, .cer or .der) is replaced only with --force.
Exit code: 0 written, 1 not written, 2 usage error.

Options:
  --alias NAME          the certificate alias (letters, digits, ".", "_", "-"); required
  --sha256 FINGERPRINT  the leaf's SHA-256 fingerprint: hex, colons optional, any case, as
                        \`openssl x509 -noout -fingerprint -sha256 -in leaf.pem\` prints it
  --force               replace the alias's existing certificate file
  --leaf-only           write the leaf alone (a pin: its renewal needs a new fetch), not the
                        issuers the backend presents with it
  -c, --config FILE     the configuration whose certs.directory receives the file
                        (default: $GATEHOUSE_CONFIG, else gateway.yaml; without
                        one, ./certs beside it)
  --out DIR             write into DIR instead
  --servername NAME     the TLS server name (SNI) to send (default: the URL's host, none for an IP)
  --timeout DURATION    connect and handshake timeout, e.g. 5s (default 10s)
`;

/** What cert fetch touches beyond CommandIo: the terminal, to ask before trusting. */
export interface CertFetchIo extends CommandIo {
  /** Where the answer to the prompt is read; process.stdin when absent. */
  readonly stdin?: NodeJS.ReadableStream & { readonly isTTY?: boolean };
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Letters, digits, ".", "_", "-"; not starting with "." (the certificates folder ignores hidden files). */
const ALIAS = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const MAX_ALIAS_LENGTH = 200;

export async function certFetchCommand(args: string[], io: CertFetchIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    alias: { type: 'string' },
    sha256: { type: 'string' },
    force: { type: 'boolean', default: false },
    'leaf-only': { type: 'boolean', default: false },
    config: { type: 'string', short: 'c' },
    out: { type: 'string' },
    servername: { type: 'string' },
    timeout: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('the backend\'s URL is needed, e.g. https://backend.internal:9443');
  if (positionals.length > 1) throw new UsageError(`one URL only (got "${positionals.join('", "')}")`);
  const url = parseBackendUrl(positionals[0]!);
  const alias = values.alias;
  if (alias === undefined) throw new UsageError('--alias NAME is needed: the file is written as <certs>/NAME.crt');
  if (!ALIAS.test(alias) || alias.length > MAX_ALIAS_LENGTH) {
    throw new UsageError(`--alias must be a file name of letters, digits, ".", "_" and "-", not starting with "." (got "${alias}")`);
  }
  const expected = values.sha256 === undefined ? undefined : parseFingerprint(values.sha256);
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(values.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout must be a positive duration such as 500ms or 5s (got "${values.timeout}")`);
  const servername = values.servername ?? (isIP(bareHost(url.hostname)) ? undefined : url.hostname);

  // Where the file goes, and the configuration that tells which endpoints use it.
  const configFile = configFileOf(io, values.config);
  const target = await resolveTarget(configFile, values.out, io);
  const show = (file: string): string => displayPath(file, io.cwd);

  // The chain, as presented.
  let fetched: PresentedChain;
  try {
    fetched = await fetchPresentedChain(url.hostname, Number(url.port) || 443, servername, timeoutMs);
  } catch (e) {
    const code = errorCode(e);
    io.stderr.write(`gatehouse cert fetch: no certificate from ${url.origin}: ${(e as Error).message}${code && !(e as Error).message.includes(code) ? ` (${code})` : ''}\n`);
    return EXIT_FAILED;
  }
  const chain = values['leaf-only'] ? fetched.chain.slice(0, 1) : fetched.chain;
  const leaf = chain[0]!;
  io.stdout.write(renderChain(url, servername, fetched, Date.now()));

  // Never overwrite without --force; an alias carried by two files is ambiguous to the gateway.
  const directory = target.directory;
  const existing = await existingFiles(directory, alias);
  if (existing.length > 1) {
    io.stderr.write(`gatehouse cert fetch: certificate alias "${alias}" is carried by ${existing.map((f) => show(path.join(directory, f))).join(' and ')}, which the gateway refuses as ambiguous; remove all but one first. Nothing written.\n`);
    return EXIT_FAILED;
  }
  if (existing.length === 1 && !values.force) {
    const file = path.join(directory, existing[0]!);
    io.stderr.write(`gatehouse cert fetch: ${show(file)} already exists${await sameLeafNote(file, leaf)}; pass --force to replace it. Nothing written.\n`);
    return EXIT_FAILED;
  }

  // Trust: the fingerprint given, or a person at a terminal; never silently.
  const fingerprint = leaf.fingerprint256;
  const outFile = existing.length === 1 && aliasOf(existing[0]!)!.extension !== '.der' ? path.join(directory, existing[0]!) : path.join(directory, `${alias}.crt`);
  if (expected !== undefined) {
    if (hexOf(fingerprint) !== expected) {
      const other = fetched.chain.slice(1).find((c) => hexOf(c.fingerprint256) === expected);
      const which = other ? ` (it is the fingerprint of "${certificateLabel(other)}", an issuer in the chain; --sha256 must be the leaf's)` : '';
      io.stderr.write(
        `gatehouse cert fetch: the leaf's SHA-256 fingerprint is ${fingerprint}, not ${colonHex(expected)} as given with --sha256${which}. Nothing written: this may not be the backend you expect (or its certificate changed); check with its owner.\n`,
      );
      return EXIT_FAILED;
    }
    io.stdout.write(`\nThe leaf's SHA-256 fingerprint matches --sha256.\n`);
  } else {
    // isatty(0) rather than process.stdin.isTTY: no stdin stream is opened unless there is a prompt.
    const interactive = (io.stdin ? io.stdin.isTTY === true : isatty(0)) && (io.stdout as { isTTY?: boolean }).isTTY === true;
    if (!interactive) {
      const command = rerunCommand(positionals[0]!, alias, fingerprint, values);
      io.stderr.write(
        `gatehouse cert fetch: not written: without --sha256, a certificate is trusted only after a "yes" on a terminal, never silently in a script.\n` +
          `The leaf's SHA-256 fingerprint is ${fingerprint}.\n` +
          `Compare it with the one the backend's owner gives you (\`openssl x509 -noout -fingerprint -sha256 -in leaf.pem\`), then run:\n  ${command}\n`,
      );
      return EXIT_FAILED;
    }
    const answer = await ask(
      io.stdin ?? process.stdin,
      io.stdout,
      `\nTrust this ${chain.length > 1 ? 'chain' : 'certificate'} for certificate alias "${alias}"? Compare the leaf's SHA-256 fingerprint with the one the backend's owner gives you.\nType yes to write ${show(outFile)}: `,
    );
    if (answer?.trim().toLowerCase() !== 'yes') {
      io.stderr.write(`gatehouse cert fetch: not written (the answer was not "yes").\n`);
      return EXIT_FAILED;
    }
  }

  try {
    await writeFileAtomic(outFile, chainFileText(chain, url), { replace: Boolean(values.force) });
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it appeared meanwhile; pass --force to replace it' : describeFsError(e);
    io.stderr.write(`gatehouse cert fetch: cannot write ${show(outFile)}: ${reason}. Nothing written.\n`);
    return EXIT_FAILED;
  }
  // A .der file cannot hold a chain: the PEM .crt replaces it, written first so the alias never goes missing.
  const replacedDer = existing.length === 1 && aliasOf(existing[0]!)!.extension === '.der' ? path.join(directory, existing[0]!) : undefined;
  if (replacedDer) await unlink(replacedDer).catch(() => undefined);

  const what = chain.length === 1 ? '1 certificate, the leaf' : `${chain.length} certificates, the leaf first`;
  io.stdout.write(`Wrote ${show(outFile)} (${what})${existing.length ? `, replacing ${show(path.join(directory, existing[0]!))}` : ''}.\n`);
  io.stdout.write(usageNotes(alias, leaf, servername ?? bareHost(url.hostname), outFile, target, show).join('\n') + '\n');
  return EXIT_OK;
}

// ------------------------------------------------------------------ arguments

function parseBackendUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`"${value}" is not a URL; give the backend's https:// URL, e.g. https://backend.internal:9443`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`the URL must start with https:// (got "${value}"): only a TLS backend presents a certificate`);
  return url;
}

/**
 * The hex digits of a SHA-256 fingerprint as people paste it: "AB:CD:...", "abcd...", or
 * openssl's whole line "sha256 Fingerprint=AB:CD:...". Lower-case, without separators.
 */
export function parseFingerprint(value: string): string {
  const hex = value
    .replace(/^.*fingerprint\s*=\s*/i, '')
    .replace(/[\s:]/g, '')
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new UsageError(`--sha256 must be a SHA-256 fingerprint: 64 hexadecimal digits, colons allowed, as \`openssl x509 -noout -fingerprint -sha256\` prints it (got "${value}")`);
  }
  return hex;
}

function hexOf(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}

function colonHex(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

function rerunCommand(url: string, alias: string, fingerprint: string, values: { force?: boolean; 'leaf-only'?: boolean; config?: string; out?: string; servername?: string; timeout?: string }): string {
  const parts = ['gatehouse', 'cert', 'fetch', url, '--alias', alias, '--sha256', fingerprint];
  if (values.force) parts.push('--force');
  if (values['leaf-only']) parts.push('--leaf-only');
  if (values.config !== undefined) parts.push('-c', values.config);
  if (values.out !== undefined) parts.push('--out', values.out);
  if (values.servername !== undefined) parts.push('--servername', values.servername);
  if (values.timeout !== undefined) parts.push('--timeout', values.timeout);
  return parts.map(quoteArg).join(' ');
}

// ------------------------------------------------------------------ where the file goes

interface Target {
  readonly directory: string;
  readonly configFile: string;
  /** The configuration, when it loaded. */
  readonly config?: GatewayConfig;
  /** Why the configuration is not there to tell which endpoints use the alias. */
  readonly configProblem?: string;
}

async function resolveTarget(configFile: string, out: string | undefined, io: CommandIo): Promise<Target> {
  const { config, diagnostics } = await loadConfig(configFile, { env: io.env });
  const show = displayPath(configFile, io.cwd);
  if (out !== undefined) {
    return { directory: path.resolve(io.cwd, out), configFile, ...(config ? { config } : { configProblem: loadProblem(show, diagnostics) }) };
  }
  if (config) return { directory: config.certs.directory, configFile, config };
  // The file does not load: its certs.directory as written, else the default folder beside it.
  const setting = await readCertsFolderSetting(configFile, io.env);
  const directory = 'directory' in setting ? setting.directory : path.resolve(path.dirname(configFile), DEFAULT_CERTS_DIRECTORY);
  return { directory, configFile, configProblem: loadProblem(show, diagnostics) };
}

function loadProblem(show: string, diagnostics: readonly { code: string; severity: string }[]): string {
  if (diagnostics.some((d) => d.code === 'CONFIG_READ')) return `there is no ${show} to tell which endpoints use it`;
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  return `${show} does not load (${plural(errors, 'error')}: run \`gatehouse validate\`), so which endpoints use it is unknown`;
}

/** Files of the folder that carry the alias, as the gateway reads them (any case of extension, hidden files ignored). */
async function existingFiles(directory: string, alias: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  return names.filter((name) => !name.startsWith('.') && aliasOf(name)?.alias === alias).sort();
}

async function sameLeafNote(file: string, leaf: CertificateInfo): Promise<string> {
  try {
    const parsed = parseCertificateBytes(await readFile(file));
    if (!parsed.ok) return ` (and does not parse: ${parsed.reason})`;
    const first = parsed.certificates[0]!;
    return first.fingerprint256 === leaf.fingerprint256
      ? ' and already holds this leaf'
      : ` and holds another certificate ("${certificateLabel(first)}", SHA-256 ${first.fingerprint256}, notAfter ${first.notAfter})`;
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------ the handshake

// ------------------------------------------------------------------ output

/** One line from the terminal; undefined when it closes first. */
async function ask(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, question: string): Promise<string | undefined> {
  // terminal: false: the terminal's own line editing is enough to type "yes", and the input
  // need not support raw mode.
  const rl = createInterface({ input, output, terminal: false });
  try {
    return await Promise.race([rl.question(question), once(rl, 'close').then(() => undefined)]);
  } finally {
    rl.close();
  }
}

function kindOf(info: CertificateInfo, index: number): string {
  if (index === 0) return info.selfIssued ? 'leaf, self-signed' : 'leaf';
  if (!info.isCA) return 'certificate (not a CA)';
  return info.selfIssued ? 'root CA' : 'intermediate CA';
}

function validityOf(info: CertificateInfo, nowMs: number): string {
  const notBeforeMs = Date.parse(info.notBefore);
  if (nowMs > info.notAfterMs) return `EXPIRED ${plural(daysSince(info.notAfterMs, nowMs), 'day')} ago`;
  if (nowMs < notBeforeMs) return `NOT VALID YET, for ${plural(-daysLeft(notBeforeMs, nowMs), 'day')}`;
  return `${plural(daysLeft(info.notAfterMs, nowMs), 'day')} left`;
}

function renderChain(url: URL, servername: string | undefined, fetched: PresentedChain, nowMs: number): string {
  const sni = servername === undefined ? 'no server name (an IP address)' : `server name ${servername}`;
  let out = `${url.origin} (${fetched.address}, ${sni}${fetched.tlsVersion ? `, ${fetched.tlsVersion}` : ''}) presents ${plural(fetched.chain.length, 'certificate')}:\n`;
  fetched.chain.forEach((c, i) => {
    out += `\n  ${i + 1}. ${kindOf(c, i)}\n`;
    out += `     subject   ${c.subject || '(empty)'}\n`;
    out += `     SANs      ${c.subjectAltNames.length ? c.subjectAltNames.join(', ') : '(none)'}\n`;
    out += `     issuer    ${c.issuer}\n`;
    out += `     valid     ${c.notBefore} to ${c.notAfter} (${validityOf(c, nowMs)})\n`;
    out += `     SHA-256   ${c.fingerprint256}\n`;
  });
  const leaf = fetched.chain[0]!;
  if (nowMs > leaf.notAfterMs) {
    out += `\nwarning: the leaf has expired: the gateway refuses an expired certificate whatever it trusts (CERT_HAS_EXPIRED); its owner must renew it.\n`;
  }
  return out;
}

/** What a file of the chain looks like: a comment per certificate, then its PEM block. */
function chainFileText(chain: readonly CertificateInfo[], url: URL): string {
  // Comments never hold a PEM marker nor a control character, whatever a certificate's names hold.
  const safe = (text: string): string => text.replace(/[^\x20-\x7e]/g, '?').replace(/-{5,}/g, '-');
  let text = `# Fetched from ${safe(url.origin)} on ${new Date().toISOString()} by gatehouse cert fetch: the chain the backend presented, leaf first.\n`;
  chain.forEach((c, i) => {
    text += `# ${i + 1}. subject: ${safe(c.subject)}; issuer: ${safe(c.issuer)}; notAfter: ${c.notAfter}; SHA-256: ${c.fingerprint256}\n`;
    text += c.pem.endsWith('\n') ? c.pem : `${c.pem}\n`;
  });
  return text;
}

/**
 * Which endpoints reference the alias, whether their hostname verifiers accept the leaf, and when
 * the gateway sees the file. The leaf is what the backend presents, so its names must match
 * whatever else is trusted, a CA:TRUE flag or the system roots included.
 */
function usageNotes(alias: string, leaf: CertificateInfo, host: string, outFile: string, target: Target, show: (file: string) => string): string[] {
  const notes: string[] = [];
  const { config } = target;
  const x509 = x509Of(leaf);
  if (!config) {
    notes.push(`Certificate alias "${alias}": ${target.configProblem ?? 'no configuration'}.`);
    notes.push(`A running gateway whose certificates folder is ${show(target.directory)} picks the file up within its reload.interval, or at once on SIGHUP or POST /reload.`);
    return notes;
  }
  const users: readonly TargetConfig[] = certificateUsers(targetsOf(config)).get(alias) ?? [];
  const describe = (endpoint: TargetConfig) => `${endpoint.description} (${endpoint.path})`;
  for (const endpoint of users) {
    const checked = verifiedHost(endpoint);
    if (verifierAccepts(checked.verifier, x509, checked.host)) continue;
    notes.push(`warning: the leaf names ${namesOf(leaf)} but not ${checkedHostClause(checked)} for ${describe(endpoint)}: ${hostnameRemedy(checked)}.`);
  }
  const ownFolder = path.resolve(target.directory) === path.resolve(config.certs.directory);
  const where = ownFolder ? '' : ` (note: ${show(config.file)} reads certificates from ${show(config.certs.directory)}, not ${show(target.directory)})`;
  const interval = formatDuration(config.reload.intervalMs);
  if (users.length === 0) {
    notes.push(`No endpoint of ${show(config.file)} references certificate alias "${alias}" yet: set \`certificate: ${alias}\` on the endpoint it is for${where}. A running gateway picks it up within reload.interval (${interval}), or at once on SIGHUP or POST /reload.`);
  } else {
    const names = users.map(describe).join('; ');
    notes.push(`Certificate alias "${alias}" is used by ${names}${where}. A running gateway picks ${show(outFile)} up within reload.interval (${interval}), or at once on SIGHUP or POST /reload.`);
  }
  // No endpoint to say which name is verified: the URL's (or --servername's) is the likely one.
  if (users.length === 0 && !certificateNamesHost(x509, host)) {
    notes.push(`note: the leaf does not name "${host}" (it names ${namesOf(leaf)}): an endpoint for it needs tls.serverName set to one of those names, unless its hostnameVerifier says otherwise.`);
  }
  return notes;
}
