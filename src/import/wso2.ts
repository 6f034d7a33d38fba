// `gatehouse import wso2` (SPEC §12): an API exported by WSO2 API Manager's apictl, read and
// turned into what Gatehouse writes for it. Reading is here; deciding what to write over is the
// command's (commands/import.ts). The formats are WSO2's, described with their sources in
// test/fixtures/wso2/FORMATS.md:
// - an apictl 4.x project: api.yaml (type: api, data: …), Definitions/swagger.yaml,
//   Endpoint-certificates/endpoint_certificates.yaml and the certificate files beside it;
// - an apictl 3.x project: Meta-information/api.yaml (endpointConfig a JSON string),
//   Meta-information/swagger.yaml, and an api_params.yaml beside them;
// - a deployment folder (apictl gen deployment-dir): api_meta.yaml, params.yaml and
//   certificates/, read with the project it was made from.
// What the export says that Gatehouse does not do is listed, each with the file and key it was
// found at: nothing is dropped without a word.
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ALIAS_PATTERN, safeAlias } from '../certs/keystore.js';
import { formatDuration } from '../config/durations.js';
import { parseOpenApi } from '../config/openapi.js';
import { isRecord } from '../config/source-map.js';

/** Where the definitions go, beside gateway.yaml (as WSO2's Definitions/ beside api.yaml). */
export const DEFINITIONS_FOLDER = 'definitions';

export class ImportError extends Error {}

export interface ImportedCertificate {
  readonly alias: string;
  readonly pem: string;
  /** Where it was found, for the listing: "Endpoint-certificates/pizza-prod.crt". */
  readonly from: string;
}

export interface ImportedApi {
  readonly name: string;
  readonly version: string;
  /** The apis[] entry, as written into gateway.yaml. */
  readonly entry: Record<string, unknown>;
  readonly certificates: readonly ImportedCertificate[];
  /** The definition, written as it is into definitions/<fileName>, which entry.resources names. */
  readonly definition?: { readonly fileName: string; readonly text: string; readonly from: string };
  /** What Gatehouse does not carry over, and where it was found. */
  readonly notCarried: readonly { readonly what: string; readonly where: string }[];
  /** The ${VAR} references the entry holds (from params.yaml). */
  readonly variables: readonly string[];
  /** For the validation of the result when a variable is unset: a value of the right form. */
  readonly variableStandIns: Readonly<Record<string, string>>;
  /** "the apictl 4.x project PizzaShackAPI-1.0.0 (environment prod of …/params.yaml)". */
  readonly sourceDescription: string;
}

export interface ImportOptions {
  /** The environment of params.yaml / api_params.yaml. */
  readonly environment?: string;
  /** The project a deployment folder was made from. */
  readonly project?: string;
  /** How the command line named the source, for messages. */
  readonly sourceLabel: string;
}

/** One place of the export, for the not-carried-over list: "api.yaml data.policies". */
type Where = string;

interface NotCarried {
  what: string;
  where: Where;
}

/** The export's files, found: which kind, and where each part is. */
interface Located {
  readonly kind: '4.x project' | '3.x project';
  readonly project: string;
  /** api.yaml, relative to the project. */
  readonly apiFile: string;
  /** The params file and the folder its certs paths are relative to, when there is one. */
  readonly params?: { readonly file: string; readonly certificatesFolder: string; readonly deploymentFolder?: string };
}

