// deploy/kubernetes/ and deploy/monitoring/'s manifests as a cluster would take them: every
// kustomization built (resources, generators, images; cross-checked with `kubectl kustomize`
// when kubectl is installed), every object validated against the Kubernetes schemas of
// kubernetes-models (plus unknown fields, which `kubectl --validate=strict` refuses and those
// schemas let through), and each gateway pod checked against the gateway.yaml it mounts: the file
// is materialised as the kubelet lays it out (..data symlinks, modes) and loaded with the real
// validator, then its ports, probe paths, mounts, certificates folder and shutdown timing are
// compared with the manifests.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as monitoringV1 from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import * as policyV1 from 'kubernetes-models/policy/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import * as coreV1 from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import t from 'tap';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
/** The image the Dockerfile builds, as the manifests name it (the tag comes from kustomization.yaml's images:). */
const IMAGE = 'ghcr.io/gatehouse/gatehouse';
/** The user and group of the image (Dockerfile: USER 1000:1000). */
const IMAGE_UID = 1000;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, unknown>;

// ------------------------------------------------------------------------------ the schemas

interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  readonly prototype: { validate(): void };
}

/** Every kind these manifests may use, by apiVersion/kind, from the model classes themselves. */
const MODELS = new Map<string, ModelClass>();
for (const group of [coreV1, appsV1, policyV1, monitoringV1] as Record<string, unknown>[]) {
  for (const value of Object.values(group)) {
    const model = value as Partial<ModelClass>;
    if (typeof value === 'function' && typeof model.apiVersion === 'string' && typeof model.kind === 'string') MODELS.set(`${model.apiVersion}/${model.kind}`, model as ModelClass);
  }
}

/**
 * Wraps a parsed manifest so that every property the schema's validator reads is recorded.
 * kubernetes-models' validators (ajv, compiled) read exactly the properties their schema
 * declares, and iterate maps (labels, data), so a key never read is a field Kubernetes does not
 * know: a typo such as readOnlyRootFileSystem, which the API server drops (or refuses, with
 * strict validation) and which the schema alone, having no additionalProperties: false, accepts.
 */
