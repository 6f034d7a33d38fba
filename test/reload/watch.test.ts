// The watcher when what it watches goes away: the certificates folder renamed away and back,
// replaced by another folder, made unreadable for a while; the configuration file's folder
// replaced; the configuration file deleted and written again. In each case chokidar alone loses
// the watch for good (later drops are never seen, nothing is logged). What the user needs: later
// drops and edits are seen and served, and the log says what happened. Real files, real
// gateway, real TLS backends; every wait has a deadline.
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startBackend } from '../helpers/backend.js';
import { request } from '../helpers/client.js';
import { nextReload, startTestGateway } from '../helpers/gateway.js';
import type { LogCapture } from '../helpers/gateway.js';
import { createCA, issue } from '../helpers/pki.js';
import { UNPRIVILEGED, readableWorkspace, spawnGateway } from '../helpers/process.js';

const ca = createCA('Watch Test CA', { keyIndex: 0 });
const leaf = issue({ cn: 'watch.test', sans: ['127.0.0.1'], issuer: ca, keyIndex: 1 });

const INTERVAL_MS = 200;
/** How long a change may take to be served: the watcher looks for a lost folder about once a second, then one reload interval. Generous for a busy CI machine. */
const SERVED_WITHIN_MS = 8_000;
const LOGGED_WITHIN_MS = 5_000;

const config = (apis: string) => `version: 1
listen: { http: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
reload: { interval: ${INTERVAL_MS}ms }
apis:
${apis}`;
const api = (name: string, url: string, alias?: string) =>
  `  - { name: ${name}, context: /${name.toLowerCase()}, version: v1, endpoints: { production: { url: "${url}"${alias ? `, certificate: ${alias}` : ''} } } }\n`;
const code = (res: { text: string }) => (JSON.parse(res.text) as { error?: { code: string } }).error?.code;

/** The status of `url` once it answers 200, or the last status seen when the deadline passes. */
async function statusOnce200(url: string, timeoutMs = SERVED_WITHIN_MS): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await request(url);
    if (status === 200 || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a line whose message matches `pattern` is logged within the deadline (false, not a throw, so that the test goes on to show what else is broken). */
function logged(logs: LogCapture, pattern: RegExp, timeoutMs = LOGGED_WITHIN_MS): Promise<boolean> {
  return logs.waitFor((l) => pattern.test(l.msg), timeoutMs).then(
    () => true,
    () => false,
  );
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const folderSays = (folder: string, what: string) => new RegExp(`^the certificates folder ${escape(folder)} ${what}`);

t.test('the certificates folder renamed away and back: a certificate dropped afterwards is served', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(api('Shop', backend.url, 'shop-ca') + api('Late', backend.url, 'late-ca')), { certs: { 'shop-ca.crt': ca.certPem } });
  const certs = path.join(gw.dir, 'certs');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);
  t.equal(code(await request(`${gw.url}/late/v1/`)), 'CERTIFICATE_PENDING');

  renameSync(certs, `${certs}.away`);
  t.ok(await logged(gw.logs, folderSays(certs, 'is gone: it does not exist; watching for it to come back$')), 'the log says the folder is gone');
  renameSync(`${certs}.away`, certs);
  t.ok(await logged(gw.logs, folderSays(certs, 'is back: watching it again$')), 'the log says it is back');

  writeFileSync(path.join(certs, 'late-ca.crt'), ca.certPem);
  t.equal(await statusOnce200(`${gw.url}/late/v1/`), 200, 'the certificate dropped after the folder came back is served');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200, 'and the one that was there still is');
});

t.test('the certificates folder renamed away and straight back, after the watcher saw it go: a certificate dropped afterwards is served', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const gw = await startTestGateway(t, config(api('Shop', backend.url, 'shop-ca') + api('Late', backend.url, 'late-ca')), { certs: { 'shop-ca.crt': ca.certPem } });
  const certs = path.join(gw.dir, 'certs');
  // The reload that chokidar's unlink events cause proves it saw the folder go; back at once,
  // most often before the once-a-second look sees it missing (either log line is right then).
  const reloaded = Promise.race([nextReload(gw.gateway, 'applied'), nextReload(gw.gateway, 'rejected')]);
  renameSync(certs, `${certs}.away`);
  await reloaded;
  renameSync(`${certs}.away`, certs);
  t.ok(await logged(gw.logs, folderSays(certs, '(was gone or unreadable for a moment|is back): watching it again$')), 'the log says it is watched again');

  writeFileSync(path.join(certs, 'late-ca.crt'), ca.certPem);
  t.equal(await statusOnce200(`${gw.url}/late/v1/`), 200, 'the certificate dropped afterwards is served');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);
});

