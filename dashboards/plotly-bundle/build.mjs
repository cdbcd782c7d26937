// Builds the partial bundle with esbuild and the configuration plotly.js uses for its own
// dist/*.min.js (the esbuildConfig of plotly.js's esbuild-config.js, restated here: that
// file needs the tasks/ directory the npm package does not ship).
//
//   node build.mjs OUTFILE
import { createRequire } from 'node:module';
import { writeFileSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { glsl } from 'esbuild-plugin-glsl';
import { environmentPlugin } from 'esbuild-plugin-environment';

const require = createRequire(import.meta.url);
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const version = require('plotly.js/package.json').version;

const out = process.argv[2];
if (!out) {
    console.error('usage: node build.mjs OUTFILE');
    process.exit(2);
}

await build({
    entryPoints: ['./index.js'],
    outfile: out,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    sourcemap: false,
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'warning',
    legalComments: 'eof',
});

const header = [
    '/**',
    `* plotly.js v${version} (twin partial bundle: scatter, scattergl, bar - minified)`,
    '* Copyright 2012-2026, Plotly, Inc.',
    '* All rights reserved.',
    '* Licensed under the MIT license',
    '* Built from dashboards/plotly-bundle (README.md there)',
    '*/',
    '',
].join('\n');
writeFileSync(out, header + readFileSync(out, 'utf-8'));
console.log('wrote', out);