export async function importWso2(source: string, options: ImportOptions): Promise<ImportedApi> {
  const located = await locate(await singleFolderInside(source), options);
  const notCarried: NotCarried[] = [];
  const projectName = path.basename(located.project);
  const api = await readApiFile(located, notCarried);
  const params = located.params ? await readParams(located.params.file, options.environment, located.params.certificatesFolder) : undefined;

  const context = contextOf(api.context, api.version, `${located.apiFile} ${api.contextKey}`);
  const endpoints = endpointsOf(api, params?.environment, located, notCarried);
  const certificates = await certificatesOf(located, params?.environment, notCarried);
  const replaced = params !== undefined && ['endpoints', 'loadBalanceEndpoints', 'failoverEndpoints'].some((key) => isRecord(params.environment.settings[key]));
  assignCertificates(endpoints, certificates, replaced ? params.name : undefined, notCarried);

  await projectFolders(located.project, new Set([...certificates.flatMap((c) => (c.file ? [c.file] : [])), ...(params?.certificateFiles ?? [])]), notCarried);
  const definition = await definitionOf(located, api, notCarried);
  const resources = definition ? { resources: { openapi: `./${DEFINITIONS_FOLDER}/${definition.fileName}` } } : api.operations.length > 0 ? { resources: resourcesFromOperations(api.operations) } : {};
  const entry: Record<string, unknown> = {
    name: api.name,
    context,
    version: api.version,
    ...(api.isDefault ? { default: true } : {}),
    endpoints: {
      production: endpointEntry(endpoints.production),
      ...(endpoints.sandbox ? { sandbox: endpointEntry(endpoints.sandbox) } : {}),
    },
    ...resources,
  };
  const variables = [...new Set([...JSON.stringify(entry).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
  const standIns = Object.fromEntries(variables.map((name) => [name, variableStandIn(entry, name)]));
  const environmentNote = params ? ` with environment "${params.name}" of its ${path.basename(params.file)}` : '';
  return {
    name: api.name,
    version: api.version,
    entry,
    // A certificate no endpoint trusts is not written (assignCertificates said so).
    certificates: certificates.filter((c) => c.used).map(({ alias, pem, from }) => ({ alias, pem, from })),
    ...(definition ? { definition } : {}),
    notCarried,
    variables,
    variableStandIns: standIns,
    sourceDescription: `the apictl ${located.kind} ${projectName}${located.params?.deploymentFolder ? ` and the deployment folder ${path.basename(located.params.deploymentFolder)}` : ''}${environmentNote}`,
  };
}

// ------------------------------------------------------------------ finding the parts

/** A zip usually holds one folder, the project: look inside it. */
async function singleFolderInside(folder: string): Promise<string> {
  if (await isFile(path.join(folder, 'api.yaml')) || (await isFile(path.join(folder, 'api_meta.yaml'))) || (await isFile(path.join(folder, 'Meta-information', 'api.yaml')))) return folder;
  let entries;
  try {
    entries = (await readdir(folder, { withFileTypes: true })).filter((e) => !e.name.startsWith('.') && e.name !== '__MACOSX');
  } catch (e) {
    throw new ImportError(`cannot read ${folder}: ${(e as Error).message}`);
  }
  return entries.length === 1 && entries[0]!.isDirectory() ? path.join(folder, entries[0]!.name) : folder;
}

async function locate(folder: string, options: ImportOptions): Promise<Located> {
  // A 4.x project has an api_meta.yaml too; a deployment folder has no api.yaml.
  if ((await isFile(path.join(folder, 'api_meta.yaml'))) && !(await locateProject(folder))) {
    const meta = await readYamlFile(path.join(folder, 'api_meta.yaml'));
    const name = isRecord(meta) && typeof meta.name === 'string' ? meta.name : undefined;
    const version = isRecord(meta) ? stringOf(meta.version) : undefined;
    const project = options.project ?? (name && version ? path.join(path.dirname(folder), `${name}-${version}`) : undefined);
    if (!project) throw new ImportError(`${path.join(folder, 'api_meta.yaml')} names no API (name and version): pass the project it was made from with --project`);
    const inner = await locateProject(project);
    if (!inner) {
      throw new ImportError(
        `the deployment folder ${options.sourceLabel} was made from the project ${project}, which is not an apictl project (no api.yaml, nor Meta-information/api.yaml)${options.project ? '' : `; put the project beside it (apictl export api, then unzip), or pass it with --project`}`,
      );
    }
    const params = path.join(folder, 'params.yaml');
    if (!(await isFile(params))) throw new ImportError(`the deployment folder ${options.sourceLabel} has no params.yaml`);
    return { ...inner, params: { file: params, certificatesFolder: path.join(folder, 'certificates'), deploymentFolder: folder } };
  }
  const project = await locateProject(folder);
  if (!project) throw new ImportError(`${options.sourceLabel} is not an apictl export: expected api.yaml (a 4.x project), Meta-information/api.yaml (a 3.x project) or api_meta.yaml (a deployment folder)`);
  if (project.kind === '3.x project' && (await isFile(path.join(folder, 'api_params.yaml')))) {
    return { ...project, params: { file: path.join(folder, 'api_params.yaml'), certificatesFolder: folder } };
  }
  return project;
}

async function locateProject(folder: string): Promise<Located | undefined> {
  if (await isFile(path.join(folder, 'api.yaml'))) return { kind: '4.x project', project: folder, apiFile: 'api.yaml' };
  if (await isFile(path.join(folder, 'Meta-information', 'api.yaml'))) return { kind: '3.x project', project: folder, apiFile: 'Meta-information/api.yaml' };
  if (await isFile(path.join(folder, 'Meta-information', 'api.json'))) return { kind: '3.x project', project: folder, apiFile: 'Meta-information/api.json' };
  return undefined;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** YAML (JSON included); what cannot be read or parsed is an ImportError naming the file. */
async function readYamlFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ImportError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (e) {
    throw new ImportError(`${file} does not parse: ${(e as Error).message.split('\n')[0]}`);
  }
}

// ------------------------------------------------------------------ api.yaml

interface Operation {
  readonly target: string;
  readonly verb: string;
}

interface Wso2Api {
  readonly name: string;
  readonly version: string;
  readonly context: string;
  /** Where the context was read, for messages: "data.context". */
  readonly contextKey: string;
  readonly isDefault: boolean;
  readonly endpointConfig: Record<string, unknown>;
  /** "api.yaml data.endpointConfig". */
  readonly endpointConfigWhere: Where;
  readonly operations: readonly Operation[];
}

/** Keys of api.yaml's data the entry is made of. */
const HANDLED = new Set(['name', 'version', 'context', 'contextTemplate', 'isDefaultVersion', 'endpointConfig', 'operations', 'uriTemplates', 'id', 'type', 'endpointImplementationType']);

/** What the developer portal and the publisher show, not what the gateway does: listed together. */
const PORTAL = new Set([
  'description', 'provider', 'lifeCycleStatus', 'wsdlInfo', 'wsdlUrl', 'tags', 'visibility', 'visibleRoles', 'visibleTenants', 'accessControl', 'accessControlRoles',
  'businessInformation', 'additionalProperties', 'additionalPropertiesMap', 'createdTime', 'lastUpdatedTime', 'lastUpdated', 'categories', 'monetization',
  'subscriptionAvailability', 'subscriptionAvailableTenants', 'thumbnailUri', 'hasThumbnail', 'isRevision', 'revisionedApiId', 'revisionId', 'enableStore',
  'workflowStatus', 'initiatedFromGateway', 'serviceInfo', 'testKey', 'createdBy', 'lastUpdatedBy', 'isSubscriptionAvailable', 'subscriptionAvailableOrgs',
  'visibleOrganizations', 'enableSubscriberVerification', 'technicalOwner', 'technicalOwnerEmail', 'businessOwner', 'businessOwnerEmail', 'status', 'uuid',
  'apiOwner', 'isEgress', 'subtype', 'displayName', 'egress', 'gatewayVendor', 'gatewayType', 'organizationId', 'isLatest', 'environmentList',
  'environments', 'apiDefinition', 'isDefaultVersionChanged', 'cacheTimeout', 'destinationStatsEnabled', 'isAWSAPI',
  'implementation', 'productionMaxTps', 'sandboxMaxTps', 'tier', 'rating', 'apiHeaderChanged', 'apiResourcePatternsChanged', 'documents', 'gatewayLabels',
  'availableSubscriptionLevelPolicies', 'endpointAuthDigest', 'isPublishedDefaultVersion', 'keyManagersList', 'endpointUTUsername', 'endpointUTPassword',
]);

/** Keys of data that change what the gateway does, with what Gatehouse does instead. */
const BEHAVIOUR: Record<string, (value: unknown) => string | undefined> = {
  policies: (v) => `subscription tiers ${list(v)}: give API keys a plan (top-level plans:, keys file plan:), docs/security.md`,
  availableTiers: (v) => `subscription tiers ${list(v)}: give API keys a plan (top-level plans:, keys file plan:), docs/security.md`,
  apiThrottlingPolicy: (v) => `API-level throttling policy ${list(v)}: apis[].rateLimit with its figures, docs/security.md`,
  apiSecurity: (v) => `security schemes ${list(typeof v === 'string' ? v.split(',') : v)}: the imported API is open until you give it security: (apiKey or jwt), docs/security.md`,
  securityScheme: (v) => `security schemes ${list(v)}: the imported API is open until you give it security: (apiKey or jwt), docs/security.md`,
  authorizationHeader: (v) => `authorization header "${String(v)}": security.jwt reads Authorization: Bearer`,
  apiKeyHeader: (v) => `API key header "${String(v)}": security.apiKey.header`,
  corsConfiguration: (v) => (isRecord(v) && v.corsConfigurationEnabled === true ? 'CORS configuration: not done by Gatehouse; the backend answers CORS itself' : undefined),
  mediationPolicies: (v) => `mediation sequences ${list(v)}: no mediation in Gatehouse`,
  apiPolicies: (v) => (hasPolicies(v) ? `API policies ${list(policyNames(v))}: no mediation in Gatehouse` : undefined),
  responseCachingEnabled: (v) => (v === true ? 'response caching: not done by Gatehouse' : undefined),
  enableSchemaValidation: (v) => (v === true ? 'schema validation of requests and responses: not done by Gatehouse (resources check paths and methods only)' : undefined),
  transport: (v) => `transports ${list(v)}: the listeners (listen.http, listen.https) decide`,
  transports: (v) => `transports ${list(typeof v === 'string' ? v.split(',') : v)}: the listeners (listen.http, listen.https) decide`,
  responseCache: (v) => (typeof v === 'string' && /^enabled$/i.test(v) ? 'response caching: not done by Gatehouse' : undefined),
  endpointSecured: (v) => (v === true ? 'endpoint security (credentials towards the backend): not carried over; credentials never pass through the importer' : undefined),
  advertiseOnly: (v) => (v === true ? 'advertised-only (third-party) API: Gatehouse serves what it proxies' : undefined),
  maxTps: (v) => (isRecord(v) && Object.values(v).some((x) => x !== null && x !== undefined && x !== '') ? `backend throughput limit (maxTps ${JSON.stringify(v)}): not done by Gatehouse` : undefined),
  keyManagers: (v) => `key managers ${list(v)}: security.jwt names one issuer and its JWKS`,
  scopes: (v) => `scopes ${list(scopeNames(v))}: not checked by Gatehouse`,
  audience: (v) => `audience ${list(v)}: security.jwt.audience`,
  audiences: (v) => `audiences ${list(v)}: security.jwt.audience`,
  gatewayEnvironments: (v) => `gateway environments ${list(v)}: each Gatehouse replica serves its gateway.yaml`,
  deploymentEnvironments: (v) => `gateway environments ${list(v)}: each Gatehouse replica serves its gateway.yaml`,
  advertiseInfo: (v) => (isRecord(v) && v.advertised === true ? 'advertised-only (third-party) API: Gatehouse serves what it proxies' : undefined),
  websubSubscriptionConfiguration: (v) => (isRecord(v) && v.enable === true ? 'WebSub subscriptions: not supported' : undefined),
  wsUriMapping: () => 'WebSocket URI mapping: not supported (a WebSocket upgrade is forwarded to the endpoint as it is)',
  asyncTransportProtocols: (v) => `async transport protocols ${list(v)}: not supported`,
  endpointSecurity: () => 'endpoint security (credentials towards the backend): not carried over; see headers and clientCertificate, docs/configuration.md',
  inSequence: (v) => `in-sequence "${String(v)}": no mediation in Gatehouse`,
  outSequence: (v) => `out-sequence "${String(v)}": no mediation in Gatehouse`,
  faultSequence: (v) => `fault-sequence "${String(v)}": no mediation in Gatehouse`,
};

async function readApiFile(located: Located, notCarried: NotCarried[]): Promise<Wso2Api> {
  const file = path.join(located.project, located.apiFile);
  const raw = await readYamlFile(file);
  const where = (key: string) => `${located.apiFile} ${key}`;
  if (located.kind === '4.x project') {
    if (!isRecord(raw) || !isRecord(raw.data)) throw new ImportError(`${file} is not an apictl 4.x api.yaml: expected "type: api" and a "data:" map`);
    if (raw.type !== undefined && raw.type !== 'api') throw new ImportError(`${file} is of type ${JSON.stringify(raw.type)}: only APIs (type: api) are imported; an API product is not`);
    return apiOf(raw.data, 'data.', where, notCarried, file);
  }
  if (!isRecord(raw)) throw new ImportError(`${file} is not an apictl 3.x api.yaml: expected a map with id, context and endpointConfig`);
  return apiOf(raw, '', where, notCarried, file);
}

function apiOf(data: Record<string, unknown>, prefix: string, where: (key: string) => string, notCarried: NotCarried[], file: string): Wso2Api {
  const id = isRecord(data.id) ? data.id : {};
  const name = stringOf(data.name) ?? stringOf(id.apiName);
  const version = stringOf(data.version) ?? stringOf(id.version);
  const context = stringOf(data.context);
  if (!name || !version || !context) throw new ImportError(`${file} lacks the API's ${!name ? 'name' : !version ? 'version' : 'context'}`);
  // Checked before anything is named after them (definitions/<name>-<version>.yaml): an export is
  // input from elsewhere, and a version of ../../x must not reach out of the folder.
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/.test(name)) throw new ImportError(`${file}: the API's name ${JSON.stringify(name)} is not one Gatehouse takes (letters, digits, spaces, '.', '_', '-'); rename it in the export or write the entry by hand`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(version)) throw new ImportError(`${file}: the API's version ${JSON.stringify(version)} is not one Gatehouse takes (letters, digits, '.', '_', '-'); write the entry by hand`);
  const type = stringOf(data.type);
  if (type !== undefined && !['HTTP', 'SOAP', 'SOAPTOREST'].includes(type.toUpperCase())) throw new ImportError(`${file}: ${name} ${version} is a ${type} API; the importer brings in HTTP APIs (a WebSocket API can be declared by hand: docs/configuration.md)`);
  if (type === 'SOAPTOREST') notCarried.push({ what: 'SOAP-to-REST mediation: not supported (the backend receives the requests as the clients send them)', where: where(`${prefix}type`) });
  const implementation = stringOf(data.endpointImplementationType);
  if (implementation && implementation !== 'ENDPOINT') throw new ImportError(`${file}: ${name} ${version} is a ${implementation} (mocked or prototyped) API with no backend to proxy to`);

  let endpointConfig: unknown = data.endpointConfig;
  if (typeof endpointConfig === 'string') {
    // 3.x writes it as a JSON string.
    try {
      endpointConfig = JSON.parse(endpointConfig);
    } catch (e) {
      throw new ImportError(`${file} ${prefix}endpointConfig is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!isRecord(endpointConfig)) throw new ImportError(`${file} has no ${prefix}endpointConfig: the API has no endpoints to import`);

  for (const [key, value] of Object.entries(data)) {
    if (HANDLED.has(key) || PORTAL.has(key) || isEmpty(value)) continue;
    const behaviour = BEHAVIOUR[key];
    const what = behaviour ? behaviour(value) : `${key}: not understood by the importer`;
    if (what) notCarried.push({ what, where: where(`${prefix}${key}`) });
  }
  const portal = Object.keys(data).filter((key) => PORTAL.has(key) && !isEmpty(data[key]));
  if (portal.length > 0) notCarried.push({ what: `portal and publisher metadata, not gateway behaviour (${portal.join(', ')})`, where: where(prefix.replace(/\.$/, '') || 'top level') });

  const operations: Operation[] = [];
  const rawOperations = Array.isArray(data.operations) ? data.operations : Array.isArray(data.uriTemplates) ? data.uriTemplates : [];
  const opsKey = Array.isArray(data.operations) ? 'operations' : 'uriTemplates';
  rawOperations.forEach((op: unknown, k: number) => {
    if (!isRecord(op)) return;
    const target = stringOf(op.target) ?? stringOf(op.uriTemplate);
    const verb = stringOf(op.verb) ?? stringOf(op.httpVerb);
    const at = where(`${prefix}${opsKey}[${k}]`);
    const label = `${verb ?? '?'} ${target ?? '?'}`;
    if (target && verb) operations.push({ target, verb: verb.toUpperCase() });
    const tier = stringOf(op.throttlingPolicy) ?? stringOf(op.throttlingTier);
    if (tier && tier !== 'Unlimited') notCarried.push({ what: `${label}: resource throttling tier ${tier}: Gatehouse limits per API and per plan, not per resource`, where: at });
    const scopes = scopeNames(op.scopes ?? op.scope);
    if (scopes.length > 0) notCarried.push({ what: `${label}: scopes ${list(scopes)}: not checked by Gatehouse`, where: at });
    if (hasPolicies(op.operationPolicies)) notCarried.push({ what: `${label}: operation policies ${list(policyNames(op.operationPolicies))}: no mediation in Gatehouse`, where: at });
    const auth = stringOf(op.authType);
    if (auth && /^none$/i.test(auth)) notCarried.push({ what: `${label}: open resource (auth type None) on an API otherwise secured: Gatehouse secures a whole API`, where: at });
  });

  return {
    name,
    version,
    context,
    contextKey: `${prefix}context`,
    isDefault: data.isDefaultVersion === true || data.isDefaultVersion === 'true',
    endpointConfig,
    endpointConfigWhere: where(`${prefix}endpointConfig`),
    operations,
  };
}

/**
 * WSO2 4.x keeps the context without the version (/pizzashack) and adds it, or puts it where
 * {version} says; 3.x exports it with the version (/pizzashack/1.0.0). Gatehouse routes
 * /context/version/…, so a trailing version, or {version}, is taken off; {version} anywhere
 * else cannot be routed.
 */
function contextOf(context: string, version: string, where: string): string {
  let c = context.trim().replace(/\/+$/, '');
  if (!c.startsWith('/')) c = `/${c}`;
  if (c.endsWith('/{version}')) c = c.slice(0, -'/{version}'.length);
  else if (c.endsWith(`/${version}`)) c = c.slice(0, -(version.length + 1));
  if (c.includes('{version}')) throw new ImportError(`${where} "${context}" puts the version inside the context; Gatehouse routes /context/version/… (write the entry by hand with another context)`);
  if (c.startsWith('/t/')) throw new ImportError(`${where} "${context}" is a tenant's context (/t/<domain>/…); write the entry by hand with the context clients call`);
  return c;
}

/** The project's other folders and files: what each holds that Gatehouse does not do. */
const PROJECT_PARTS: Record<string, string | null> = {
  'api.yaml': null,
  'api.json': null,
  'api_meta.yaml': null,
  'api_params.yaml': null,
  Definitions: null,
  'Endpoint-certificates': null,
  'Meta-information': null,
  Sequences: 'mediation sequence: no mediation in Gatehouse',
  Policies: 'operation policy: no mediation in Gatehouse',
  Interceptors: 'interceptor: no mediation in Gatehouse',
  'Client-certificates': 'client certificate for mutual TLS from clients to the gateway: not supported on the listener',
  WSDL: 'WSDL: a SOAP API is proxied as HTTP; the WSDL is not served',
  Docs: 'portal document, not gateway behaviour',
  Image: 'portal thumbnail, not gateway behaviour',
  'deployment_environments.yaml': 'gateway environments to deploy to: each Gatehouse replica serves its gateway.yaml',
};

async function projectFolders(project: string, read: ReadonlySet<string>, notCarried: NotCarried[]): Promise<void> {
  const entries = (await readdir(project, { withFileTypes: true })).filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const what = Object.hasOwn(PROJECT_PARTS, entry.name) ? PROJECT_PARTS[entry.name] : `${entry.isDirectory() ? 'folder' : 'file'} ${entry.name}: not understood by the importer`;
    if (what === null || what === undefined) continue;
    if (!entry.isDirectory()) {
      notCarried.push({ what, where: entry.name });
      continue;
    }
    // The certificate files api_params.yaml names were read as certificates already.
    const files = (await readdir(path.join(project, entry.name), { recursive: true, withFileTypes: true })).filter((f) => f.isFile() && !f.name.startsWith('.') && !read.has(path.join(f.parentPath, f.name)));
    for (const file of files.map((f) => path.relative(project, path.join(f.parentPath, f.name))).sort()) notCarried.push({ what, where: file.split(path.sep).join('/') });
  }
}

// ------------------------------------------------------------------ small readers

function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number') return String(value);
  return undefined;
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isRecord(value)) return Object.values(value).every(isEmpty);
  return false;
}

function list(value: unknown): string {
  const items = Array.isArray(value) ? value : [value];
  return `[${items.map((v) => (isRecord(v) ? (stringOf(v.name) ?? stringOf(v.policyName) ?? stringOf(v.key) ?? JSON.stringify(v)) : typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}]`;
}

function scopeNames(value: unknown): string[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null || value === '' ? [] : [value];
  return items.flatMap((s) => {
    if (typeof s === 'string') return [s];
    if (isRecord(s)) {
      const inner = isRecord(s.scope) ? s.scope : s;
      const name = stringOf(inner.name) ?? stringOf(inner.key);
      return name ? [name] : [];
    }
    return [];
  });
}

function hasPolicies(value: unknown): boolean {
  return isRecord(value) && ['request', 'response', 'fault'].some((flow) => Array.isArray(value[flow]) && (value[flow] as unknown[]).length > 0);
}

function policyNames(value: unknown): string[] {
  if (!isRecord(value)) return [];
  return ['request', 'response', 'fault'].flatMap((flow) => (Array.isArray(value[flow]) ? (value[flow] as unknown[]).map((p) => `${flow}: ${isRecord(p) ? (stringOf(p.policyName) ?? '?') : JSON.stringify(p)}`) : []));
}

// ------------------------------------------------------------------ params.yaml

interface ParamsEnvironment {
  readonly name: string;
  /** The environment's settings: `configs` in 4.x, the environment itself in 3.x. */
  readonly settings: Record<string, unknown>;
  /** "params.yaml environments[1].configs". */
  readonly where: Where;
}

async function readParams(
  file: string,
  wanted: string | undefined,
  certificatesFolder: string,
): Promise<{ readonly name: string; readonly file: string; readonly environment: ParamsEnvironment; readonly certificateFiles: readonly string[] }> {
  const data = await readYamlFile(file);
  const environments = isRecord(data) && Array.isArray(data.environments) ? data.environments.filter(isRecord) : [];
  const names = environments.map((e) => String(e.name));
  if (environments.length === 0) throw new ImportError(`${file} lists no environments (environments: [{ name, configs }])`);
  let index: number;
  if (wanted === undefined) {
    if (environments.length > 1) throw new ImportError(`${file} has ${environments.length} environments (${names.join(', ')}): pick one with --env`);
    index = 0;
  } else {
    index = names.indexOf(wanted);
    if (index === -1) throw new ImportError(`${file} has no environment "${wanted}" (it has ${names.join(', ')})`);
  }
  const environment = environments[index]!;
  const nested = isRecord(environment.configs);
  const settings = nested ? (environment.configs as Record<string, unknown>) : environment;
  const where = `${path.basename(file)} environments[${index}]${nested ? '.configs' : ''}`;
  // The certificate files of every environment: those of the others are not "not understood" parts of a 3.x project.
  const certificateFiles = environments.flatMap((e) => {
    const certs = (isRecord(e.configs) ? e.configs : e).certs;
    return Array.isArray(certs) ? certs.flatMap((c) => (isRecord(c) && typeof c.path === 'string' ? [path.resolve(certificatesFolder, c.path)] : [])) : [];
  });
  return { name: names[index]!, file, environment: { name: names[index]!, settings, where }, certificateFiles };
}

// ------------------------------------------------------------------ endpoints

interface Target {
  readonly url: string;
  readonly config: Record<string, unknown>;
  readonly where: Where;
  aliases: string[];
  /** Its timeout (WSO2's actionDuration), as timeouts.socket. */
  socket?: string;
}

interface Endpoint {
  readonly role: 'production' | 'sandbox';
  readonly balance?: 'round-robin' | 'failover';
  readonly targets: Target[];
  /** The group's suspension, from its targets' config (Gatehouse sets it per group). */
  suspend?: Record<string, string | number>;
}

const ROUND_ROBIN = 'org.apache.synapse.endpoints.algorithms.RoundRobin';

function endpointsOf(api: Wso2Api, environment: ParamsEnvironment | undefined, located: Located, notCarried: NotCarried[]): { production: Endpoint; sandbox?: Endpoint } {
  const config = api.endpointConfig;
  const where = api.endpointConfigWhere;
  let source = config;
  let sourceWhere = where;
  // The keys the source names its endpoints by, for the places in messages: params.yaml's differ from api.yaml's.
  let keys = (role: string, failover: boolean) => `${role}_${failover ? 'failovers' : 'endpoints'}`;
  if (environment) {
    const s = environment.settings;
    if (isRecord(s.loadBalanceEndpoints)) {
      source = { ...s.loadBalanceEndpoints, endpoint_type: 'load_balance', production_endpoints: s.loadBalanceEndpoints.production, sandbox_endpoints: s.loadBalanceEndpoints.sandbox };
      sourceWhere = `${environment.where}.loadBalanceEndpoints`;
      keys = (role) => role;
    } else if (isRecord(s.failoverEndpoints)) {
      const f = s.failoverEndpoints;
      source = { endpoint_type: 'failover', production_endpoints: f.production, production_failovers: f.productionFailovers, sandbox_endpoints: f.sandbox, sandbox_failovers: f.sandboxFailovers };
      sourceWhere = `${environment.where}.failoverEndpoints`;
      keys = (role, failover) => (failover ? `${role}Failovers` : role);
    } else if (isRecord(s.endpoints)) {
      // apictl 4.x replaces the endpoints by the environment's; 3.x merges them key by key (FORMATS.md).
      const endpoints = s.endpoints;
      const merged = (role: 'production' | 'sandbox'): unknown => {
        const mine = endpoints[role];
        const base = config[`${role}_endpoints`];
        if (located.kind !== '3.x project' || !isRecord(mine) || !isRecord(base)) return mine;
        return { ...base, ...mine, config: { ...(isRecord(base.config) ? base.config : {}), ...(isRecord(mine.config) ? mine.config : {}) } };
      };
      source = { endpoint_type: 'http', production_endpoints: merged('production'), sandbox_endpoints: merged('sandbox') };
      sourceWhere = `${environment.where}.endpoints`;
      keys = (role) => role;
    }
    for (const [key, value] of Object.entries(s)) {
      if (['endpoints', 'loadBalanceEndpoints', 'failoverEndpoints', 'certs', 'name'].includes(key) || isEmpty(value)) continue;
      notCarried.push({ what: PARAMS_SETTINGS[key] ?? `${key}: not understood by the importer`, where: `${environment.where}.${key}` });
    }
  }
  const type = stringOf(source.endpoint_type) ?? 'http';
  if (!['http', 'https', 'address', 'load_balance', 'failover'].includes(type)) {
    throw new ImportError(`${sourceWhere}.endpoint_type is "${type}": the importer brings in http, load_balance and failover endpoints (not dynamic, AWS Lambda, service or mocked ones)`);
  }
  if (type === 'load_balance') {
    const algorithm = stringOf(source.algoClassName) ?? stringOf(source.algoCombo);
    if (algorithm && algorithm !== ROUND_ROBIN) notCarried.push({ what: `load-balancing algorithm ${algorithm}: written as round-robin, Gatehouse's only one`, where: `${sourceWhere}.algoClassName` });
    const session = stringOf(source.sessionManagement);
    if (session && session.toLowerCase() !== 'none') notCarried.push({ what: `session affinity (${session}): not supported; every request is balanced on its own`, where: `${sourceWhere}.sessionManagement` });
  }
  if (isRecord(source.endpoint_security) && !isEmpty(source.endpoint_security)) {
    notCarried.push({ what: 'endpoint security (basic, digest or OAuth credentials towards the backend): not carried over; credentials never pass through the importer', where: `${sourceWhere}.endpoint_security` });
  }
  for (const key of Object.keys(source)) {
    if (!ENDPOINT_CONFIG_KEYS.has(key) && !isEmpty(source[key])) notCarried.push({ what: `${key}: not understood by the importer`, where: `${sourceWhere}.${key}` });
  }
  const dollarVariables = located.kind === '3.x project' && sourceWhere !== where;
  const read = (role: 'production' | 'sandbox'): Endpoint | undefined => {
    const main = targetsOf(source[`${role}_endpoints`], `${sourceWhere}.${keys(role, false)}`, dollarVariables);
    if (main.length === 0) return undefined;
    if (type === 'failover') {
      const failovers = targetsOf(source[`${role}_failovers`], `${sourceWhere}.${keys(role, true)}`, dollarVariables);
      return failovers.length > 0 ? { role, balance: 'failover', targets: [...main, ...failovers] } : { role, targets: main };
    }
    return main.length > 1 ? { role, balance: 'round-robin', targets: main } : { role, targets: main };
  };
  const production = read('production');
  if (!production) throw new ImportError(`${sourceWhere} has no production endpoint (production_endpoints with a url): Gatehouse needs one for every API`);
  const sandbox = read('sandbox');
  for (const endpoint of [production, sandbox]) if (endpoint) settingsOf(endpoint, notCarried);
  return { production, ...(sandbox ? { sandbox } : {}) };
}

const ENDPOINT_CONFIG_KEYS = new Set([
  'endpoint_type', 'production_endpoints', 'sandbox_endpoints', 'production_failovers', 'sandbox_failovers', 'algoCombo', 'algoClassName', 'sessionManagement',
  'sessionTimeOut', 'failOver', 'endpoint_security', 'implementation_status', 'endpointType', 'production', 'sandbox', 'template_not_supported', 'url', 'config', 'name',
]);

const PARAMS_SETTINGS: Record<string, string> = {
  security: 'endpoint security (credentials towards the backend): not carried over; credentials never pass through the importer',
  deploymentEnvironments: 'gateway environments to deploy to: each Gatehouse replica serves its gateway.yaml',
  gatewayEnvironments: 'gateway environments to deploy to: each Gatehouse replica serves its gateway.yaml',
  policies: 'subscription tiers and policies: give API keys a plan (plans:, docs/security.md)',
  mutualSslCerts: 'client certificates for mutual TLS from clients to the gateway: not supported on the listener',
  endpointRetryTimeOut: 'retries before suspension: not supported; a target is suspended at its first transport failure',
};

function targetsOf(value: unknown, where: Where, dollarVariables: boolean): Target[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return items.flatMap((item, k) => {
    if (!isRecord(item)) return [];
    const url = stringOf(item.url);
    if (!url) return [];
    return [{ url: dollarVariables ? withBraces(url) : url, config: isRecord(item.config) ? item.config : {}, where: Array.isArray(value) ? `${where}[${k}]` : where, aliases: [] }];
  });
}

/**
 * apictl 4.x reads ${VAR} in params files (a $VAR is text to it); 3.1 and 3.2 read $VAR too.
 * Gatehouse reads ${VAR}: a 3.x $VAR is written as ${VAR}.
 */
function withBraces(text: string): string {
  return text.replace(/\$(?!\{)([A-Za-z_][A-Za-z0-9_]*)/g, '${$1}');
}

/** The per-endpoint config keys Gatehouse has an equivalent for, and those it has not. */
function settingsOf(endpoint: Endpoint, notCarried: NotCarried[]): void {
  const seen = new Map<string, string>();
  for (const target of endpoint.targets) {
    const c = target.config;
    const at = `${target.where}.config`;
    // A value from a variable cannot be converted (its unit and meaning are WSO2's): it is said.
    const ms = (key: string): number | undefined => {
      const value = c[key];
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value === 'string' && value.includes('$')) {
        notCarried.push({ what: `${target.url}: ${key} ${value} comes from a variable, which the importer cannot convert; set its Gatehouse equivalent by hand (docs/migrate/wso2.md)`, where: `${at}.${key}` });
        return undefined;
      }
      const number = Number(value);
      if (!Number.isFinite(number)) notCarried.push({ what: `${target.url}: ${key} ${JSON.stringify(value)} is not a number`, where: `${at}.${key}` });
      return Number.isFinite(number) ? number : undefined;
    };
    const action = stringOf(c.actionSelect)?.toLowerCase();
    const duration = ms('actionDuration');
    if (action === 'never' || action === 'nevertimeout') notCarried.push({ what: `${target.url}: never time out: Gatehouse always bounds the wait (timeouts.socket, default 60s)`, where: `${at}.actionSelect` });
    else if (duration !== undefined && duration > 0) {
      target.socket = formatDuration(duration);
      if (action === 'discard') notCarried.push({ what: `${target.url}: discard on timeout: Gatehouse answers 504 UPSTREAM_TIMEOUT`, where: `${at}.actionSelect` });
    }
    const initial = ms('suspendDuration');
    const max = ms('suspendMaxDuration');
    const factor = ms('factor');
    if (endpoint.balance && initial === 0 && !max) {
      notCarried.push({ what: `${target.url}: suspension turned off (suspendDuration 0): Gatehouse always suspends a failing target of a group (suspend.initial, default 30s; a short one keeps it brief)`, where: `${at}.suspendDuration` });
    }
    for (const [key, value] of [['suspendDuration', initial], ['suspendMaxDuration', max], ['factor', factor]] as const) {
      if (value !== undefined && value < 0) notCarried.push({ what: `${target.url}: ${key} ${value}: Gatehouse takes positive values only; the group's default applies`, where: `${at}.${key}` });
    }
    if ([initial, max, factor].some((v) => v !== undefined && v > 0)) {
      if (!endpoint.balance) notCarried.push({ what: `${target.url}: suspension (suspendDuration, factor, suspendMaxDuration): Gatehouse suspends the targets of a group (two or more); a single endpoint is always tried`, where: at });
      else {
        // One suspension per group: the first target's (the primary of a failover group).
        endpoint.suspend ??= {
          ...(initial !== undefined && initial > 0 ? { initial: formatDuration(initial) } : {}),
          ...(factor !== undefined && factor > 0 ? { factor } : {}),
          ...(max !== undefined && max > 0 ? { max: formatDuration(max) } : {}),
        };
        remember(seen, 'suspend', JSON.stringify([initial, factor, max]), endpoint, target, notCarried, at);
      }
    }
    for (const key of ['suspendErrorCode', 'retryErroCode', 'retryErrorCode']) {
      if (!isEmpty(c[key])) notCarried.push({ what: `${target.url}: ${key} ${list(c[key])}: Gatehouse suspends on every transport failure and retries an idempotent request once on the next target`, where: `${at}.${key}` });
    }
    const retries = ms('retryTimeOut');
    if (retries !== undefined && retries > 0) notCarried.push({ what: `${target.url}: ${retries} retries before suspension: not supported; a target is suspended at its first transport failure`, where: `${at}.retryTimeOut` });
    const delay = ms('retryDelay');
    if (delay !== undefined && delay > 0) notCarried.push({ what: `${target.url}: retry delay ${formatDuration(delay)}: not supported`, where: `${at}.retryDelay` });
    for (const key of Object.keys(c)) {
      if (!KNOWN_TARGET_CONFIG.has(key) && !isEmpty(c[key])) notCarried.push({ what: `${target.url}: ${key}: not understood by the importer`, where: `${at}.${key}` });
    }
  }
}

const KNOWN_TARGET_CONFIG = new Set(['actionSelect', 'actionDuration', 'suspendDuration', 'suspendMaxDuration', 'factor', 'suspendErrorCode', 'retryErroCode', 'retryErrorCode', 'retryTimeOut', 'retryDelay']);

/** Gatehouse sets suspension per group: targets that disagree are said to. */
function remember(seen: Map<string, string>, key: string, value: string, endpoint: Endpoint, target: Target, notCarried: NotCarried[], at: Where): void {
  const before = seen.get(key);
  if (before === undefined) seen.set(key, value);
  else if (before !== value) notCarried.push({ what: `${target.url}: its own ${key} differs from the first target's, which the ${endpoint.role} group takes (Gatehouse has one per group)`, where: at });
}

// ------------------------------------------------------------------ certificates

interface FoundCertificate extends ImportedCertificate {
  /** The endpoint it was registered for: a URL, or host[:port] (params.yaml's hostName). */
  readonly endpoint: string | undefined;
  readonly where: Where;
  /** The file it was read from, when it was one. */
  readonly file?: string;
  /** Some endpoint trusts it (assignCertificates). */
  used?: boolean;
}

/**
 * The endpoint certificates: the project's (Endpoint-certificates/endpoint_certificates.yaml,
 * each entry's certificate a file beside it or the certificate itself), then the environment's
 * (params.yaml certs: [{hostName, alias, path}], paths relative to the deployment folder's
 * certificates/ or the 3.x project). An alias both give is the environment's.
 */
async function certificatesOf(located: Located, environment: ParamsEnvironment | undefined, notCarried: NotCarried[]): Promise<FoundCertificate[]> {
  const found = new Map<string, FoundCertificate>();
  // 4.x: Endpoint-certificates/, beside the certificate files; 3.x: Meta-information/, each certificate inline.
  const folder = path.join(located.project, located.kind === '4.x project' ? 'Endpoint-certificates' : 'Meta-information');
  const folderName = path.basename(folder);
  for (const name of ['endpoint_certificates.yaml', 'endpoint_certificates.json']) {
    const file = path.join(folder, name);
    if (!(await isFile(file))) continue;
    const data = await readYamlFile(file);
    const entries = isRecord(data) && Array.isArray(data.data) ? data.data : Array.isArray(data) ? data : [];
    const prefix = isRecord(data) && Array.isArray(data.data) ? 'data' : '';
    for (const [k, entry] of entries.entries()) {
      if (!isRecord(entry)) continue;
      const where = `${folderName}/${name} ${prefix}[${k}]`;
      const alias = stringOf(entry.alias);
      const content = stringOf(entry.certificate);
      if (!alias || !content) throw new ImportError(`${file} ${prefix}[${k}] lacks its alias or certificate`);
      const pem = await certificateText(content, folder, `${file} ${prefix}[${k}]`);
      const certificate: FoundCertificate = { alias: aliasOf(alias, where, notCarried), pem: pem.text, from: `${folderName}/${pem.from ?? name}`, endpoint: stringOf(entry.endpoint) ?? stringOf(entry.hostName), where };
      found.set(certificate.alias, certificate);
    }
    break;
  }
  const certs = environment?.settings.certs;
  if (environment && Array.isArray(certs) && located.params) {
    for (const [k, entry] of certs.entries()) {
      if (!isRecord(entry)) continue;
      const where = `${environment.where}.certs[${k}]`;
      const alias = stringOf(entry.alias);
      const file = stringOf(entry.path);
      if (!alias || !file) throw new ImportError(`${located.params.file} ${where.split(' ')[1]} lacks its alias or path`);
      const absolute = insideFolder(located.params.certificatesFolder, file, `${located.params.file} ${where.split(' ')[1]}.path`);
      const pem = await certificateText(absolute, located.params.certificatesFolder, `${located.params.file} ${where.split(' ')[1]}`);
      // An alias both give is the environment's.
      const certificate: FoundCertificate = { alias: aliasOf(alias, where, notCarried), pem: pem.text, from: path.relative(path.dirname(located.params.file), absolute), endpoint: stringOf(entry.hostName), where, file: absolute };
      found.set(certificate.alias, certificate);
    }
  }
  return [...found.values()];
}

/** A path from params.yaml, inside the folder it is relative to: an export never reaches out of its own folder. */
function insideFolder(folder: string, relative: string, where: string): string {
  const absolute = path.resolve(folder, relative);
  const back = path.relative(folder, absolute);
  if (back === '' || back.startsWith('..') || path.isAbsolute(back)) throw new ImportError(`${where} "${relative}" is outside ${folder}: put the certificate in that folder`);
  return absolute;
}

/** WSO2 allows aliases Gatehouse's file names do not: those are made safe, and said. */
function aliasOf(alias: string, where: Where, notCarried: NotCarried[]): string {
  if (ALIAS_PATTERN.test(alias)) return alias;
  const safe = safeAlias(alias);
  if (!safe) throw new ImportError(`${where}: the alias "${alias}" has no letter or digit to name certs/<alias>.crt by`);
  notCarried.push({ what: `alias "${alias}" is written as ${safe} (certs/<alias>.crt takes letters, digits, '.', '_' and '-')`, where });
  return safe;
}

/** PEM text of a certificate given as PEM, as base64 DER, or as a file (name or path); checked to be one. */
async function certificateText(value: string, folder: string, where: string): Promise<{ text: string; from?: string }> {
  let text = value;
  let from: string | undefined;
  if (!value.includes('-----BEGIN')) {
    const file = path.isAbsolute(value) ? value : path.join(folder, value);
    if (/\.(crt|cer|pem)$/i.test(value) || (await isFile(file))) {
      const absolute = path.isAbsolute(value) ? value : insideFolder(folder, value, where);
      try {
        text = (await readFile(absolute)).toString('latin1');
      } catch (e) {
        throw new ImportError(`${where}: cannot read the certificate ${absolute}: ${(e as Error).message}`);
      }
      from = path.basename(absolute);
    }
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(text.includes('-----BEGIN') ? text : Buffer.from(text.replace(/\s+/g, ''), 'base64'));
  } catch (e) {
    throw new ImportError(`${where}: the certificate${from ? ` ${from}` : ''} is not an X.509 certificate (PEM, DER or base64): ${(e as Error).message}`);
  }
  // The whole PEM text when it is one (a chain stays a chain); else the certificate, as PEM.
  const pem = text.includes('-----BEGIN CERTIFICATE-----') ? normalizedPem(text) : certificate.toString();
  return from ? { text: pem, from } : { text: pem };
}

function normalizedPem(text: string): string {
  const blocks = text.replace(/\r\n/g, '\n').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return `${blocks.join('\n')}\n`;
}

/**
 * Each certificate goes to the targets of the host and port it was registered for (apictl
 * writes the endpoint's URL). WSO2 itself trusts every endpoint certificate for every backend
 * (they all go into one truststore), so an https target that none was registered for (a second
 * target of a balanced group, a failover, which apictl never writes certificates for) trusts
 * those of its host on other ports, and says so; with none, it is listed.
 */
function assignCertificates(endpoints: { production: Endpoint; sandbox?: Endpoint }, certificates: readonly FoundCertificate[], replacedBy: string | undefined, notCarried: NotCarried[]): void {
  const targets = [endpoints.production, endpoints.sandbox].flatMap((e) => e?.targets ?? []);
  const https = (target: Target) => /^https:/i.test(target.url) || target.url.startsWith('${');
  for (const certificate of certificates) {
    const registered = hostPort(certificate.endpoint);
    for (const target of targets) {
      // params.yaml may name the host by the same variable as the URL: ${PROD_URL} for ${PROD_URL}.
      const sameVariable = certificate.endpoint !== undefined && certificate.endpoint.includes('${') && certificate.endpoint === target.url;
      const at = hostPort(target.url);
      const sameHostPort = registered !== undefined && at !== undefined && https(target) && registered.host === at.host && (registered.port === undefined || registered.port === at.port);
      if (sameVariable || sameHostPort) {
        target.aliases.push(certificate.alias);
        certificate.used = true;
      }
    }
  }
  for (const target of targets.filter((t) => t.aliases.length === 0 && https(t))) {
    const at = hostPort(target.url);
    // Not the project's certificates for endpoints the environment replaced: apictl drops those.
    const byHost = at ? certificates.filter((c) => hostPort(c.endpoint)?.host === at.host && !(replacedBy !== undefined && isProjectCertificate(c))) : [];
    if (byHost.length > 0) {
      for (const c of byHost) {
        target.aliases.push(c.alias);
        c.used = true;
      }
      notCarried.push({
        what: `${target.url} had no endpoint certificate of its own: it trusts ${byHost.map((c) => c.alias).join(', ')}, registered for its host on another port (WSO2 trusts every endpoint certificate for every backend; Gatehouse trusts one per endpoint)`,
        where: target.where,
      });
    } else {
      notCarried.push({
        what: `${target.url} has no endpoint certificate in the export: WSO2 trusted it through its truststore (client-truststore.jks or another API's certificate); Gatehouse trusts the system roots for it until you give it certificate: (gatehouse cert fetch)`,
        where: target.where,
      });
    }
  }
  for (const certificate of certificates.filter((c) => !c.used)) {
    const registered = hostPort(certificate.endpoint);
    const fromProject = isProjectCertificate(certificate);
    const why = !registered && !certificate.endpoint?.includes('${')
      ? 'names no endpoint it was registered for'
      : fromProject && replacedBy !== undefined
        ? `was registered for ${certificate.endpoint}, an endpoint of the project that environment "${replacedBy}" replaces`
        : `was registered for ${certificate.endpoint}, which no https endpoint of the API uses`;
    notCarried.push({ what: `certificate ${certificate.alias} ${why}: not written, as no endpoint would trust it`, where: certificate.where });
  }
}

function isProjectCertificate(certificate: FoundCertificate): boolean {
  return /^(Endpoint-certificates|Meta-information)\//.test(certificate.where);
}

/** host and port of a URL (a URL names its port, the scheme's by default), or of host[:port] (no port: any). */
function hostPort(value: string | undefined): { readonly host: string; readonly port?: string } | undefined {
  if (!value || value.includes('${')) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  try {
    const url = new URL(withScheme ? value : `https://${value}`);
    const port = url.port || (withScheme ? (url.protocol === 'http:' ? '80' : '443') : undefined);
    return { host: url.hostname.toLowerCase(), ...(port ? { port } : {}) };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ the definition and resources

const DEFINITION_FILES = ['Definitions/swagger.yaml', 'Definitions/swagger.json', 'Definitions/openapi.yaml', 'Definitions/openapi.json', 'Meta-information/swagger.yaml', 'Meta-information/swagger.json'];

/**
 * The API's definition, written as it is beside gateway.yaml for resources.openapi, when it
 * validates as Gatehouse reads it; otherwise the operations of api.yaml become the resources,
 * and the reason is listed.
 */
async function definitionOf(located: Located, api: Wso2Api, notCarried: NotCarried[]): Promise<ImportedApi['definition']> {
  for (const relative of DEFINITION_FILES) {
    const file = path.join(located.project, relative);
    if (!(await isFile(file))) continue;
    const text = await readFile(file, 'utf8');
    const parsed = await parseOpenApi(text, file);
    const error = parsed.diagnostics.find((d) => d.severity === 'error');
    if (!parsed.definition || error) {
      notCarried.push({
        what: `the definition does not validate (${error ? `line ${error.line ?? '?'}: ${error.message}` : 'no paths'}): the resources are written from ${located.apiFile}'s operations instead`,
        where: relative,
      });
      return undefined;
    }
    // A 3.x api.yaml lists no operations: their scopes and tiers are in the definition only.
    if (api.operations.length === 0) definitionOperations(parseYaml(text), relative, notCarried);
    // Name and version were checked (apiOf); the file name is made safe all the same.
    const fileName = `${api.name}-${api.version}`.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') + path.extname(relative);
    return { fileName, text, from: relative };
  }
  return undefined;
}

/** WSO2's per-operation settings in a definition (x-scope, security scopes, x-throttling-tier, x-auth-type None). */
function definitionOperations(data: unknown, relative: string, notCarried: NotCarried[]): void {
  const paths = isRecord(data) && isRecord(data.paths) ? data.paths : {};
  for (const [template, item] of Object.entries(paths)) {
    if (!isRecord(item)) continue;
    for (const [method, operation] of Object.entries(item)) {
      if (!isRecord(operation) || !METHODS.has(method.toUpperCase())) continue;
      const label = `${method.toUpperCase()} ${template}`;
      const where = `${relative} paths["${template}"].${method}`;
      const requirements = Array.isArray(operation.security) ? operation.security.filter(isRecord) : [];
      const scopes = [...new Set([...scopeNames(operation['x-scope']), ...requirements.flatMap((r) => Object.values(r).flatMap((v) => (Array.isArray(v) ? v.map(String) : [])))])];
      if (scopes.length > 0) notCarried.push({ what: `${label}: scopes ${list(scopes)}: not checked by Gatehouse`, where });
      const tier = stringOf(operation['x-throttling-tier']);
      if (tier && tier !== 'Unlimited') notCarried.push({ what: `${label}: resource throttling tier ${tier}: Gatehouse limits per API and per plan, not per resource`, where });
      const auth = stringOf(operation['x-auth-type']);
      if (auth && /^none$/i.test(auth)) notCarried.push({ what: `${label}: open resource (auth type None) on an API otherwise secured: Gatehouse secures a whole API`, where });
    }
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

function resourcesFromOperations(operations: readonly Operation[]): { path: string; methods: string[] }[] {
  const byPath = new Map<string, string[]>();
  for (const { target, verb } of operations) {
    if (!METHODS.has(verb)) continue;
    const methods = byPath.get(target) ?? [];
    if (!methods.includes(verb)) methods.push(verb);
    byPath.set(target, methods);
  }
  return [...byPath].map(([p, methods]) => ({ path: p, methods }));
}

// ------------------------------------------------------------------ the entry

function endpointEntry(endpoint: Endpoint): Record<string, unknown> {
  const certificate = (target: Target) => (target.aliases.length === 0 ? {} : { certificate: target.aliases.length === 1 ? target.aliases[0] : [...target.aliases] });
  const timeouts = (target: Target) => (target.socket ? { timeouts: { socket: target.socket } } : {});
  if (!endpoint.balance) return { url: endpoint.targets[0]!.url, ...certificate(endpoint.targets[0]!), ...timeouts(endpoint.targets[0]!) };
  // One timeout for the group when every target has the same; else each target its own.
  const shared = new Set(endpoint.targets.map((t) => t.socket)).size === 1 ? endpoint.targets[0]!.socket : undefined;
  return {
    balance: endpoint.balance,
    targets: endpoint.targets.map((target) => ({ url: target.url, ...certificate(target), ...(shared ? {} : timeouts(target)) })),
    ...(shared ? { timeouts: { socket: shared } } : {}),
    ...(endpoint.suspend ? { suspend: endpoint.suspend } : {}),
  };
}

/** A value of the variable's form, for validating the result when it is not set: a URL where it is a URL. */
function variableStandIn(entry: Record<string, unknown>, name: string): string {
  const text = JSON.stringify(entry);
  // Named after the variable, so that the plan printed with it says which it is.
  const host = `${name.toLowerCase().replace(/_/g, '-')}.unset.invalid`;
  if (new RegExp(`"url":"\\$\\{${name}\\}`).test(text)) return `https://${host}`;
  if (new RegExp(`"url":"[a-z]+://\\$\\{${name}\\}`).test(text)) return host;
  return 'unset';
}
