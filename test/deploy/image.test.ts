// The container image, checked without building it (no Docker engine where the tests run): the
// Dockerfile parsed with dockerfile-ast, its build context through .dockerignore's rules, the
// default configuration it ships loaded with the real validator, and LICENSE against package.json.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import type { Instruction } from 'dockerfile-ast';
import semver from 'semver';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  engines: { node: string };
  repository?: string | { url: string };
};
const SCHEMA = JSON.parse(readFileSync(path.join(ROOT, 'schemas/gateway.schema.json'), 'utf8')) as {
  properties: { listen: { properties: { https: { properties: { address: { default: string } } } } } };
};
const dockerfile = DockerfileParser.parse(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));

/** ARG defaults before the first FROM: what `docker build` without --build-arg uses. */
const globalArgs = new Map(dockerfile.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
const expand = (text: string, args: ReadonlyMap<string, string>) => text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? '');

interface Stage {
  readonly name: string | null;
  readonly image: string;
  readonly instructions: Instruction[];
}

const stages: Stage[] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const from = dockerfile.getFROMs()[stages.length]!;
    stages.push({ name: from.getBuildStage(), image: expand(from.getImage() ?? '', globalArgs), instructions: [] });
  } else stages.at(-1)?.instructions.push(instruction);
}
const final = stages.at(-1)!;
const ofKind = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword);
/** Exec form: the instruction's arguments as a JSON array of strings, else undefined (shell form). */
function execForm(text: string | null): string[] | undefined {
  if (!text?.trim().startsWith('[')) return undefined;
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) && parsed.every((s) => typeof s === 'string') ? parsed : undefined;
}

/** [source (in the context, or in another stage), destination in this image] of each COPY. */
function copies(stage: Stage): { from: string | undefined; sources: string[]; destination: string }[] {
  let workdir = '/';
  const result: { from: string | undefined; sources: string[]; destination: string }[] = [];
  for (const instruction of stage.instructions) {
    if (instruction.getKeyword() === 'WORKDIR') workdir = path.posix.resolve(workdir, instruction.getArgumentsContent()!);
    if (instruction.getKeyword() !== 'COPY' && instruction.getKeyword() !== 'ADD') continue;
    const args = instruction.getArguments().map((a) => a.getValue());
    const from = dockerfile.getCOPYs().find((c) => c.getRange().start.line === instruction.getRange().start.line)?.getFromFlag()?.getValue() ?? undefined;
    const destination = args.at(-1)!;
    result.push({ from, sources: args.slice(0, -1), destination: path.posix.resolve(workdir, destination) + (destination.endsWith('/') ? '/' : '') });
  }
  return result;
}

t.test('multi-stage: the image is built in a stage of its own and keeps none of the compiler', async (t) => {
  t.ok(stages.length >= 2, `${stages.length} stages`);
  const build = stages.find((s) => s.name === 'build');
  t.ok(build, 'a stage named build');
  t.ok(ofKind(build!, 'RUN').some((r) => /\bnpm ci\b/.test(r.getArgumentsContent()!)), 'build: npm ci');
  t.ok(ofKind(build!, 'RUN').some((r) => /\bnpm run build\b/.test(r.getArgumentsContent()!)), 'build: npm run build');
  for (const run of ofKind(final, 'RUN')) {
    const command = run.getArgumentsContent()!;
    if (/\b(npm|yarn|pnpm)\s+(ci|install|i|add)\b/.test(command)) t.match(command, /--omit=dev|--production/, `the final stage installs production dependencies only: ${command}`);
  }
  const finalCopies = copies(final);
  for (const { from, sources } of finalCopies) {
    for (const source of sources) {
      t.notMatch(source, /^(\.\/?|\/app\/?)?(src|test|bench|coverage)(\/|$)/, `nothing of src/ or test/ in the image (COPY ${from ? `--from=${from} ` : ''}${source})`);
      t.notMatch(source, /^(\.|\.\/|\/app\/?|\/)$/, `no whole-folder copy that would bring everything (COPY ${source})`);
    }
    if (from) {
      const stage = stages.find((s) => s.name === from);
      t.ok(stage, `COPY --from=${from}: a stage of this Dockerfile`);
      if (stage && sources.some((s) => /node_modules/.test(s))) {
        const installs = ofKind(stage, 'RUN').map((r) => r.getArgumentsContent()!).filter((c) => /\bnpm (ci|install)\b/.test(c));
        t.ok(installs.length > 0 && installs.every((c) => c.includes('--omit=dev')), `node_modules comes from stage ${from}, which installs with --omit=dev`);
        t.ok(installs.every((c) => c.includes('--ignore-scripts')), `stage ${from} runs no install script (no build at install time)`);
      }
    }
  }
  // What each COPY makes: a folder's content lands in the destination; a file lands in it when it ends with /.
  const made = finalCopies.flatMap(({ from, sources, destination }) =>
    sources.map((source) => {
      const folder = source.endsWith('/') || (!from && statSync(path.join(ROOT, source)).isDirectory());
      return folder || !destination.endsWith('/') ? destination.replace(/\/$/, '') : path.posix.join(destination, path.posix.basename(source));
    }),
  );
  for (const needed of ['/app/bin', '/app/dist', '/app/schemas', '/app/package.json', '/app/node_modules', '/app/LICENSE']) t.ok(made.includes(needed), `the image has ${needed}`);
  t.same(
    finalCopies.filter((c) => !c.from).flatMap((c) => c.sources).filter((s) => !existsSync(path.join(ROOT, s))),
    [],
    'every file the image copies from the context exists',
  );
});

