// YAML syntax errors as `gatehouse validate` prints them: each broken file, loaded through the real
// pipeline, against its exact text. A message names the mistake in the user's terms and says what
// to do; the errors the parser cascades into after it are folded into it, not listed.
import t from 'tap';
import { loadFixture } from '../helpers/workspace.js';

interface Case {
  readonly name: string;
  readonly text: string;
  readonly expected: string;
}

const TAB = "a tab indents this line; YAML indents with spaces only: replace the tab with spaces (editors: 'convert indentation to spaces')";

const cases: Case[] = [
  {
    name: 'a tab indents a key of a map',
    text: 'version: 1\nlisten:\n\thttp: 0.0.0.0:8280\napis: []\n',
    expected: `gateway.yaml:3:1  ${TAB}  [CONFIG_SYNTAX]\n`,
  },
  {
    name: 'tabs indent the items of a list: one mistake, its repeats counted',
    text: 'version: 1\napis:\n\t- name: Shop\n\t  context: /shop\n\t  version: v1\n',
    expected: `gateway.yaml:3:1  ${TAB} (3 more syntax errors, up to line 5, most likely come from the same mistake)  [CONFIG_SYNTAX]\n`,
  },
  {
    name: 'a key indented one space too far',
    text: 'version: 1\nlisten:\n  http: 0.0.0.0:8280\n   shutdownTimeout: 5s\napis: []\n',
    expected:
      'gateway.yaml:4:4  "shutdownTimeout" is indented further than "http" above it (column 3), so YAML reads it as more of the value of "http": the keys of one map start at the same column; start it at column 3, or, for a map under "http", put nothing after "http:"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'a key indented one space too little',
    text: 'version: 1\nlisten:\n  http: 0.0.0.0:8280\n shutdownTimeout: 5s\napis: []\n',
    expected:
      'gateway.yaml:4:2  "shutdownTimeout" starts at column 2, but the keys before it start at column 3 ("http", line 3): the keys of one map start at the same column; start it at column 3 to put it under "listen", or at column 1 to put it beside "listen"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'a key of a list item indented one space too little',
    text: 'version: 1\napis:\n  - name: Shop\n   context: /shop\n    version: v1\n',
    expected:
      'gateway.yaml:4:4  a list item needs "- ", or this line is indented wrongly: to add it to the item that starts on line 3, indent it to column 5, like "name"; for a new item, write "- context: /shop" at column 3  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'a list item without "-"',
    text: 'version: 1\napis:\n  - name: Shop\n    context: /shop\n  name: Orders\n    context: /orders\n',
    expected:
      'gateway.yaml:5:3  a list item needs "- ", or this line is indented wrongly: for a new item of the list on line 3, write "- name: Orders" at column 3; to add it to the item above, indent it to column 5, like "name"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'list items out of line',
    text: 'version: 1\napis:\n  - name: A\n    context: /a\n    version: v1\n   - name: B\n',
    expected: 'gateway.yaml:6:4  this "- " item starts at column 4, but the one above it (line 3) starts at column 3: the items of one list start at the same column  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'an unquoted ${VAR} in a flow map',
    text: 'version: 1\napis:\n  - name: Shop\n    context: /shop\n    version: v1\n    endpoints:\n      production: { url: ${BACKEND_URL} }\n',
    expected: 'gateway.yaml:7:26  a ${VAR} reference inside { } or [ ] must be quoted: "${BACKEND_URL}"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'an unquoted ${VAR} in a flow sequence',
    text: 'version: 1\ndefaults:\n  tls:\n    protocols: [TLSv1.2, ${MAX_TLS}]\napis: []\n',
    expected: 'gateway.yaml:4:26  a ${VAR} reference inside { } or [ ] must be quoted: "${MAX_TLS}"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'an unquoted ${VAR:-default} in a flow map that ends the document early',
    text: 'version: 1\nadmin: { address: ${ADMIN_ADDRESS:-127.0.0.1:9901} }\napis: []\n',
    expected:
      'gateway.yaml:2:19  a ${VAR} reference inside { } or [ ] must be quoted: "${ADMIN_ADDRESS:-127.0.0.1:9901}" (4 more syntax errors, up to line 3, most likely come from the same mistake)  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'two unquoted references on one line',
    text: 'version: 1\napis:\n  - name: Shop\n    context: /shop\n    version: v1\n    endpoints:\n      production: { url: ${SHOP_URL}, certificate: ${SHOP_CERT} }\n',
    expected: 'gateway.yaml:7:26  ${VAR} references inside { } or [ ] must be quoted: "${SHOP_URL}", "${SHOP_CERT}"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'two independent errors far apart: both reported',
    text: 'version: 1\nlisten:\n\thttp: 0.0.0.0:8280\nreload:\n  interval: 10s\napis:\n  - name: Shop\n    context: /shop\n    version: v1\n    endpoints:\n      production: { url: https://${SHOP_HOST}/api }\n',
    expected: `gateway.yaml:3:1  ${TAB}  [CONFIG_SYNTAX]
gateway.yaml:11:26  a \${VAR} reference inside { } or [ ] must be quoted: "https://\${SHOP_HOST}/api"  [CONFIG_SYNTAX]
`,
  },
  {
    name: 'a stray } below another mistake: its own mistake, with the tokens it cuts off',
    text: 'version: 1\nlisten:\n\thttp: 1\nreload:\n  interval: 1s\ncerts: { directory: x }}\napis: []\n',
    expected: `gateway.yaml:3:1  ${TAB}  [CONFIG_SYNTAX]
gateway.yaml:6:24  this } has nothing open to close: remove it, or add the { it was meant to close (4 more syntax errors, up to line 7, most likely come from the same mistake)  [CONFIG_SYNTAX]
`,
  },
  {
    name: 'a value holding ": "',
    text: 'version: 1\napis:\n  - name: Shop: main\n    context: /shop\n    version: v1\n',
    expected: 'gateway.yaml:3:11  a value with ": " in it must be quoted: "Shop: main"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'a key without ":"',
    text: 'version: 1\nlisten\n  http: 0.0.0.0:8280\napis: []\n',
    expected: 'gateway.yaml:2:1  this line has no ":" after its key, so YAML reads it and the next line as one key: write "listen:"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'an unclosed quote: where it opens, not the end of the file',
    text: 'version: 1\nadmin:\n  token: "s3cret\napis: []\n',
    expected: 'gateway.yaml:3:10  the " that opens this value is never closed: add the closing " (inside "...", write \\" for a ")  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'a quote inside single quotes',
    text: "version: 1\napis:\n  - name: 'Bob's shop'\n    context: /bob\n    version: v1\n",
    expected: `gateway.yaml:3:16  text follows the closing ' of a quoted value; inside '...', write '' for a ' ('Bob''s shop'), or quote with "..." instead  [CONFIG_SYNTAX]\n`,
  },
  {
    name: 'an unclosed flow map',
    text: 'version: 1\nlisten: { http: 0.0.0.0:8280\napis: []\n',
    expected: 'gateway.yaml:3:1  the { } map opened on line 2 (column 9) is not closed: end it with }, and indent the lines inside it further than "listen"  [CONFIG_SYNTAX]\n',
  },
  {
    name: 'a Windows path in double quotes',
    text: 'version: 1\ncerts:\n  directory: "C:\\gatehouse\\certs"\napis: []\n',
    expected: `gateway.yaml:3:17  \\g is not an escape sequence inside "...": write \\\\ for a backslash (as in Windows paths), or quote the value with '...', where \\ is an ordinary character  [CONFIG_SYNTAX]\n`,
  },
  {
    name: 'more mistakes than are listed: the first ones, then a count',
    // 22 maps, each with a tab: 22 independent mistakes, of two errors each.
    text: `version: 1\napis: []\n${Array.from({ length: 22 }, (_, i) => `k${i}:\n\tx: 1\n`).join('\n')}`,
    expected: `${Array.from({ length: 20 }, (_, i) => `gateway.yaml:${4 + 3 * i}:1  ${TAB}  [CONFIG_SYNTAX]\n`).join('')}gateway.yaml:64:1  and 4 more syntax errors from here on, most of them caused by the ones above  [CONFIG_SYNTAX]\n`,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const loaded = await loadFixture(t, { 'gateway.yaml': c.text, certs: {} });
    t.equal(loaded.text, c.expected);
    t.equal(loaded.config, undefined, 'a file that does not parse yields no configuration');
  });
}
