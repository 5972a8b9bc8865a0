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
 * Hardening: stack canaries, glibc's checked string and memory functions (they need -O1 or
 * more), and only the Node-API entry points exported. On Linux the linker also makes the GOT
 * read-only after loading and the stack non-executable.
 */
const HARDENING = ['-fstack-protector-strong', '-U_FORTIFY_SOURCE', '-D_FORTIFY_SOURCE=2', '-fvisibility=hidden'];
const LINUX_LINK_HARDENING = ['-Wl,-z,relro', '-Wl,-z,now', '-Wl,-z,noexecstack'];

/**
 * Compiles the addon to `output`; `extraFlags` come after the usual ones (so `-O1`, `-D...`
 * win), for the sanitizer and fault-injection builds of the tests. Throws if no build is
 * possible here; returns the compiler's exit status and output otherwise.
 * @param {string} output
 * @param {{ extraFlags?: string[]; verbose?: boolean }} [options]
 * @returns {{ ok: boolean; output: string }}
 */
export function compileJpeg(output, options = {}) {
  const { extraFlags = [], verbose = false } = options;
  const compiler = [process.env.CC, 'cc', 'gcc', 'clang'].find((c) => c && onPath(c));
  if (!compiler) throw new Error('no C compiler (apt install gcc)');
  const includes = nodeIncludeDirs();
  if (includes.length === 0) throw new Error("Node's headers (node_api.h) not found");
  const args = [
    '-O3',
    '-fPIC',
    '-shared',
    '-Wall',
    ...HARDENING,
    ...extraFlags,
    ...includes.map((d) => `-I${d}`),
    SOURCE,
    '-o',
    output,
    ...jpegFlags(),
    ...(process.platform === 'linux' ? LINUX_LINK_HARDENING : []),
    // Node-API symbols come from the node binary that loads the addon.
    ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
  ];
  const r = spawnSync(compiler, args, { encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe' });
  return { ok: r.status === 0, output: `${r.stderr ?? ''}${r.stdout ?? ''}` };
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
    fs.mkdirSync(path.dirname(BINARY), { recursive: true });
    // .node at the end: require() loads other names as JavaScript.
    const tmp = BINARY.replace(/\.node$/, `.${process.pid}.tmp.node`);
    let compiled;
    try {
      compiled = compileJpeg(tmp, { verbose });
    } catch (error) {
      const why = /** @type {Error} */ (error).message;
      return { ok: false, how: 'none', message: `${why}; JPEGs are decoded with sharp (slower); then: npm run build:jpeg` };
    }
    if (!compiled.ok) {
      fs.rmSync(tmp, { force: true });
      const noHeader = /jpeglib\.h/.test(compiled.output);
      const why = noHeader ? `libjpeg's headers are missing (${APT_HINT})` : `the build failed${verbose ? '' : `: ${compiled.output.trim().split('\n')[0] ?? ''}`}`;
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