t.test('the certificates folder replaced by another one (mv certs certs.old; mv certs.new certs): its certificates and later drops are served', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const apis = api('Shop', backend.url, 'shop-ca') + api('Late', backend.url, 'late-ca') + api('Later', backend.url, 'later-ca');
  const gw = await startTestGateway(t, config(apis), { certs: { 'shop-ca.crt': ca.certPem } });
  const certs = path.join(gw.dir, 'certs');
  t.equal(code(await request(`${gw.url}/late/v1/`)), 'CERTIFICATE_PENDING');

  mkdirSync(`${certs}.new`);
  writeFileSync(path.join(`${certs}.new`, 'shop-ca.crt'), ca.certPem);
  writeFileSync(path.join(`${certs}.new`, 'late-ca.crt'), ca.certPem);
  renameSync(certs, `${certs}.old`);
  renameSync(`${certs}.new`, certs);
  t.ok(await logged(gw.logs, folderSays(certs, 'was replaced by another folder: watching the new one$')), 'the log says the folder was replaced');
  t.equal(await statusOnce200(`${gw.url}/late/v1/`), 200, "the new folder's certificate is served");

  writeFileSync(path.join(certs, 'later-ca.crt'), ca.certPem);
  t.equal(await statusOnce200(`${gw.url}/later/v1/`), 200, 'a certificate dropped into the new folder is served');
  t.equal((await request(`${gw.url}/shop/v1/`)).status, 200);
});

t.test('the certificates folder unreadable for a while (chmod 000, then 755): a certificate dropped afterwards is served', async (t) => {
  const backend = await startBackend(t, { certificate: leaf });
  const text = config(api('Shop', backend.url, 'shop-ca') + api('Late', backend.url, 'late-ca'));
  // chmod 000 stops nobody running as root: then the gateway runs as an unprivileged user, in a
  // child process, in a folder that user can read.
  let url: string;
  let logs: LogCapture;
  let certs: string;
  if (UNPRIVILEGED) {
    const dir = readableWorkspace(t, { 'gateway.yaml': text, 'certs/shop-ca.crt': ca.certPem });
    certs = path.join(dir, 'certs');
    const gw = await spawnGateway(t, dir, [], [], UNPRIVILEGED);
    url = gw.url;
    logs = gw.logs;
  } else {
    const gw = await startTestGateway(t, text, { certs: { 'shop-ca.crt': ca.certPem } });
    certs = path.join(gw.dir, 'certs');
    t.teardown(() => chmodSync(certs, 0o755)); // so that the folder can be removed, whatever happened
    url = gw.url;
    logs = gw.logs;
  }
  t.equal((await request(`${url}/shop/v1/`)).status, 200);
  t.equal(code(await request(`${url}/late/v1/`)), 'CERTIFICATE_PENDING');

  chmodSync(certs, 0o000);
  t.ok(await logged(logs, folderSays(certs, 'is unreadable: permission denied; watching for it to come back$')), 'the log says the folder is unreadable');
  chmodSync(certs, 0o755);
  t.ok(await logged(logs, folderSays(certs, 'is back: watching it again$')), 'the log says it is back');

  writeFileSync(path.join(certs, 'late-ca.crt'), ca.certPem, { mode: 0o644 });
  t.equal(await statusOnce200(`${url}/late/v1/`), 200, 'the certificate dropped after the folder became readable again is served');
  t.equal((await request(`${url}/shop/v1/`)).status, 200);
});

t.test("the configuration file's folder replaced by another one: its configuration and later edits are served", async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  const next = `${gw.dir}.new`;
  t.teardown(() => {
    rmSync(next, { recursive: true, force: true });
    rmSync(`${gw.dir}.old`, { recursive: true, force: true });
  });
  mkdirSync(path.join(next, 'certs'), { recursive: true });
  writeFileSync(path.join(next, 'gateway.yaml'), config(api('One', backend.url) + api('Two', backend.url)));
  renameSync(gw.dir, `${gw.dir}.old`);
  renameSync(next, gw.dir);
  t.equal(await statusOnce200(`${gw.url}/two/v1/`), 200, "the new folder's configuration is served");

  writeFileSync(path.join(gw.dir, 'gateway.yaml'), config(api('One', backend.url) + api('Three', backend.url)));
  t.equal(await statusOnce200(`${gw.url}/three/v1/`), 200, 'an edit in the new folder is served');
});

