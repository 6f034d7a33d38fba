// gatehouse plan [-c file] [--against http://127.0.0.1:9901]
// What applying this file would change (docs/operations.md), as `terraform plan` says it: APIs and endpoints
// added, removed or changed, trust changes with the certificates' fingerprints and days left,
// timeout and TLS changes. Compared with a running gateway's /status, or without --against with
// the version of the file committed in git (HEAD), or with nothing (everything is added).
import { plural } from '../text.js';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { EXIT_FAILED, EXIT_OK, configFileArg, formatArg, parseCommandArgs } from '../cli/io.js';
import type { CommandIo } from '../cli/io.js';
import { summaryOfStatus } from '../admin/status.js';
import type { StatusDocument } from '../admin/status.js';
import { diffConfigs, hasChanges } from '../config/diff.js';
import type { ConfigChanges, FieldChange } from '../config/diff.js';
import { loadConfig } from '../config/load.js';
import { isGroupSummary, summarizeConfig } from '../config/summary.js';
import type { CertificateFileSummary, CertificateSummary, ConfigSummary, TargetSummary } from '../config/summary.js';
import { CERTIFICATE_EXTENSIONS } from '../certs/read.js';
import { displayPath, formatText, hasErrors } from '../diagnostics.js';
import { daysLeft } from '../time.js';

export const PLAN_USAGE = `Usage: gatehouse plan [-c gateway.yaml] [--against URL] [--format text|json]

What applying the configuration would change: APIs and endpoints added, removed or changed,
trust changes (certificates added or removed, fingerprints, days to expiry), timeout and TLS
changes. Compared with:
  --against URL   a running gateway's admin address (reads its /status; the token, if it has
                  one, from --token or GATEHOUSE_ADMIN_TOKEN)
  (default)       the version committed in git (HEAD) when the file is in a repository,
                  else nothing: everything would be created

Options:
  -c, --config FILE   the configuration (default: $GATEHOUSE_CONFIG, else gateway.yaml here)
  --token TOKEN       the admin token for --against (prefer GATEHOUSE_ADMIN_TOKEN)
  --format FORMAT     text (default) or json
Exit code: 0 (changes or not), 1 when the file has errors or the comparison cannot be made.
`;

const run = promisify(execFile);

export interface Baseline {
  readonly summary: ConfigSummary | undefined;
  /** What the file is compared with, for the heading. */
  readonly description: string;
}

export async function planCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    config: { type: 'string', short: 'c' },
    against: { type: 'string' },
    token: { type: 'string' },
    format: { type: 'string', default: 'text' },
  });
  const format = formatArg(values.format, ['text', 'json'] as const);
  const file = configFileArg(io, values.config, positionals);
  const loaded = await loadConfig(file, { env: io.env });
  if (!loaded.config || hasErrors(loaded.diagnostics)) {
    io.stderr.write(formatText(loaded.diagnostics, io.cwd));
    io.stderr.write(`gatehouse plan: ${displayPath(file, io.cwd)} has errors; fix them first (gatehouse validate)\n`);
    return EXIT_FAILED;
  }
  const after = summarizeConfig(loaded.config);

  let baseline: Baseline;
  try {
    baseline = values.against ? await fromGateway(values.against, values.token ?? io.env.GATEHOUSE_ADMIN_TOKEN) : await fromGit(file, io);
  } catch (error) {
    io.stderr.write(`gatehouse plan: ${(error as Error).message}\n`);
    return EXIT_FAILED;
  }
  const changes = diffConfigs(baseline.summary, after);
  const nowMs = Date.now();
  if (format === 'json') {
    io.stdout.write(JSON.stringify({ file: displayPath(file, io.cwd), against: baseline.description, revision: after.revision, changed: hasChanges(changes), changes }, null, 2) + '\n');
  } else {
    io.stdout.write(renderPlan(displayPath(file, io.cwd), baseline, after, changes, nowMs));
  }
  return EXIT_OK;
}

async function fromGateway(url: string, token: string | undefined): Promise<Baseline> {
  const target = new URL('/status', url);
  let response;
  try {
    response = await request(target, { headers: token ? { authorization: `Bearer ${token}` } : {}, headersTimeout: 10_000, bodyTimeout: 10_000 });
  } catch (error) {
    throw new Error(`cannot reach the gateway's admin address at ${target.origin}: ${(error as Error).message} (is it running? is --against its admin.address?)`, { cause: error });
  }
  const text = await response.body.text();
  if (response.statusCode === 401) throw new Error(`${target.href} needs the admin token: pass --token or set GATEHOUSE_ADMIN_TOKEN`);
  if (response.statusCode !== 200) throw new Error(`${target.href} answered ${response.statusCode}: ${text.slice(0, 200)}`);
  const status = JSON.parse(text) as StatusDocument;
  if (!Array.isArray(status.apis) || !Array.isArray(status.certificates)) throw new Error(`${target.href} did not return a Gatehouse status document`);
  return { summary: summaryOfStatus(status), description: `the gateway at ${target.origin} (generation ${status.generation}, revision ${status.revision.slice(0, 12)})` };
}

