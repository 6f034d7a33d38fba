// gatehouse cert list [-c gateway.yaml] [--format text|json]
// The inventory of the certificates folder as the configuration sees it: every file with its
// certificates (subject, SANs, expiry, days left) and who uses it (endpoints, the HTTPS
// listener), the aliases referenced that have no file yet, and the files no one references.
import path from 'node:path';
import { EXIT_FAILED, EXIT_OK, configFileArg, formatArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { formatTable } from '../cli/table.js';
import { expiryState } from '../certs/expiry.js';
import { aliasOf } from '../certs/read.js';
import type { CertificateInfo, KeyPairCredentials } from '../certs/types.js';
import { loadConfig } from '../config/load.js';
import { summarizeCertificate } from '../config/summary.js';
import type { CertificateSummary } from '../config/summary.js';
import type { GatewayConfig } from '../config/types.js';
import { targetsOf } from '../config/usage.js';
import { displayPath, formatText } from '../diagnostics.js';
import type { Diagnostic } from '../diagnostics.js';
import { plural } from '../text.js';
import { daysLeft } from '../time.js';

export const CERT_LIST_USAGE = `Usage: gatehouse cert list [-c gateway.yaml] [--format text|json]

The inventory of the certificates folder: per alias, the subject, SANs, expiry and days left of
each certificate of its file, and what uses it (endpoints, the HTTPS listener). Also listed:
aliases that endpoints reference but that have no file yet (pending), files that no endpoint
references (unreferenced), and files that cannot be read or parsed (unusable).

Exit code: 0 listed, 1 the configuration is invalid (its errors are printed), 2 usage error.

Options:
  -c, --config FILE   the configuration (default: $GATEHOUSE_CONFIG, else gateway.yaml here)
  --format FORMAT     text (default) or json
`;

const FORMATS = ['text', 'json'] as const;

export type InventoryStatus = 'used' | 'unreferenced' | 'pending' | 'unusable';

export interface InventoryUser {
  /** Configuration path: apis[0].endpoints.production, or listen.https.certificate. */
  readonly path: string;
  readonly api?: string;
  readonly version?: string;
  readonly endpoint?: 'production' | 'sandbox';
  /** client: the certificate is presented to the backend (clientCertificate), not trusted. */
  readonly use?: 'client';
}

export interface InventoryCertificate extends CertificateSummary {
  /** Whole days until notAfter, rounded down; negative once expired. */
  readonly daysLeft: number;
  /** expired, not-yet-valid, expiring (within certs.warnBefore) or valid. */
  readonly state: 'valid' | 'expiring' | 'expired' | 'not-yet-valid';
}

export interface InventoryEntry {
  readonly alias: string;
  readonly status: InventoryStatus;
  /** Absolute path; absent for a pending alias. */
  readonly file?: string;
  readonly sha256?: string;
  readonly certificates: readonly InventoryCertificate[];
  readonly usedBy: readonly InventoryUser[];
  /** Why an unusable file cannot be used. */
  readonly reason?: string;
}

export async function certListCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    config: { type: 'string', short: 'c' },
    format: { type: 'string', default: 'text' },
  });
  const format = formatArg(values.format, FORMATS);
  const file = configFileArg(io, values.config, positionals);
  const nowMs = Date.now();
  const { config, diagnostics } = await loadConfig(file, { env: io.env, nowMs });
  if (!config) {
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    io.stderr.write(formatText(diagnostics, io.cwd));
    io.stderr.write(`${displayPath(file, io.cwd)}: invalid: ${plural(errors, 'error')}; the inventory is listed once the configuration is valid\n`);
    return EXIT_FAILED;
  }
  const entries = inventoryOf(config, diagnostics, nowMs);

  if (format === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          file: displayPath(file, io.cwd),
          directory: displayPath(config.certs.directory, io.cwd),
          generatedAt: new Date(nowMs).toISOString(),
          certificates: entries.map((e) => ({ ...e, ...(e.file !== undefined ? { file: displayPath(e.file, io.cwd) } : {}) })),
        },
        null,
        2,
      ) + '\n',
    );
    return EXIT_OK;
  }

  const count = (status: InventoryStatus): number => entries.filter((e) => e.status === status).length;
  const files = entries.length - count('pending');
  const parts = [`${count('used')} used`, `${count('unreferenced')} unreferenced`, ...(count('unusable') ? [`${count('unusable')} unusable`] : [])];
  const pending = count('pending') ? `; ${plural(count('pending'), 'pending alias', 'pending aliases')} (no file yet)` : '';
  io.stdout.write(`${displayPath(config.certs.directory, io.cwd)}/ of ${displayPath(file, io.cwd)}: ${plural(files, 'file')} (${parts.join(', ')})${pending}\n`);
  if (entries.length === 0) return EXIT_OK;
  io.stdout.write('\n' + formatTable([['ALIAS', 'SUBJECT', 'SANS', 'NOT AFTER', 'DAYS LEFT', 'USED BY'], ...entries.flatMap(textRows)]));
  const unusable = entries.filter((e) => e.status === 'unusable');
  if (unusable.length > 0) io.stdout.write('\n' + unusable.map((e) => `${displayPath(e.file!, io.cwd)}: ${e.reason ?? 'cannot be read'}\n`).join(''));
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  if (warnings > 0) io.stdout.write(`\n${plural(warnings, 'warning')}: \`gatehouse validate\` shows ${warnings === 1 ? 'it' : 'them'}\n`);
  return EXIT_OK;
}