function tracked(value: unknown, pointer: string, keys: Map<string, { all: string[]; read: Set<string> }>): unknown {
  if (value === null || typeof value !== 'object') return value;
  const entry = { all: Object.keys(value), read: new Set<string>() };
  keys.set(pointer, entry);
  const children = new Map<string, unknown>();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.hasOwn(target, key)) {
        entry.read.add(key);
        if (!children.has(key)) children.set(key, tracked((target as Record<string, unknown>)[key], `${pointer}/${key}`, keys));
        return children.get(key);
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

/** Schema errors and unknown fields of one object, as "Kind/name: /pointer problem". */
function validateObject(object: K8sObject): string[] {
  const where = `${object.kind}/${object.metadata?.name}`;
  const model = MODELS.get(`${object.apiVersion}/${object.kind}`);
  if (!model) return [`${where}: no schema for ${object.apiVersion} ${object.kind} (a kind this test does not know, or a wrong apiVersion)`];
  const keys = new Map<string, { all: string[]; read: Set<string> }>();
  try {
    model.prototype.validate.call(tracked(object, '', keys));
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
  const unknown: string[] = [];
  for (const [pointer, { all, read }] of keys) for (const key of all) if (!read.has(key)) unknown.push(`${where}: ${pointer}/${key} is not a field of ${object.kind}`);
  return unknown;
}

// ---------------------------------------------------------------------- kustomize, as needed

interface Generator {
  name: string;
  files?: string[];
  literals?: string[];
  type?: string;
  behavior?: string;
  options?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

interface Kustomization {
  apiVersion: string;
  kind: string;
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
  images?: { name: string; newName?: string; newTag?: string }[];
}

/** The fields this builder implements; another field would be silently ignored, so it is an error. */
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'secretGenerator', 'generatorOptions', 'images']);

/** Kubernetes reads YAML 1.1: `0440` is octal there (288), and 440 in YAML 1.2. */
function parseManifests(text: string, file: string): K8sObject[] {
  return YAML.parseAllDocuments(text, { version: '1.1' }).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

function generatorData(dir: string, generator: Generator, problems: string[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const entry of generator.files ?? []) {
    const [key, file] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [path.basename(entry), entry];
    const full = path.join(dir, file);
    if (!existsSync(full)) problems.push(`${generator.name}: file ${file} does not exist`);
    else data[key] = readFileSync(full, 'utf8');
  }
  for (const literal of generator.literals ?? []) {
    const at = literal.indexOf('=');
    data[literal.slice(0, at)] = literal.slice(at + 1);
  }
  return data;
}

/** kustomize build, for what these kustomizations use; problems for anything it cannot resolve. */
function buildKustomization(dir: string): { kustomization: Kustomization; objects: K8sObject[]; problems: string[] } {
  const problems: string[] = [];
  const kustomization = YAML.parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'), { version: '1.1' }) as Kustomization;
  for (const key of Object.keys(kustomization)) if (!KUSTOMIZATION_FIELDS.has(key)) problems.push(`kustomization.yaml: ${key} is not resolved by this test; extend buildKustomization`);
  if (kustomization.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || kustomization.kind !== 'Kustomization') problems.push('kustomization.yaml: not a kustomize.config.k8s.io/v1beta1 Kustomization');
  const objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const full = path.join(dir, resource);
    if (!existsSync(full)) {
      problems.push(`resource ${resource} does not exist`);
      continue;
    }
    if (statSync(full).isDirectory()) {
      const nested = buildKustomization(full);
      problems.push(...nested.problems.map((p) => `${resource}: ${p}`));
      objects.push(...nested.objects);
    } else objects.push(...parseManifests(readFileSync(full, 'utf8'), resource));
  }
  const hashed = kustomization.generatorOptions?.disableNameSuffixHash !== true;
  if (hashed && (kustomization.configMapGenerator ?? kustomization.secretGenerator)) problems.push('generators without disableNameSuffixHash: names get a content hash, which this test does not compute');
  for (const generator of kustomization.configMapGenerator ?? []) {
    const metadata = { name: generator.name, ...(generator.options?.labels ? { labels: generator.options.labels } : {}), ...(generator.options?.annotations ? { annotations: generator.options.annotations } : {}) };
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata, data: generatorData(dir, generator, problems) });
  }
  for (const generator of kustomization.secretGenerator ?? []) {
    const data = Object.fromEntries(Object.entries(generatorData(dir, generator, problems)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    const metadata = { name: generator.name, ...(generator.options?.labels ? { labels: generator.options.labels } : {}) };
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata, type: generator.type ?? 'Opaque', data });
  }
  for (const image of kustomization.images ?? []) {
    for (const object of objects) {
      const spec = podSpecOf(object);
      for (const container of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
        const [name, tag] = splitImage(container.image ?? '');
        if (name === image.name) container.image = `${image.newName ?? name}:${image.newTag ?? tag}`;
      }
    }
  }
  return { kustomization, objects, problems };
}

function splitImage(image: string): [string, string] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest'];
}

function podSpecOf(object: K8sObject): IPodSpec | undefined {
  return object.kind === 'Deployment' ? (object as unknown as IDeployment).spec?.template.spec : undefined;
}

const KUSTOMIZATIONS = ['kubernetes/base', 'kubernetes/sidecar', 'monitoring'];

const KUBECTL = !spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).error;

/** kubectl's own kustomize: the reference for buildKustomization. */
function kubectlKustomize(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${result.stderr}`);
  return parseManifests(result.stdout, `kubectl kustomize ${dir}`);
}

/** Objects by kind and name; a Secret's base64 without the line breaks kustomize folds it with. */
function byName(objects: readonly K8sObject[]): Record<string, unknown> {
  const normal = (o: K8sObject) => (o.kind === 'Secret' && o.data ? { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s/g, '')])) } : o);
  return Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, normal(o)]));
}

t.test('every kustomization builds', async (t) => {
  t.same(
    KUSTOMIZATIONS.filter((k) => !existsSync(path.join(DEPLOY, k, 'kustomization.yaml'))),
    [],
    'each folder has its kustomization.yaml',
  );
  for (const name of KUSTOMIZATIONS) {
    const dir = path.join(DEPLOY, name);
    const { objects, problems, kustomization } = buildKustomization(dir);
    t.same(problems, [], `${name}: resources and generator files exist`);
    t.ok(objects.length >= 2, `${name}: ${objects.length} objects`);
    t.equal(new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`)).size, objects.length, `${name}: no two objects of one kind share a name`);
    for (const image of kustomization.images ?? []) t.equal(image.newTag, PACKAGE.version, `${name}: the image tag is package.json's version (${PACKAGE.version})`);
  }
});