t.test('the final stage: Node LTS base, non-root numeric user, exec-form node entrypoint', async (t) => {
  const [name, tag] = final.image.split(':') as [string, string];
  t.equal(name, 'node', 'the official node image');
  t.match(tag, /^\d+-[a-z]+-slim$/, `a slim Debian variant with a Node major (${tag})`);
  const major = Number(tag.split('-')[0]);
  t.equal(major % 2, 0, `Node ${major} is an LTS line (even)`);
  t.ok(semver.intersects(`${major}.x`, PACKAGE.engines.node), `package.json engines (${PACKAGE.engines.node}) allows Node ${major}`);
  t.ok(stages.every((s) => s.image === final.image), 'every stage builds on the same base (the build runs on the Node it ships)');

  const users = ofKind(final, 'USER');
  t.equal(users.length, 1, 'one USER in the final stage');
  const user = users[0]!.getArgumentsContent()!;
  t.match(user, /^\d+:\d+$/, `numeric user:group, so that runAsNonRoot can verify it (${user})`);
  t.not(user.split(':')[0], '0', 'not root');
  const last = (keyword: string) => final.instructions.findLastIndex((i) => i.getKeyword() === keyword);
  t.ok(last('USER') > Math.max(last('RUN'), last('COPY')), 'USER comes after every RUN and COPY: nothing of the image belongs to the gateway user');

  const entrypoint = execForm(ofKind(final, 'ENTRYPOINT')[0]?.getArgumentsContent() ?? null);
  t.ok(entrypoint, 'ENTRYPOINT in exec form (no shell between the runtime and the gateway)');
  t.equal(entrypoint![0], 'node', 'node is the entrypoint: signals reach the gateway');
  t.equal(entrypoint![1], '/app/bin/gatehouse.js', 'the installed command');
  t.ok(existsSync(path.join(ROOT, 'bin/gatehouse.js')), 'bin/gatehouse.js exists');
  t.same(execForm(ofKind(final, 'CMD')[0]?.getArgumentsContent() ?? null), ['run'], 'CMD ["run"]');
  t.equal(ofKind(final, 'STOPSIGNAL')[0]?.getArgumentsContent(), 'SIGTERM');
  t.same(ofKind(final, 'VOLUME'), [], 'no VOLUME: the gateway writes nothing, so a read-only root file system is enough');

  const env = new Map(dockerfile.getENVs().filter((e) => final.instructions.includes(e)).flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue() ?? ''] as const)));
  t.equal(env.get('NODE_ENV'), 'production');
  t.equal(env.get('GATEHOUSE_CONFIG'), '/config/gateway.yaml', 'GATEHOUSE_CONFIG names the mount point');
});

t.test("the image's default configuration, its ports and its HEALTHCHECK agree", async (t) => {
  const env = new Map(dockerfile.getENVs().flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue() ?? ''] as const)));
  const configCopy = copies(final).find((c) => c.destination === env.get('GATEHOUSE_CONFIG'));
  t.ok(configCopy, `the image has a file at ${env.get('GATEHOUSE_CONFIG')}`);
  const source = path.join(ROOT, configCopy!.sources[0]!);
  t.ok(
    copies(final).some((c) => c.destination.replace(/\/$/, '') === '/config/certs'),
    'the image has the certificates folder /config/certs',
  );
  const { config, diagnostics } = await loadConfig(source, { env: {} });
  t.same(diagnostics.map((d) => `${d.code}: ${d.message}`), [], `${path.relative(ROOT, source)} loads without an error or a warning, and without any variable`);
  t.equal(path.relative(path.dirname(source), config!.certs.directory), 'certs', 'its certificates folder is certs/ beside it: /config/certs');

  const exposed = ofKind(final, 'EXPOSE').flatMap((e) => e.getArguments().map((a) => Number(a.getValue().split('/')[0])));
  const httpsDefault = Number(SCHEMA.properties.listen.properties.https.properties.address.default.split(':').at(-1));
  t.same(exposed.toSorted(), [config!.listen.http.port, httpsDefault, config!.admin.address.port].toSorted(), 'EXPOSE: listen.http, the default listen.https and the admin address');

  const healthcheck = ofKind(final, 'HEALTHCHECK')[0];
  t.ok(healthcheck, 'HEALTHCHECK');
  const content = healthcheck!.getArgumentsContent()!;
  const command = execForm(content.slice(content.indexOf('CMD') + 3));
  t.ok(command, 'HEALTHCHECK CMD in exec form');
  t.equal(command![0], 'node', 'node itself (slim images have no curl)');
  const url = new URL(/https?:\/\/[^'"\s)]+/.exec(command!.join(' '))![0]);
  t.equal(Number(url.port), config!.admin.address.port, `the HEALTHCHECK asks the admin address's port (${url.port})`);
  t.equal(url.pathname, '/healthz');
  t.ok(['127.0.0.1', 'localhost'].includes(url.hostname), 'over loopback, inside the container');
  t.ok(['127.0.0.1', '0.0.0.0', ''].includes(config!.admin.address.host), 'which reaches the admin address');
});

