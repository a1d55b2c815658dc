// typescript-eslint's recommended rules over src/, test/, bench/ and console/. Formatting is
// Prettier's job (.prettierrc.json); nothing here repeats it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.luma/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      // A `let` that a closure reads before its one assignment (a timer, a late hook) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Unused names are errors, except the `_`-prefixed ones a signature needs.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
);
