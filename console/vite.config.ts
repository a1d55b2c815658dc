import path from 'node:path';
import { defineConfig } from 'vite';

// The web console's build: Preact with the automatic JSX runtime, served by the API under
// /console/ (see src/console). Everything is bundled: no CDN, nothing fetched at run time.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: path.resolve(import.meta.dirname, '../dist/console-app'),
    emptyOutDir: true,
    // Inline nothing: the CSP allows scripts and styles from files only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    target: 'es2022',
  },
});
