// `socket: 60` is 60 milliseconds: a number without a unit under 1000, for a duration whose usual
// unit is seconds or more, is a warning at its line (CONFIG_DURATION_UNITLESS), never an error.
import t from 'tap';
import { loadFixture } from '../helpers/workspace.js';

const everyDuration = `version: 1
listen:
  shutdownDelay: 60
  shutdownTimeout: 60
  headersTimeout: 60
  requestTimeout: 60
  idleTimeout: 60
certs: { warnBefore: 30 }
reload: { interval: 60 }
defaults:
  timeouts: { connect: 60, socket: 60 }
apis:
  - name: A
    context: /a
    version: v1
    timeouts: { connect: 60, socket: 60 }
    endpoints:
      production: { url: "http://a.internal", timeouts: { connect: 60, socket: 60 } }
`;

const hint = (n: number, unit = 's') => `${n} ms; did you mean ${n}${unit}? (a number without a unit is milliseconds: write ${n}ms if that is meant)  [CONFIG_DURATION_UNITLESS]`;

t.test('every timeout, interval and delay written as a small bare number is a warning', async (t) => {
  const { config, text } = await loadFixture(t, { 'gateway.yaml': everyDuration, certs: {} });
  t.ok(config, 'warnings do not stop the load');
  t.equal(config!.apis[0]!.production.targets[0]!.timeouts.socketMs, 60, 'the value stays what it says: 60 ms');
  t.equal(
    text,
    `gateway.yaml:3:18  warning  listen.shutdownDelay: ${hint(60)}
gateway.yaml:4:20  warning  listen.shutdownTimeout: ${hint(60)}
gateway.yaml:5:19  warning  listen.headersTimeout: ${hint(60)}
gateway.yaml:6:19  warning  listen.requestTimeout: ${hint(60)}
gateway.yaml:7:16  warning  listen.idleTimeout: ${hint(60)}
gateway.yaml:8:22  warning  certs.warnBefore: ${hint(30, 'd')}
gateway.yaml:9:21  warning  reload.interval: ${hint(60)}
gateway.yaml:11:24  warning  defaults.timeouts.connect: ${hint(60)}
gateway.yaml:11:36  warning  defaults.timeouts.socket: ${hint(60)}
gateway.yaml:16:26  warning  apis[0].timeouts.connect: ${hint(60)}
gateway.yaml:16:38  warning  apis[0].timeouts.socket: ${hint(60)}
gateway.yaml:18:68  warning  apis[0].endpoints.production.timeouts.connect: ${hint(60)}
gateway.yaml:18:80  warning  apis[0].endpoints.production.timeouts.socket: ${hint(60)}
`,
  );
});

t.test('not warned: 0, 1000 and above, a unit (ms included), and a number as text is warned alike', async (t) => {
  const quiet = `version: 1
listen: { shutdownDelay: 0, idleTimeout: 1000, headersTimeout: 60ms, requestTimeout: 5m }
certs: { warnBefore: 0 }
reload: { interval: 999 }
defaults:
  timeouts: { connect: "60", socket: 1m30s }
apis: []
`;
  const { text, config } = await loadFixture(t, { 'gateway.yaml': quiet, certs: {} });
  t.ok(config);
  t.equal(
    text,
    `gateway.yaml:4:21  warning  reload.interval: ${hint(999)}
gateway.yaml:6:24  warning  defaults.timeouts.connect: ${hint(60)}
`,
  );
});

t.test('TOML: a bare integer is warned about the same way', async (t) => {
  const toml = `version = 1
apis = []

[defaults.timeouts]
connect = 5
socket = "60s"
`;
  const { text } = await loadFixture(t, { 'gateway.toml': toml, certs: {} }, { config: 'gateway.toml' });
  t.equal(text, `gateway.toml:5:11  warning  defaults.timeouts.connect: ${hint(5)}\n`);
});

t.test('from a variable: warned, without quoting what it holds', async (t) => {
  const yaml = 'version: 1\napis: []\ndefaults:\n  timeouts:\n    socket: ${SOCKET_TIMEOUT:-60s}\n    connect: "${CONNECT_TIMEOUT}"\n';
  const { text } = await loadFixture(t, { 'gateway.yaml': yaml, certs: {} }, { env: { SOCKET_TIMEOUT: '45', CONNECT_TIMEOUT: '1500' } });
  t.equal(
    text,
    'gateway.yaml:5:13  warning  defaults.timeouts.socket: ${SOCKET_TIMEOUT:-60s} holds a number without a unit, read as milliseconds (less than a second); did you mean seconds? Give the unit in the value (like 30s; 30ms to keep milliseconds)  [CONFIG_DURATION_UNITLESS]\n',
  );
  t.notMatch(text, /45/, 'the number from the environment is not in the message');
  const fine = await loadFixture(t, { 'gateway.yaml': yaml, certs: {} }, { env: { CONNECT_TIMEOUT: '2s' } });
  t.equal(fine.text, '', 'the default with its unit is not warned about');
});
