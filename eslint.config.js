// Lint: the recommended JavaScript and type-aware TypeScript rules, nothing stylistic
// (formatting is not a review topic).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The layers of src/, lowest first (docs/architecture.md): a folder imports only from layers below
// it, so that knowledge flows one way — the configuration knows nothing of sockets, the proxy
// nothing of the admin address (it exposes an observer that the metrics implement).
const LAYERS = [
  ['certs'],
  ['config'],
  ['backend', 'limits', 'import'],
  ['snapshot'],
  ['proxy', 'reload'],
  ['admin'],
];
const TOP = ['commands', 'cli', 'demo', 'workers'];
const TOP_FILES = ['boot', 'gateway', 'listeners', 'main', 'shutdown'];
const layering = LAYERS.map((folders, i) => {
  const above = [...LAYERS.slice(i + 1).flat(), ...TOP];
  // Folders of one layer do not import each other either.
  const beside = (folder) => folders.filter((f) => f !== folder);
  return folders.map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...above, ...beside(folder)].map((f) => `../${f}/*`).concat(TOP_FILES.map((f) => `../${f}.js`)),
              message: `src/${folder}/ is below that module: imports flow one way (see LAYERS in eslint.config.js)`,
            },
          ],
        },
      ],
    },
  }));
}).flat();

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tap/', 'coverage/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'scripts/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  ...layering,
  {
    // The foundation (errors, diagnostics, log, text, time…) imports from no folder of src/.
    files: ['src/*.ts'],
    ignores: TOP_FILES.map((f) => `src/${f}.ts`),
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['./*/*'], message: 'the foundation modules of src/ import from no folder' }] }] },
  },
  {
    // tap's t.test() returns a promise that tap itself tracks; test callbacks are async by habit.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/require-await': 'off',
      // Diagnostics separate their parts with two spaces; the expected texts say so literally.
      'no-regex-spaces': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: globals.node },
  },
);