t.test('and builds them as kubectl kustomize does', { skip: KUBECTL ? false : 'kubectl not installed: the kustomizations are built by this test alone' }, async (t) => {
  for (const name of KUSTOMIZATIONS) {
    const dir = path.join(DEPLOY, name);
    t.same(byName(buildKustomization(dir).objects), byName(kubectlKustomize(dir)), `${name}: the same objects as kubectl kustomize`);
  }
});

t.test('every manifest under deploy/ is valid Kubernetes (schemas and unknown fields)', async (t) => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(entry.name) && entry.name !== 'kustomization.yaml') files.push(full);
    }
  };
  walk(path.join(DEPLOY, 'kubernetes'));
  walk(path.join(DEPLOY, 'monitoring'));
  let count = 0;
  for (const file of files) {
    const objects = parseManifests(readFileSync(file, 'utf8'), file);
    // gateway.yaml files are the gateway's configuration, and a plain rules file is Prometheus's: not Kubernetes objects.
    if (objects.every((o) => !('apiVersion' in o && 'kind' in o))) continue;
    for (const object of objects) {
      count++;
      t.same(validateObject(object), [], `${path.relative(ROOT, file)}: ${object.kind}/${object.metadata?.name}`);
    }
  }
  for (const name of KUSTOMIZATIONS) for (const object of buildKustomization(path.join(DEPLOY, name)).objects) t.same(validateObject(object), [], `${name} built: ${object.kind}/${object.metadata.name}`);
  t.ok(count >= 8, `${count} objects in ${files.length} files`);
});

t.test('the validation refuses what Kubernetes refuses', async (t) => {
  const deployment = buildKustomization(path.join(DEPLOY, 'kubernetes/base')).objects.find((o) => o.kind === 'Deployment')!;
  const broken = structuredClone(deployment) as unknown as IDeployment;
  const container = broken.spec!.template.spec!.containers[0]! as IContainer & Record<string, unknown>;
  (container.securityContext as Record<string, unknown>).readOnlyRootFileSystem = true;
  container.ports![0]!.containerPort = 'http' as unknown as number;
  t.match(validateObject(broken as unknown as K8sObject), [/containerPort must be integer/]);
  delete (container.ports![0] as unknown as Record<string, unknown>).containerPort;
  container.ports![0]!.containerPort = 8280;
  t.same(validateObject(broken as unknown as K8sObject), ['Deployment/gatehouse: /spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem is not a field of Deployment']);
  t.match(validateObject({ ...deployment, apiVersion: 'extensions/v1beta1' }), [/no schema for extensions\/v1beta1 Deployment/]);
});

// -------------------------------------------------------------- the pod and the file it mounts

interface MountedFile {
  readonly content: Buffer;
  readonly mode: number;
  readonly source: string;
  readonly kind: 'ConfigMap' | 'Secret';
}

function find<T>(objects: readonly K8sObject[], kind: string, name: string): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

function objectFiles(objects: readonly K8sObject[], kind: 'ConfigMap' | 'Secret', name: string, items: readonly { key: string; path: string; mode?: number }[] | undefined, defaultMode: number, problems: string[]): Map<string, MountedFile> {
  const files = new Map<string, MountedFile>();
  const object = find<{ data?: Record<string, string>; stringData?: Record<string, string> }>(objects, kind, name);
  if (!object) {
    problems.push(`${kind} ${name} is not among the objects applied`);
    return files;
  }
  const data = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(object.data ?? {})) data.set(key, kind === 'Secret' ? Buffer.from(value, 'base64') : Buffer.from(value));
  for (const [key, value] of Object.entries(object.stringData ?? {})) data.set(key, Buffer.from(value));
  for (const item of items ?? [...data.keys()].map((key) => ({ key, path: key, mode: undefined }))) {
    const content = data.get(item.key);
    if (content === undefined) problems.push(`${kind} ${name} has no key ${item.key}`);
    else files.set(item.path, { content, mode: item.mode ?? defaultMode, source: `${kind} ${name} key ${item.key}`, kind });
  }
  return files;
}