function textRows(entry: InventoryEntry): string[][] {
  const users = entry.usedBy.length ? entry.usedBy.map(userLabel).join(', ') : '(unreferenced)';
  if (entry.status === 'pending') return [[entry.alias, '(pending: no file yet)', '', '', '', users]];
  // The reason is long (it names what the file holds): printed under the table, not in a column.
  if (entry.status === 'unusable') return [[entry.alias, '(unusable: see below)', '', '', '', users]];
  return entry.certificates.map((c, i) => [
    i === 0 ? entry.alias : '',
    c.subject || '-',
    c.subjectAltNames.join(', ') || '-',
    c.notAfter.slice(0, 10),
    daysLeftLabel(c),
    i === 0 ? users : '',
  ]);
}

function daysLeftLabel(c: InventoryCertificate): string {
  switch (c.state) {
    case 'expired':
      return `${c.daysLeft} (expired)`;
    case 'expiring':
      return `${c.daysLeft} (renew)`;
    case 'not-yet-valid':
      return `${c.daysLeft} (not yet valid)`;
    default:
      return String(c.daysLeft);
  }
}

function userLabel(user: InventoryUser): string {
  return user.api !== undefined ? `${user.api} ${user.version} ${user.endpoint}${user.use === 'client' ? ' (client certificate)' : ''}` : 'HTTPS listener';
}

/** Pure: the compiled configuration (and its load's warnings, for unusable files) → the inventory, sorted by alias. */
export function inventoryOf(config: GatewayConfig, diagnostics: readonly Diagnostic[], nowMs: number): InventoryEntry[] {
  const users = new Map<string, InventoryUser[]>();
  const pending = new Map<string, InventoryUser[]>();
  for (const endpoint of targetsOf(config)) {
    const user: InventoryUser = { path: endpoint.path, api: endpoint.api.name, version: endpoint.api.version, endpoint: endpoint.role };
    for (const alias of endpoint.certificateAliases) {
      const map = endpoint.pendingAliases.includes(alias) ? pending : users;
      map.set(alias, [...(map.get(alias) ?? []), user]);
    }
  }
  // Client certificates (SPEC §9): a PEM pair's .crt is a file of the folder; a PKCS#12 is listed like the listener's.
  const clientPairs = new Map<string, { credentials: KeyPairCredentials | undefined; users: InventoryUser[] }>();
  for (const endpoint of targetsOf(config)) {
    const client = endpoint.clientCertificate;
    if (!client) continue;
    const pair = clientPairs.get(client.alias) ?? { credentials: client.credentials, users: [] };
    pair.users.push({ path: endpoint.path, api: endpoint.api.name, version: endpoint.api.version, endpoint: endpoint.role, use: 'client' });
    clientPairs.set(client.alias, pair);
  }
  const listener = config.listen.https;
  const listenerUser: InventoryUser = { path: 'listen.https.certificate' };

  const describe = (c: CertificateInfo): InventoryCertificate => {
    const state = expiryState(c, nowMs, config.certs.warnBeforeMs).state;
    return { ...summarizeCertificate(c), daysLeft: daysLeft(c.notAfterMs, nowMs), state };
  };

  const entries: InventoryEntry[] = config.inventory.map((file) => {
    const usedBy = [...(users.get(file.alias) ?? [])];
    if (listener?.credentials.kind === 'pem' && listener.credentials.certPath === file.path) usedBy.push(listenerUser);
    const pair = clientPairs.get(file.alias);
    if (pair?.credentials?.kind === 'pem' && pair.credentials.certPath === file.path) usedBy.push(...pair.users);
    return {
      alias: file.alias,
      status: usedBy.length ? 'used' : 'unreferenced',
      file: file.path,
      sha256: file.sha256,
      certificates: file.certificates.map(describe),
      usedBy,
    };
  });
  // A PKCS#12 listener certificate is not a trust file, so not in the inventory.
  if (listener?.credentials.kind === 'pfx') {
    entries.push({ alias: listener.certificate, status: 'used', file: listener.credentials.path, certificates: listener.credentials.certificates.map(describe), usedBy: [listenerUser] });
  }
  for (const [alias, { credentials, users: usedBy }] of clientPairs) {
    if (!credentials) entries.push({ alias, status: 'pending', certificates: [], usedBy });
    else if (credentials.kind === 'pfx') entries.push({ alias, status: 'used', file: credentials.path, certificates: credentials.certificates.map(describe), usedBy });
  }
  for (const [alias, usedBy] of pending) entries.push({ alias, status: 'pending', certificates: [], usedBy });
  // Files that cannot be read or parsed are not in the inventory; an unreferenced one is a warning of the load.
  for (const d of diagnostics) {
    if (d.severity !== 'warning' || (d.code !== 'CERT_PARSE' && d.code !== 'CERT_READ')) continue;
    if (path.dirname(d.file) !== config.certs.directory) continue;
    const alias = aliasOf(path.basename(d.file))?.alias ?? path.basename(d.file);
    const reason = d.message.replace(/ \(not referenced by any endpoint: inventory only\)$/, '');
    entries.push({ alias, status: 'unusable', file: d.file, certificates: [], usedBy: [], reason });
  }
  return entries.sort((a, b) => compare(a.alias, b.alias) || compare(a.file ?? '', b.file ?? ''));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