/**
 * The committed version: HEAD's copy of the configuration and of its certificates folder, written
 * to a temporary folder with the same layout and loaded there, so that the certificates it
 * referenced at the time are compared too.
 */
async function fromGit(file: string, io: CommandIo): Promise<Baseline> {
  const git = (args: string[], cwd: string) => run('git', args, { cwd, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  let root: string;
  try {
    root = (await git(['rev-parse', '--show-toplevel'], path.dirname(file))).stdout.toString().trim();
  } catch {
    return { summary: undefined, description: 'nothing (the file is not in a git repository): everything would be created' };
  }
  const relative = path.relative(root, file).split(path.sep).join('/');
  let committed: Buffer;
  try {
    committed = (await git(['show', `HEAD:${relative}`], root)).stdout;
  } catch {
    return { summary: undefined, description: `nothing (${relative} is not committed yet): everything would be created` };
  }
  const temporary = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-plan-'));
  try {
    const copy = path.join(temporary, relative);
    await mkdir(path.dirname(copy), { recursive: true });
    await writeFile(copy, committed);
    // The committed file's certificates folder, as that file names it.
    const before = await loadConfig(copy, { env: io.env });
    const certs = before.config?.certs.directory;
    if (certs && path.relative(temporary, certs).split(path.sep)[0] !== '..') {
      const certsRelative = path.relative(temporary, certs).split(path.sep).join('/');
      const listed = (await git(['ls-tree', '-r', '--name-only', 'HEAD', '--', `${certsRelative}/`], root)).stdout.toString().split('\n');
      for (const name of listed.filter((n) => CERTIFICATE_EXTENSIONS.some((ext) => n.toLowerCase().endsWith(ext)))) {
        const target = path.join(temporary, name);
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, (await git(['show', `HEAD:${name}`], root)).stdout);
      }
    }
    const reloaded = await loadConfig(copy, { env: io.env });
    if (!reloaded.config) return { summary: undefined, description: `nothing (the committed ${relative} does not load): everything would be created` };
    const commit = (await git(['rev-parse', '--short', 'HEAD'], root)).stdout.toString().trim();
    return { summary: summarizeConfig(reloaded.config), description: `${relative} as committed in git (HEAD, ${commit})` };
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ rendering

export function renderPlan(file: string, baseline: Baseline, after: ConfigSummary, changes: ConfigChanges, nowMs: number): string {
  const lines: string[] = [`Plan for ${file}, compared with ${baseline.description}:`, ''];
  if (!hasChanges(changes)) return `${lines[0]}\n\nNo changes: the gateway would serve the same configuration.\n`;

  const byFingerprint = new Map<string, { alias: string; certificate: CertificateSummary }>();
  for (const file of [...(baseline.summary?.certificates ?? []), ...after.certificates]) {
    for (const certificate of file.certificates) byFingerprint.set(certificate.fingerprint256, { alias: file.alias, certificate });
  }
  const describeFingerprint = (fingerprint: string) => {
    const known = byFingerprint.get(fingerprint);
    return known ? `${known.alias}: ${describeCertificate(known.certificate, nowMs)}` : `SHA-256 ${fingerprint}`;
  };
  const apisAfter = new Map(after.apis.map((api) => [`${api.name} ${api.version}`, api]));

  const { apis, endpoints, certificates } = changes;
  if (apis.added.length + apis.removed.length + apis.changed.length > 0) {
    lines.push('APIs');
    for (const name of apis.added) {
      const api = apisAfter.get(name);
      lines.push(`  + ${name}  (context ${api?.context ?? '?'})`);
      const from = api?.resourcesFrom;
      if (from) {
        lines.push(`      resources: ${plural(api.resources?.length ?? 0, 'path')} from ${from.file} (${from.specification})`);
        if (from.ignored) lines.push(`      not used for routing: ${from.ignored.join('; ')}`);
      }
    }
    for (const name of apis.removed) lines.push(`  - ${name}`);
    for (const change of apis.changed) {
      lines.push(`  ~ ${change.name}`);
      for (const field of change.fields) lines.push(`      ${field.field}: ${show(field.before)} → ${show(field.after)}`);
    }
    lines.push('');
  }
  if (endpoints.added.length + endpoints.removed.length + endpoints.changed.length > 0) {
    lines.push('Endpoints');
    const endpointsAfter = new Map(after.apis.flatMap((api) => Object.entries(api.endpoints).map(([role, endpoint]) => [`${api.name} ${api.version} ${role}`, endpoint] as [string, typeof endpoint])));
    for (const name of endpoints.added) {
      const endpoint = endpointsAfter.get(name);
      const group = endpoint && isGroupSummary(endpoint) ? endpoint : undefined;
      lines.push(`  + ${name}  ${group ? `${group.balance} over ${group.targets.length} targets` : ((endpoint as TargetSummary | undefined)?.url ?? '')}`);
      for (const target of group ? group.targets : endpoint ? [endpoint as TargetSummary] : []) {
        const indent = group ? '        ' : '      ';
        if (group) lines.push(`      ${target.url}${target.weight !== undefined && target.weight !== 1 ? ` (weight ${target.weight})` : ''}`);
        for (const fingerprint of target.trustedFingerprints) lines.push(`${indent}trusts ${describeFingerprint(fingerprint)}`);
        for (const alias of target.pendingCertificates) {
          lines.push(`${indent}trusts ${alias}: no file yet (${group ? 'the target is left out of its group' : 'the endpoint answers 503 CERTIFICATE_PENDING'} until it exists)`);
        }
      }
    }
    for (const name of endpoints.removed) lines.push(`  - ${name}`);
    for (const change of endpoints.changed) {
      lines.push(`  ~ ${change.name}`);
      for (const field of change.fields) lines.push(...renderEndpointField(field, describeFingerprint));
    }
    lines.push('');
  }
  if (certificates.added.length + certificates.removed.length + certificates.changed.length > 0) {
    lines.push('Certificates folder');
    for (const file of certificates.added) lines.push(`  + ${path.basename(file.file)}  ${describeFile(file, nowMs)}`);
    for (const file of certificates.removed) lines.push(`  - ${path.basename(file.file)}  ${describeFile(file, nowMs)}`);
    for (const { before, after: now } of certificates.changed) {
      lines.push(`  ~ ${path.basename(now.file)}`);
      lines.push(`      before: ${describeFile(before, nowMs)}`);
      lines.push(`      after:  ${describeFile(now, nowMs)}`);
    }
    lines.push('');
  }
  const count = (group: { added: readonly unknown[]; removed: readonly unknown[]; changed: readonly unknown[] }, noun: string) =>
    `${noun}: ${group.added.length} to add, ${group.removed.length} to remove, ${group.changed.length} to change`;
  lines.push(`${count(apis, 'APIs')}; ${count(endpoints, 'endpoints')}; ${count(certificates, 'certificate files')}.`);
  return lines.join('\n') + '\n';
}

/** Trust changes as certificates added and removed; other fields as before → after. */
function renderEndpointField(field: FieldChange, describeFingerprint: (fingerprint: string) => string): string[] {
  // trustedFingerprints, or targets.1.trustedFingerprints for a group's target.
  const trust = /^(?:targets\.([0-9]+)\.)?trustedFingerprints$/.exec(field.field);
  if (trust) {
    const before = (field.before as string[] | undefined) ?? [];
    const after = (field.after as string[] | undefined) ?? [];
    return [
      trust[1] === undefined ? '      trust:' : `      target ${Number(trust[1]) + 1} trust:`,
      ...after.filter((f) => !before.includes(f)).map((f) => `        + ${describeFingerprint(f)}`),
      ...before.filter((f) => !after.includes(f)).map((f) => `        - ${describeFingerprint(f)}`),
    ];
  }
  return [`      ${field.field}: ${show(field.before)} → ${show(field.after)}`];
}

function describeCertificate(c: CertificateSummary, nowMs: number): string {
  const left = daysLeft(Date.parse(c.notAfter), nowMs);
  const expiry = left < 0 ? `EXPIRED ${-left} days ago` : `${left} days left`;
  return `${c.subject}, expires ${new Date(c.notAfter).toISOString().slice(0, 10)} (${expiry}), SHA-256 ${c.fingerprint256}`;
}

function describeFile(file: CertificateFileSummary, nowMs: number): string {
  return file.certificates.map((c) => describeCertificate(c, nowMs)).join('; ') || 'no certificate';
}

function show(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}