function volumeFiles(objects: readonly K8sObject[], volume: IVolume, problems: string[]): Map<string, MountedFile> {
  if (volume.configMap) return objectFiles(objects, 'ConfigMap', volume.configMap.name!, volume.configMap.items, volume.configMap.defaultMode ?? 0o644, problems);
  if (volume.secret) return objectFiles(objects, 'Secret', volume.secret.secretName!, volume.secret.items, volume.secret.defaultMode ?? 0o644, problems);
  if (volume.projected) {
    const files = new Map<string, MountedFile>();
    for (const source of volume.projected.sources ?? []) {
      const mode = volume.projected.defaultMode ?? 0o644;
      const part = source.configMap
        ? objectFiles(objects, 'ConfigMap', source.configMap.name!, source.configMap.items, mode, problems)
        : source.secret
          ? objectFiles(objects, 'Secret', source.secret.name!, source.secret.items, mode, problems)
          : new Map<string, MountedFile>();
      for (const [file, content] of part) files.set(file, content);
    }
    return files;
  }
  problems.push(`volume ${volume.name}: only configMap, secret and projected volumes are resolved here`);
  return new Map();
}

const ATOMIC_DIR = '..2026_01_01_00_00_00.000000001';

/**
 * Writes the container's view of its mounts under `root`, as the kubelet does: each volume's
 * files in a timestamped folder, ..data pointing at it, and a symlink per top-level entry.
 * Returns the file map by container path.
 */
function materialise(root: string, objects: readonly K8sObject[], spec: IPodSpec, container: IContainer, problems: string[]): Map<string, MountedFile> {
  const view = new Map<string, MountedFile>();
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => a.mountPath.length - b.mountPath.length);
  for (const mount of mounts) {
    if (mount.subPath !== undefined || mount.subPathExpr !== undefined) problems.push(`volumeMount ${mount.name} at ${mount.mountPath} uses subPath: the kubelet never updates such a mount, so a changed ConfigMap or Secret is never seen`);
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    if (!volume) {
      problems.push(`volumeMount ${mount.name}: no such volume`);
      continue;
    }
    const files = volumeFiles(objects, volume, problems);
    const dir = path.join(root, mount.mountPath);
    mkdirSync(path.join(dir, ATOMIC_DIR), { recursive: true });
    symlinkSync(ATOMIC_DIR, path.join(dir, '..data'));
    for (const [existing] of view) if (existing.startsWith(mount.mountPath + '/')) view.delete(existing);
    const top = new Set<string>();
    for (const [file, mounted] of files) {
      const full = path.join(dir, ATOMIC_DIR, file);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, mounted.content);
      chmodSync(full, mounted.mode);
      top.add(file.split('/')[0]!);
      view.set(path.posix.join(mount.mountPath, file), mounted);
    }
    for (const entry of top) symlinkSync(path.join('..data', entry), path.join(dir, entry));
  }
  return view;
}

/** A container path for a path under the materialised root, without the kubelet's ..data hops. */
function containerPath(root: string, file: string): string {
  return '/' + path.relative(root, file).split(path.sep).filter((s) => s !== '..data' && s !== ATOMIC_DIR).join('/');
}

function envOf(objects: readonly K8sObject[], container: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      const secret = find<{ stringData?: Record<string, string>; data?: Record<string, string> }>(objects, 'Secret', ref.name!);
      // A Secret made outside the manifests (kubectl create secret): any non-empty value.
      env[variable.name] = secret?.stringData?.[ref.key] ?? (secret?.data?.[ref.key] ? Buffer.from(secret.data[ref.key]!, 'base64').toString() : `secret-${ref.name}-${ref.key}`);
    }
  }
  return env;
}

function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

interface PodReport {
  readonly problems: string[];
  readonly config?: GatewayConfig;
  readonly warnings: string[];
}