t.test('the configuration file deleted, then written again a moment later: served, and so are later edits', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  const file = path.join(gw.dir, 'gateway.yaml');
  rmSync(file);
  t.ok(await logged(gw.logs, new RegExp(`^the configuration file ${escape(file)} is gone: it does not exist; watching for it to come back$`)), 'the log says the file is gone');
  writeFileSync(file, config(api('Two', backend.url)));
  t.ok(await logged(gw.logs, new RegExp(`^the configuration file ${escape(file)} is back: watching it again$`)), 'the log says it is back');
  t.equal(await statusOnce200(`${gw.url}/two/v1/`), 200, 'the file written again is served');

  writeFileSync(file, config(api('Three', backend.url)));
  t.equal(await statusOnce200(`${gw.url}/three/v1/`), 200, 'a later edit is served');
});

t.test('the configuration file deleted and re-created at once (as git checkout does; the inode number is often reused): later edits are served', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('One', backend.url)));
  const file = path.join(gw.dir, 'gateway.yaml');
  rmSync(file);
  writeFileSync(file, config(api('Two', backend.url)));
  t.equal(await statusOnce200(`${gw.url}/two/v1/`), 200, 'the re-created file is served');

  writeFileSync(file, config(api('Three', backend.url)));
  t.equal(await statusOnce200(`${gw.url}/three/v1/`), 200, 'a later in-place edit is served');
});

t.test('a file saved again right after a reload read it (within chokidar 50 ms throttle of its change events) is served', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('First', backend.url)));
  const file = path.join(gw.dir, 'gateway.yaml');
  // The second save happens as soon as the first is applied: typically well within 50 ms of the
  // change event that caused it, when chokidar drops further change events of the same file.
  gw.gateway.reloader.once('applied', () => writeFileSync(file, config(api('Second', backend.url))));
  writeFileSync(file, config(api('First', backend.url) + api('Extra', backend.url)));
  t.equal(await statusOnce200(`${gw.url}/second/v1/`), 200, 'the second save is served');
  t.equal((await request(`${gw.url}/extra/v1/`)).status, 404, 'and the first is replaced');
});

t.test('a configuration caught half-written (emptied, then written 30 ms later) is read again: applied, no rejection reported', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('First', backend.url)));
  const file = path.join(gw.dir, 'gateway.yaml');
  // What a shell's `>` does: the file is empty for a moment, then holds the new text.
  writeFileSync(file, '');
  const reload = gw.gateway.reloader.reloadNow('test');
  setTimeout(() => writeFileSync(file, config(api('Second', backend.url))), 30);
  const outcome = await reload;
  t.equal(outcome.kind, 'applied', 'the reload ends applied');
  t.equal(gw.logs.lines.filter((l) => l.msg.startsWith('configuration rejected')).length, 0, 'no rejection was reported');
  t.equal(await statusOnce200(`${gw.url}/second/v1/`), 200, 'the finished file is served');
  const readAgain = gw.logs.lines.some((l) => l.msg === 'the files changed while they were read: reading them again');
  t.comment(readAgain ? 'the reload read the empty file, then read it again' : 'the reload read the finished file at once (a slow machine)');
});

t.test('a configuration that stays broken is rejected once, after the watcher has had its say', async (t) => {
  const backend = await startBackend(t);
  const gw = await startTestGateway(t, config(api('First', backend.url)));
  const rejections: unknown[] = [];
  gw.gateway.reloader.on('rejected', (o) => rejections.push(o));
  writeFileSync(path.join(gw.dir, 'gateway.yaml'), 'version: 1\napis: [');
  const outcome = await gw.gateway.reloader.reloadNow('test');
  t.equal(outcome.kind, 'rejected', 'rejected');
  // The watcher's event for this write may arrive after the first read: then it is read again, and still reported once.
  await new Promise((r) => setTimeout(r, 1_000));
  t.equal(rejections.length, 1, 'one rejection event');
  t.equal(gw.logs.lines.filter((l) => l.msg.startsWith('configuration rejected')).length, 1, 'one rejection logged');
  t.equal((await request(`${gw.url}/first/v1/`)).status, 200, 'the running configuration keeps serving');
});
