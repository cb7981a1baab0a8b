// Copies the front-end libraries the pages use from node_modules into web/vendor/, as plain ES
// modules the browser loads from this server: bare imports ("preact") become relative paths,
// source-map comments go (the maps are not shipped), and each library's licence and version are
// written beside it. `node tools/vendor.mjs --check` fails when web/vendor/ differs from what this
// step would write, so the committed files are exactly the npm packages named in package.json.

import { readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(web, 'node_modules');
const out = join(web, 'vendor');

/** What each library gives the pages: [package, file in the package, name in vendor/]. */
const FILES = [
  ['preact', 'dist/preact.mjs', 'preact.mjs'],
  ['preact', 'hooks/dist/hooks.mjs', 'preact-hooks.mjs'],
  ['htm', 'dist/htm.mjs', 'htm.mjs'],
  ['hls.js', 'dist/hls.light.min.mjs', 'hls.light.min.mjs'],
];

function transform(source) {
  return source
    .replace(/from\s*"preact"/g, 'from"./preact.mjs"')
    .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
}

function wanted() {
  const files = new Map();
  const versions = [];
  for (const name of [...new Set(FILES.map(([p]) => p))]) {
    const pkg = JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8'));
    versions.push({ name, version: pkg.version, license: pkg.license, files: FILES.filter(([p]) => p === name).map(([, , f]) => f) });
    files.set(`${name}.LICENSE.txt`, readFileSync(join(modules, name, 'LICENSE'), 'utf8'));
  }
  for (const [name, from, to] of FILES) files.set(to, transform(readFileSync(join(modules, name, from), 'utf8')));
  const lines = versions.map((v) => `| ${v.name} | ${v.version} | ${v.license} | ${v.files.map((f) => `\`${f}\``).join(', ')} |`);
  files.set('README.md', [
    '# Vendored front-end libraries',
    '',
    'Written by `node tools/vendor.mjs` from the npm packages pinned in `web/package.json`; do not edit by hand.',
    '`node tools/vendor.mjs --check` (part of the web tests) fails when these files differ from the packages.',
    '',
    '| package | version | licence | files |',
    '|---|---|---|---|',
    ...lines,
    '',
    'Each licence is in `<package>.LICENSE.txt`. hls.js is loaded only by a show page whose stream is HLS',
    'on a browser without native HLS playback.',
    '',
  ].join('\n'));
  return files;
}

const files = wanted();
if (process.argv.includes('--check')) {
  const stale = [];
  for (const [name, text] of files) {
    const path = join(out, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(name);
  }
  const extra = existsSync(out) ? readdirSync(out).filter((f) => !files.has(f)) : [];
  if (stale.length || extra.length) {
    console.error(`web/vendor/ is not what tools/vendor.mjs writes: stale ${stale.join(', ') || '-'}; extra ${extra.join(', ') || '-'}`);
    process.exit(1);
  }
} else {
  mkdirSync(out, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(out, name), text);
}