/** Everything a gateway pod of `objects` must satisfy, as a list of problems (empty: all good). */
async function inspectGatewayPod(root: string, objects: readonly K8sObject[], deploymentName: string): Promise<PodReport> {
  const problems: string[] = [];
  const deployment = find<IDeployment>(objects, 'Deployment', deploymentName)!;
  const spec = deployment.spec!.template.spec!;
  const podLabels = deployment.spec!.template.metadata?.labels;
  const gateway = spec.containers.find((c) => c.image?.startsWith(IMAGE + ':'));
  if (!gateway) return { problems: [`no container runs ${IMAGE}`], warnings: [] };

  // --- the configuration the pod loads
  const env = envOf(objects, gateway);
  const configFile = env.GATEHOUSE_CONFIG ?? '/config/gateway.yaml';
  const view = materialise(root, objects, spec, gateway, problems);
  if (!view.has(configFile)) return { problems: [...problems, `${configFile} (GATEHOUSE_CONFIG) is in no volume the gateway mounts`], warnings: [] };
  const configMount = gateway.volumeMounts!.find((m) => m.mountPath === path.posix.dirname(configFile));
  if (!configMount) problems.push(`the folder of ${configFile} is not a mount point: mount the ConfigMap as the folder ${path.posix.dirname(configFile)}`);
  if (view.get(configFile)!.kind !== 'ConfigMap') problems.push(`${configFile} comes from ${view.get(configFile)!.source}, not a ConfigMap`);
  const { config, diagnostics } = await loadConfig(path.join(root, configFile), { env });
  const errors = diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.path ?? ''}: ${d.message}`);
  if (errors.length > 0 || !config) return { problems: [...problems, ...errors.map((e) => `the mounted gateway.yaml does not load: ${e}`)], warnings: [] };
  const warnings = diagnostics.map((d) => `${d.code} ${d.path ?? ''}: ${d.message}`);

  // --- ports and probes
  const httpPort = portNumber(gateway, 'http');
  const adminPort = portNumber(gateway, 'admin');
  if (httpPort !== config.listen.http.port) problems.push(`containerPort http (${httpPort}) is not listen.http's port (${config.listen.http.port})`);
  if (adminPort !== config.admin.address.port) problems.push(`containerPort admin (${adminPort}) is not admin.address's port (${config.admin.address.port})`);
  if (config.listen.https && !gateway.ports?.some((p) => p.containerPort === config.listen.https!.address.port)) problems.push(`no containerPort for listen.https (${config.listen.https.address.port})`);
  if (LOOPBACK.has(config.admin.address.host)) problems.push(`admin.address is ${config.admin.address.host}: the kubelet's probes and Prometheus come from outside the pod's loopback`);
  for (const [name, probe, expected] of [
    ['livenessProbe', gateway.livenessProbe, '/healthz'],
    ['readinessProbe', gateway.readinessProbe, '/readyz'],
  ] as const) {
    if (!probe?.httpGet) problems.push(`${name}: missing (httpGet ${expected} on the admin port)`);
    else {
      if (probe.httpGet.path !== expected) problems.push(`${name}: path ${probe.httpGet.path}, not ${expected}`);
      if (portNumber(gateway, probe.httpGet.port) !== config.admin.address.port) problems.push(`${name}: port ${probe.httpGet.port} is not the admin address's (${config.admin.address.port})`);
    }
  }
  const annotations = deployment.spec!.template.metadata?.annotations ?? {};
  if (annotations['prometheus.io/port'] !== undefined && Number(annotations['prometheus.io/port']) !== config.admin.address.port) problems.push(`prometheus.io/port ${annotations['prometheus.io/port']} is not the admin port`);
  const services = objects.filter((o) => o.kind === 'Service' && matches((o as unknown as IService).spec?.selector, podLabels)) as unknown as IService[];
  if (services.length === 0) problems.push('no Service selects the pods');
  for (const service of services) {
    for (const port of service.spec!.ports ?? []) {
      const target = portNumber(gateway, port.targetPort ?? port.port);
      if (target !== config.listen.http.port && target !== config.listen.https?.address.port) problems.push(`Service ${service.metadata!.name} port ${port.name ?? port.port}: targetPort ${port.targetPort} is not a client listener of gateway.yaml`);
    }
  }

  // --- the certificates folder: the Secret, at the folder the configuration resolves
  const certsFolder = containerPath(root, config.certs.directory);
  const certsFiles = [...view].filter(([file]) => path.posix.dirname(file) === certsFolder);
  if (certsFiles.length === 0) problems.push(`the certificates folder ${certsFolder} (certs.directory) holds no file of a mounted Secret`);
  for (const [file, mounted] of certsFiles) {
    if (mounted.kind !== 'Secret') problems.push(`${file} comes from ${mounted.source}, not a Secret`);
    if ((mounted.mode & 0o007) !== 0) problems.push(`${file} is readable by others (mode ${mounted.mode.toString(8)}): set defaultMode: 0440`);
    if ((mounted.mode & 0o040) === 0) problems.push(`${file} (mode ${mounted.mode.toString(8)}) is not readable by the group the gateway reads it through (fsGroup)`);
    if (/\.key$|^tls\.key$/.test(path.posix.basename(file)) && !config.listen.https) problems.push(`${file}: a private key in the gateway's certificates folder, used by no listener`);
  }
  for (const api of config.apis) {
    for (const endpoint of [...api.production.targets, ...(api.sandbox?.targets ?? [])]) {
      if (endpoint.pendingAliases.length > 0) problems.push(`${endpoint.path}: no file for certificate alias ${endpoint.pendingAliases.join(', ')} in the mounted ${certsFolder}`);
      for (const file of endpoint.certificates) {
        const mounted = view.get(containerPath(root, file.path));
        if (mounted?.kind !== 'Secret') problems.push(`${endpoint.path}: certificate ${file.alias} comes from ${mounted?.source ?? 'no mount'}, not a Secret`);
      }
    }
  }
  for (const [file, mounted] of view) if (/(^|\/)(tls\.key|[^/]+\.key)$/.test(file) && mounted.kind === 'Secret' && !config.listen.https) problems.push(`${file}: the gateway sees a private key it does not use (${mounted.source})`);

  // --- user, group and modes
  const pod = spec.securityContext ?? {};
  if (pod.fsGroup !== IMAGE_UID) problems.push(`fsGroup is ${pod.fsGroup}, not ${IMAGE_UID}: the Secret's files (mode 0440, root-owned) would not be readable by the gateway`);
  if ((pod.seccompProfile?.type ?? 'Unconfined') !== 'RuntimeDefault') problems.push('the pod has no seccompProfile RuntimeDefault');
  for (const container of spec.containers) {
    const own = container.securityContext ?? {};
    const effective = { runAsNonRoot: own.runAsNonRoot ?? pod.runAsNonRoot, runAsUser: own.runAsUser ?? pod.runAsUser, runAsGroup: own.runAsGroup ?? pod.runAsGroup };
    if (effective.runAsNonRoot !== true) problems.push(`${container.name}: runAsNonRoot is not true`);
    if (effective.runAsUser === undefined || effective.runAsUser === 0) problems.push(`${container.name}: runAsUser must be a non-root number`);
    if (own.readOnlyRootFilesystem !== true) problems.push(`${container.name}: readOnlyRootFilesystem is not true`);
    if (own.allowPrivilegeEscalation !== false) problems.push(`${container.name}: allowPrivilegeEscalation is not false`);
    if (own.privileged === true) problems.push(`${container.name}: privileged`);
    if (!own.capabilities?.drop?.includes('ALL')) problems.push(`${container.name}: capabilities do not drop ALL`);
    if ((own.capabilities?.add ?? []).length > 0) problems.push(`${container.name}: adds capabilities ${own.capabilities!.add!.join(', ')}`);
    if (container === gateway && (effective.runAsUser !== IMAGE_UID || effective.runAsGroup !== IMAGE_UID)) problems.push(`${container.name}: runs as ${effective.runAsUser}:${effective.runAsGroup}, not the image's ${IMAGE_UID}:${IMAGE_UID}`);
    for (const resource of ['cpu', 'memory']) {
      if (container.resources?.requests?.[resource] === undefined) problems.push(`${container.name}: no ${resource} request`);
      if (container.resources?.limits?.[resource] === undefined) problems.push(`${container.name}: no ${resource} limit`);
    }
  }

  // --- shutdown: the grace period covers the delay and the drain
  const budgetSeconds = (config.listen.shutdownDelayMs + config.listen.shutdownTimeoutMs) / 1000;
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (!(grace > budgetSeconds)) problems.push(`terminationGracePeriodSeconds ${grace} is not above listen.shutdownDelay + listen.shutdownTimeout (${budgetSeconds} s)`);
  if (deployment.spec!.strategy?.rollingUpdate?.maxUnavailable !== 0) problems.push('the rolling update may take a pod down before its replacement is ready (maxUnavailable is not 0)');
  if ((deployment.spec!.replicas ?? 1) < 2) problems.push(`replicas ${deployment.spec!.replicas ?? 1}: fewer than 2`);
  if (!matches(deployment.spec!.selector.matchLabels, podLabels)) problems.push("the Deployment's selector does not match its pod template's labels");
  const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget' && matches((o as unknown as IPodDisruptionBudget).spec?.selector?.matchLabels, podLabels)) as unknown as IPodDisruptionBudget[];
  if (budgets.length !== 1) problems.push(`${budgets.length} PodDisruptionBudgets select the pods, not 1`);
  for (const budget of budgets) {
    const replicas = deployment.spec!.replicas ?? 1;
    const { minAvailable, maxUnavailable } = budget.spec!;
    if (typeof minAvailable === 'number' && !(minAvailable >= 1 && minAvailable < replicas)) problems.push(`PodDisruptionBudget minAvailable ${minAvailable} with ${replicas} replicas`);
    if (typeof maxUnavailable === 'number' && !(maxUnavailable >= 1 && maxUnavailable < replicas)) problems.push(`PodDisruptionBudget maxUnavailable ${maxUnavailable} with ${replicas} replicas`);
    if (minAvailable === undefined && maxUnavailable === undefined) problems.push('PodDisruptionBudget with neither minAvailable nor maxUnavailable');
  }

  // --- backends in the same pod (the sidecar): on loopback, a port of another container, which outlives the delay
  for (const api of config.apis) {
    const endpoint = api.production.targets[0]!;
    if (!LOOPBACK.has(endpoint.hostname)) continue;
    const app = spec.containers.find((c) => c !== gateway && c.ports?.some((p) => p.containerPort === endpoint.port));
    if (!app) {
      problems.push(`${endpoint.path}: ${endpoint.url} is on loopback, and no other container of the pod has port ${endpoint.port}`);
      continue;
    }
    const sleepSeconds = app.lifecycle?.preStop?.sleep?.seconds ?? 0;
    if (sleepSeconds * 1000 < config.listen.shutdownDelayMs) problems.push(`${app.name}: preStop sleeps ${sleepSeconds} s, less than listen.shutdownDelay: requests the gateway still accepts would find the app gone`);
    if (!(grace > sleepSeconds)) problems.push(`terminationGracePeriodSeconds ${grace} is not above ${app.name}'s preStop sleep`);
  }
  return { problems, config, warnings };
}