t.test('OCI labels follow package.json', async (t) => {
  const labels = new Map(
    final.instructions
      .filter((i) => i.getKeyword() === 'LABEL')
      .flatMap((i) => [...i.getArgumentsContent()!.matchAll(/([\w.-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const)),
  );
  const args = new Map(ofKind(final, 'ARG').map((a) => a.getArgumentsContent()!.split('=') as [string, string]));
  t.equal(labels.get('org.opencontainers.image.licenses'), PACKAGE.license, 'licenses');
  t.equal(expand(labels.get('org.opencontainers.image.version') ?? '', args), PACKAGE.version, "version: the VERSION build argument's default is package.json's version");
  const repository = typeof PACKAGE.repository === 'string' ? PACKAGE.repository : PACKAGE.repository?.url;
  t.ok(repository, 'package.json names its repository');
  t.equal(labels.get('org.opencontainers.image.source'), repository?.replace(/^git\+/, '').replace(/\.git$/, ''), 'source: the repository of package.json');
});

// ----------------------------------------------------------------------------- .dockerignore

/** .dockerignore's rules (Go's filepath.Match, `**`, `!` exceptions, the last match wins), for one path. */
function ignored(rules: readonly string[], file: string): boolean {
  let excluded = false;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const pattern = (negated ? rule.slice(1) : rule).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      '^' +
        pattern
          .split('/')
          .map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
          .join('/')
          .replace(/\.\*\//g, '(?:.*/)?') +
        '(?:/.*)?$',
    );
    if (regex.test(file)) excluded = !negated;
  }
  return excluded;
}

const dockerignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

function filesUnder(relative: string): string[] {
  const full = path.join(ROOT, relative);
  if (!statSync(full).isDirectory()) return [relative];
  return readdirSync(full).flatMap((entry) => filesUnder(path.posix.join(relative, entry)));
}

t.test('.dockerignore keeps the context small and private keys out, and lets through what the Dockerfile copies', async (t) => {
  for (const file of ['node_modules/yaml/package.json', '.git/HEAD', 'dist/main.js', 'test/deploy/image.test.ts', 'coverage/index.html', 'bench/run.ts', 'gatehouse-0.1.0.tgz', 'certs/demo.crt', 'deploy/compose/backend-tls/backend.key', 'x/gateway.key', '.tap/processinfo/x.json', 'deploy/kubernetes/base/deployment.yaml'])
    t.ok(ignored(dockerignore, file), `excluded: ${file}`);
  const sources = stages.flatMap((s) => copies(s).filter((c) => !c.from).flatMap((c) => c.sources));
  t.ok(sources.length >= 8, `${sources.length} COPY sources from the context`);
  for (const source of sources) {
    const files = filesUnder(source.replace(/\/$/, ''));
    t.same(files.filter((f) => ignored(dockerignore, f)), [], `COPY ${source}: none of its ${files.length} files is excluded`);
  }
  t.notOk(ignored(['node_modules', '!node_modules/keep'], 'node_modules/keep/x'), 'an exception re-includes (the matcher itself)');
  t.ok(ignored(['**/*.key'], 'a/b/c.key'), '** matches any depth (the matcher itself)');
});

t.test('LICENSE is the Apache License 2.0 that package.json names', async (t) => {
  t.equal(PACKAGE.license, 'Apache-2.0');
  const text = readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
  t.match(text, /^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\//, 'its title');
  t.match(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
  for (const [n, heading] of ['Definitions', 'Grant of Copyright License', 'Grant of Patent License', 'Redistribution', 'Submission of Contributions', 'Trademarks', 'Disclaimer of Warranty', 'Limitation of Liability', 'Accepting Warranty or Additional Liability'].entries())
    t.match(text, new RegExp(`^\\s+${n + 1}\\. ${heading}\\.`, 'm'), `section ${n + 1}: ${heading}`);
  t.match(text, /END OF TERMS AND CONDITIONS/);
  t.ok(text.length > 10_000, `the full text (${text.length} characters)`);
});
