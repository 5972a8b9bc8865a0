#!/usr/bin/env node
// Builds native/jpeg: vstream's libjpeg-turbo addon (fast JPEG decode and YUV encode). Without
// it vstream works the same through sharp, only slower, so a failed build is never an error
// of the install.
//
// Used two ways:
//   - imported by scripts/postinstall.mjs: buildJpeg() never throws, reports one line;
//   - run as `npm run build:jpeg`: rebuilds, shows the compiler output, exits 1 on failure.
//
// One C file against Node-API, so a plain `cc` call does what node-gyp would: no Python, no
// header download (Node-API's headers ship with Node), and the binary works with every Node
// version >= 20 without a rebuild.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../native/jpeg/', import.meta.url));
export const SOURCE = path.join(root, 'vstream_jpeg.c');
export const BINARY = path.join(root, 'build', 'vstream_jpeg.node');
const APT_HINT = 'apt install libjpeg-dev && npm run build:jpeg';

/** Folders holding node_api.h: the npm config's nodedir, then the running Node's own include/. */
function nodeIncludeDirs() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return [...new Set(candidates.filter((d) => d && fs.existsSync(path.join(d, 'node_api.h'))))];
}

function onPath(tool) {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** libjpeg's flags from pkg-config where it knows them (Homebrew, custom prefixes), else -ljpeg. */
function jpegFlags() {
  const r = spawnSync('pkg-config', ['--cflags', '--libs', 'libjpeg'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim().split(/\s+/);
  return ['-ljpeg'];
}

/** Loads the binary in a fresh process: a build that links but cannot load is no build. */
function loads(binary) {
  const r = spawnSync(process.execPath, ['-e', `const j = require(${JSON.stringify(binary)}); if (typeof j.decode !== 'function') process.exit(1)`], {
    encoding: 'utf8',
  });
  return r.status === 0 ? '' : (r.stderr.trim().split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`);
}

/**
 * Builds the addon unless a loadable one is there (or `force`). Never throws.
 * @param {{ force?: boolean; verbose?: boolean }} [options]
 * @returns {{ ok: boolean; how: 'present' | 'built' | 'none'; message: string }}
 */
export function buildJpeg(options = {}) {
  const { force = false, verbose = false } = options;
  try {
    if (!force && fs.existsSync(BINARY) && loads(BINARY) === '') return { ok: true, how: 'present', message: '' };
    if (process.platform === 'win32') {
      return { ok: false, how: 'none', message: 'the libjpeg-turbo addon is not built on Windows; JPEGs are decoded with sharp (slower)' };
    }
    const compiler = [process.env.CC, 'cc', 'gcc', 'clang'].find((c) => c && onPath(c));
    if (!compiler) return { ok: false, how: 'none', message: `no C compiler (apt install gcc); JPEGs are decoded with sharp (slower); then: npm run build:jpeg` };
    const includes = nodeIncludeDirs();
    if (includes.length === 0) return { ok: false, how: 'none', message: "Node's headers (node_api.h) not found; JPEGs are decoded with sharp (slower)" };
    fs.mkdirSync(path.dirname(BINARY), { recursive: true });
    // .node at the end: require() loads other names as JavaScript.
    const tmp = BINARY.replace(/\.node$/, `.${process.pid}.tmp.node`);
    const args = [
      '-O3',
      '-fPIC',
      '-shared',
      '-Wall',
      ...includes.map((d) => `-I${d}`),
      SOURCE,
      '-o',
      tmp,
      ...jpegFlags(),
      // Node-API symbols come from the node binary that loads the addon.
      ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
    ];
    const r = spawnSync(compiler, args, { encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe' });
    if (r.status !== 0) {
      fs.rmSync(tmp, { force: true });
      const output = `${r.stderr ?? ''}${r.stdout ?? ''}`;
      const noHeader = /jpeglib\.h/.test(output);
      const why = noHeader ? `libjpeg's headers are missing (${APT_HINT})` : `the build failed${verbose ? '' : `: ${output.trim().split('\n')[0] ?? ''}`}`;
      return { ok: false, how: 'none', message: `libjpeg-turbo addon not built: ${why}; JPEGs are decoded with sharp (slower)` };
    }
    const loadError = loads(tmp);
    if (loadError) {
      fs.rmSync(tmp, { force: true });
      return { ok: false, how: 'none', message: `libjpeg-turbo addon built but does not load (${loadError}); JPEGs are decoded with sharp (slower)` };
    }
    fs.renameSync(tmp, BINARY);
    return { ok: true, how: 'built', message: `built the libjpeg-turbo addon (${path.relative(process.cwd(), BINARY) || BINARY})` };
  } catch (error) {
    return { ok: false, how: 'none', message: `libjpeg-turbo addon not built (${error instanceof Error ? error.message : String(error)}); JPEGs are decoded with sharp (slower)` };
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = buildJpeg({ force: true, verbose: true });
  process.stderr.write(`vstream: ${result.ok ? result.message : result.message}\n`);
  process.exit(result.ok ? 0 : 1);
}