t.test('the standalone base: its pods agree with the gateway.yaml they mount', async (t) => {
  const { objects } = buildKustomization(path.join(DEPLOY, 'kubernetes/base'));
  const report = await inspectGatewayPod(t.testdir(), objects, 'gatehouse');
  t.same(report.problems, [], 'no problem');
  t.same(report.warnings, [], 'the mounted gateway.yaml loads without a warning');
  const config = report.config!;
  t.equal(config.apis.length, 1, 'one API served');
  t.equal(config.listen.shutdownDelayMs, 5000, 'listen.shutdownDelay 5s');
  t.equal(config.listen.shutdownTimeoutMs, 20_000, 'listen.shutdownTimeout 20s');
  const deployment = find<IDeployment>(objects, 'Deployment', 'gatehouse')!;
  const volumes = deployment.spec!.template.spec!.volumes!;
  t.equal(volumes.find((v) => v.secret)?.secret?.defaultMode, 0o440, "the Secret's files are 0440 (YAML 1.1 octal, as Kubernetes reads it)");
  t.equal(deployment.spec!.template.spec!.containers[0]!.image, `${IMAGE}:${PACKAGE.version}`);
  t.equal(deployment.spec!.template.spec!.enableServiceLinks, false, 'no GATEHOUSE_* service link variables');
});

