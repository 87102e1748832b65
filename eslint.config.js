// Lint: the recommended sets from ESLint and typescript-eslint; `any` is an error so every use
// needs a disable comment saying why (our standard).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', '.cache/**', 'build/**', 'scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The web UI's browser scripts (ui/static/, served as they are: no build step).
    files: ['ui/static/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'EventSource', 'DOMParser', 'CustomEvent', 'TextEncoder', 'Node', 'confirm', 'setTimeout', 'clearTimeout', 'uPlot'].map((g) => [g, 'readonly'])),
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
