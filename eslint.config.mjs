import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The dependency direction of src/ (ARCHITECTURE.md): a folder may import only from the layers
 * before its own, and not from its siblings in the same layer. One rule per folder, so a wrong
 * import fails `npm run lint` with the rule that says which layer it belongs to.
 */
const LAYERS = [
  ['util'],
  ['schema'],
  ['model', 'onnx'],
  // The inference log and drift: they need only the schema and the model's identity.
  ['monitor'],
  ['flavors', 'registry', 'protocols'],
  ['config'],
  ['core'],
  ['http', 'docker'],
  ['server'],
  ['cli'],
];
const layerRules = LAYERS.flatMap((layer, i) =>
  layer.flatMap((folder) => {
    const forbidden = [...LAYERS.slice(i + 1).flat(), ...layer.filter((f) => f !== folder)];
    if (forbidden.length === 0) return [];
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
                message: `src/${folder} is in layer ${i} (${layer.join(', ')}): it may import only from ${LAYERS.slice(0, i).flat().join(', ') || 'nothing of src/'}, errors.ts, limits.ts and version.ts.`,
              },
            ],
          },
        ],
      },
    };
  }),
);

export default tseslint.config(
  { ignores: ['.scratch-*/**', 'dist/**', 'node_modules/**', 'coverage/**', 'examples/**', 'bench/k6/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  ...layerRules,
  {
    // The HTTP layer stays thin: handlers delegate to the core and the protocols.
    files: ['src/http/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Plain Node scripts (the install script runs before anything is built).
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', fetch: 'readonly', AbortSignal: 'readonly' } },
  },
);