t.test('the sidecar: the gateway calls its app on loopback with the certificate of the Secret', async (t) => {
  const { objects } = buildKustomization(path.join(DEPLOY, 'kubernetes/sidecar'));
  const root = t.testdir();
  const report = await inspectGatewayPod(root, objects, 'app');
  t.same(report.problems, [], 'no problem');
  t.same(report.warnings, [], 'the mounted gateway.yaml loads without a warning (the certificate names 127.0.0.1)');
  const endpoint = report.config!.apis[0]!.production.targets[0]!;
  t.equal(new URL(endpoint.url).hostname, '127.0.0.1', 'the backend is the pod itself');
  t.same(endpoint.certificateAliases, ['app']);
  const secret = find<{ type: string; stringData: Record<string, string> }>(objects, 'Secret', 'app-tls')!;
  t.equal(secret.type, 'kubernetes.io/tls');
  t.equal(readFileSync(endpoint.certificates[0]!.path, 'utf8'), secret.stringData['tls.crt'], "the alias's file is the Secret's tls.crt");
  t.notOk(existsSync(path.join(root, 'config/certs/tls.key')) || existsSync(path.join(root, 'config/certs/app.key')), "the app's private key is not in the gateway's folder");
});

t.test('the pod checks can fail', async (t) => {
  const base = buildKustomization(path.join(DEPLOY, 'kubernetes/base')).objects;
  const mutate = (change: (deployment: IDeployment, objects: K8sObject[]) => void) => {
    const objects = structuredClone(base);
    change(find<IDeployment>(objects, 'Deployment', 'gatehouse')!, objects);
    return objects;
  };
  const cases: [string, (deployment: IDeployment, objects: K8sObject[]) => void, RegExp][] = [
    ['a subPath mount of gateway.yaml', (d) => Object.assign(d.spec!.template.spec!.containers[0]!.volumeMounts![0]!, { subPath: 'gateway.yaml', mountPath: '/config/gateway.yaml' }), /uses subPath/],
    ['a grace period under the drain', (d) => (d.spec!.template.spec!.terminationGracePeriodSeconds = 25), /terminationGracePeriodSeconds 25 is not above .* \(25 s\)/],
    ['a probe on the client port', (d) => (d.spec!.template.spec!.containers[0]!.readinessProbe!.httpGet!.port = 'http'), /readinessProbe: port http is not the admin address's \(9901\)/],
    ['a liveness probe on /readyz', (d) => (d.spec!.template.spec!.containers[0]!.livenessProbe!.httpGet!.path = '/readyz'), /livenessProbe: path \/readyz, not \/healthz/],
    ['the Secret readable by others', (d) => (d.spec!.template.spec!.volumes!.find((v) => v.secret)!.secret!.defaultMode = 0o644), /readable by others \(mode 644\)/],
    ['no fsGroup', (d) => delete d.spec!.template.spec!.securityContext!.fsGroup, /fsGroup is undefined/],
    ['the certs folder elsewhere', (d) => (d.spec!.template.spec!.containers[0]!.volumeMounts![1]!.mountPath = '/certs'), /no file for certificate alias orders/],
    ['a writable root file system', (d) => (d.spec!.template.spec!.containers[0]!.securityContext!.readOnlyRootFilesystem = false), /readOnlyRootFilesystem is not true/],
    ['one replica', (d) => (d.spec!.replicas = 1), /replicas 1: fewer than 2/],
    ['no token for the open admin address', (d) => (d.spec!.template.spec!.containers[0]!.env = d.spec!.template.spec!.containers[0]!.env!.filter((e) => e.name !== 'GATEHOUSE_ADMIN_TOKEN')), /does not load: CONFIG_ENV_UNSET/],
    ['a PodDisruptionBudget for other pods', (_d, objects) => (find<IPodDisruptionBudget>(objects, 'PodDisruptionBudget', 'gatehouse')!.spec!.selector!.matchLabels = { app: 'other' }), /0 PodDisruptionBudgets select the pods/],
  ];
  const reports = (problems: readonly string[], expected: RegExp, name: string) => t.ok(problems.some((p) => expected.test(p)), `${name}: ${problems.join('; ') || 'no problem found'}`);
  for (const [name, change, expected] of cases) reports((await inspectGatewayPod(t.testdir(), mutate(change), 'gatehouse')).problems, expected, name);
  const sidecar = structuredClone(buildKustomization(path.join(DEPLOY, 'kubernetes/sidecar')).objects);
  delete find<IDeployment>(sidecar, 'Deployment', 'app')!.spec!.template.spec!.containers[0]!.lifecycle;
  reports((await inspectGatewayPod(t.testdir(), sidecar, 'app')).problems, /app: preStop sleeps 0 s, less than listen.shutdownDelay/, 'a sidecar app that stops before the gateway');
  const whole = structuredClone(buildKustomization(path.join(DEPLOY, 'kubernetes/sidecar')).objects);
  const projected = find<IDeployment>(whole, 'Deployment', 'app')!.spec!.template.spec!.volumes!.find((v) => v.projected)!.projected!;
  projected.sources = [projected.sources![0]!, { secret: { name: 'app-tls' } }];
  const problems = (await inspectGatewayPod(t.testdir(), whole, 'app')).problems;
  reports(problems, /\/config\/tls\.key: the gateway sees a private key it does not use/, "the whole kubernetes.io/tls Secret in the gateway's folder");
  reports(problems, /no file for certificate alias app/, 'the alias without its file');
});
