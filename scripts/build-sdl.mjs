#!/usr/bin/env node
// Gets a working native binding for @kmamal/sdl: its prebuilt download where GitHub is
// reachable, otherwise a build against the system SDL2 found through pkg-config.
//
// Used two ways:
//   - imported by scripts/postinstall.mjs: buildSdl() never throws, reports one line;
//   - run as `npm run build:sdl`: forces a rebuild, shows the compiler output, exits 1 on failure.
//
// Plain Node ESM with builtins only: it runs during `npm ci`, before anything is compiled.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** @kmamal/sdl@0.11.2 compiles against SDL 2.26 (Debian 12); newer releases need SDL 2.30+. */
const APT_HINT = 'apt install libsdl2-dev && npm run build:sdl';
const HEADLESS_HINT = 'headless options (--no-window with --output, --save-dir or --json) work without it';

/** The pinned version, for the reinstall hint: read, not repeated, so a bump updates it. */
function pinnedSdlSpec() {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const range = pkg.optionalDependencies?.['@kmamal/sdl'] ?? pkg.dependencies?.['@kmamal/sdl'];
    return range ? `@kmamal/sdl@${range}` : '@kmamal/sdl';
  } catch {
    return '@kmamal/sdl';
  }
}

const DEFAULT_DOWNLOAD_TIMEOUT_MS = 30_000;
// Two cores take about a minute; a loaded machine may need several.
const BUILD_TIMEOUT_MS = 15 * 60_000;
const LOAD_TIMEOUT_MS = 30_000;

/**
 * The folder of the installed @kmamal/sdl package, or null when npm skipped it (it is an
 * optional dependency). Found through module resolution so that it also works when vstream
 * itself is a dependency and @kmamal/sdl was hoisted above it.
 * @returns {string | null}
 */
export function findSdlPackage() {
  let main;
  try {
    // Its `exports` map hides package.json, so resolve the entry point and walk up.
    main = require.resolve('@kmamal/sdl');
  } catch {
    return null;
  }
  for (let dir = path.dirname(main); ; dir = path.dirname(dir)) {
    const pkgFile = path.join(dir, 'package.json');
    try {
      if (JSON.parse(fs.readFileSync(pkgFile, 'utf8')).name === '@kmamal/sdl') return dir;
    } catch {
      // not this level
    }
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * Runs a command without a shell, capturing its output, killed after `timeoutMs`.
 * @param {string} file
 * @param {string[]} args
 * @param {{ cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; inherit?: boolean; logFile?: string }} opts
 * @returns {Promise<{ ok: boolean; code: number | null; signal: string | null; timedOut: boolean; output: string; error?: Error }>}
 */
export function run(file, args, opts) {
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    const log = opts.logFile ? fs.createWriteStream(opts.logFile) : null;
    let child;
    try {
      child = spawn(file, args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        // The build's own progress goes to stderr so that npm's stdout stays clean.
        stdio: opts.inherit ? ['ignore', process.stderr, process.stderr] : ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      log?.end();
      resolve({ ok: false, code: null, signal: null, timedOut, output, error: /** @type {Error} */ (error) });
      return;
    }
    const collect = (/** @type {Buffer} */ chunk) => {
      log?.write(chunk);
      // Only the tail matters for a one-line diagnosis.
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      // A child that ignores SIGTERM must not hold the install forever.
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, opts.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      log?.end();
      resolve({ ok: false, code: null, signal: null, timedOut, output, error });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      log?.end();
      resolve({ ok: code === 0 && !timedOut, code, signal, timedOut, output });
    });
  });
}

/** @param {string} name @returns {string | null} */
function onPath(name) {
  const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE').split(';') : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch {
        // keep looking
      }
    }
  }
  return null;
}

/** @param {string[]} args @returns {string | null} */
function pkgConfig(args) {
  try {
    const r = spawnSync('pkg-config', args, { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}

/**
 * The system SDL2 as pkg-config describes it, narrowed to the two folders the @kmamal/sdl
 * build wants: the one holding SDL.h and the one holding the shared libraries.
 * @returns {{ version: string; includeDir: string; libDir: string; libs: string[] } | { missing: string }}
 */
export function findSystemSdl2() {
  if (pkgConfig(['--version']) === null) return { missing: 'pkg-config is not installed' };
  if (pkgConfig(['--exists', 'sdl2']) === null) return { missing: 'pkg-config finds no sdl2 (libsdl2-dev)' };
  const version = pkgConfig(['--modversion', 'sdl2']) ?? 'unknown';

  const flagDirs = (/** @type {string | null} */ out, /** @type {string} */ flag) =>
    (out ?? '').split(/\s+/).filter((t) => t.startsWith(flag)).map((t) => t.slice(flag.length));
  const includedir = pkgConfig(['--variable=includedir', 'sdl2']);
  const includeCandidates = [
    ...flagDirs(pkgConfig(['--cflags-only-I', 'sdl2']), '-I'),
    ...(includedir ? [path.join(includedir, 'SDL2'), includedir] : []),
  ];
  const includeDir = includeCandidates.find((d) => fs.existsSync(path.join(d, 'SDL.h')));
  if (!includeDir) return { missing: `SDL.h not found in ${includeCandidates.join(', ') || 'pkg-config include dirs'}` };

  const libdir = pkgConfig(['--variable=libdir', 'sdl2']);
  const libCandidates = [...flagDirs(pkgConfig(['--libs-only-L', 'sdl2']), '-L'), ...(libdir ? [libdir] : [])];
  // Only SDL2 itself: libSDL2.so, libSDL2-2.0.so.0, libSDL2-2.0.so.0.2600.5 (or .dylib), not
  // libSDL2_image and friends, which would be copied into the package's dist for nothing.
  const isSdlLib = (/** @type {string} */ f) =>
    /^libSDL2(?:-\d+\.\d+)?\.so(?:\.\d+)*$/.test(f) || /^libSDL2(?:-\d+\.\d+)?(?:\.\d+)*\.dylib$/.test(f);
  for (const dir of libCandidates) {
    let libs;
    try {
      libs = fs.readdirSync(dir).filter(isSdlLib);
    } catch {
      continue;
    }
    // The unversioned name is what `-lSDL2` links against; it only ships with the -dev package.
    if (libs.includes('libSDL2.so') || libs.includes('libSDL2.dylib')) {
      return { version, includeDir, libDir: dir, libs: libs.map((f) => path.join(dir, f)) };
    }
  }
  return { missing: `libSDL2.so not found in ${libCandidates.join(', ') || 'pkg-config lib dirs'}` };
}

/**
 * Loads the binding in a child process, as vstream will. Without a display SDL picks its
 * offscreen driver and still loads (measured with 0.11.2), so DISPLAY is removed to make the
 * check the same everywhere and to keep it from touching a remote X server.
 * @param {string} pkgDir
 * @returns {Promise<{ ok: true; sdlVersion: string } | { ok: false; reason: string }>}
 */
export async function checkSdlLoads(pkgDir) {
  const entry = pathToFileURL(path.join(pkgDir, 'src', 'javascript', 'index.js')).href;
  const code = `import(${JSON.stringify(entry)}).then((m) => {
    const v = m.default.info.version.runtime;
    process.stdout.write('SDL_OK ' + v.major + '.' + v.minor + '.' + v.patch + '\\n');
  });`;
  const env = { ...process.env };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  const r = await run(process.execPath, ['--input-type=module', '-e', code], { env, timeoutMs: LOAD_TIMEOUT_MS });
  const m = /SDL_OK (\S+)/.exec(r.output);
  if (r.ok && m?.[1]) return { ok: true, sdlVersion: m[1] };
  const why = r.timedOut
    ? `loading timed out after ${LOAD_TIMEOUT_MS / 1000} s`
    : (firstErrorLine(r.output) ?? r.error?.message ?? `exit ${r.code ?? r.signal}`);
  return { ok: false, reason: why };
}

/** @param {string} text @returns {string | undefined} */
function firstErrorLine(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /error/i.test(l) && !/silent error/i.test(l)) ?? lines.at(-1);
}

/** @param {string} pkgDir */
async function downloadPrebuilt(pkgDir, timeoutMs) {
  const script = path.join(pkgDir, 'scripts', 'download-release.mjs');
  if (!fs.existsSync(script)) return { ok: false, reason: 'no download script in @kmamal/sdl' };
  const r = await run(process.execPath, [script], { cwd: path.dirname(script), timeoutMs });
  if (!r.ok) {
    return { ok: false, reason: r.timedOut ? `download timed out after ${timeoutMs / 1000} s` : (firstErrorLine(r.output) ?? 'download failed') };
  }
  return { ok: true, reason: '' };
}

/** @param {string} pkgDir */
function nodeModulesBins(pkgDir) {
  const bins = [];
  for (let dir = pkgDir; ; dir = path.dirname(dir)) {
    const bin = path.join(dir, 'node_modules', '.bin');
    if (fs.existsSync(bin)) bins.push(bin);
    if (path.dirname(dir) === dir) return bins;
  }
}

/**
 * Links the system SDL2 into the package's `sdl/` folder, where its build script looks, and
 * runs that script. The links (not copies) keep the binding on the system library, so
 * security updates of libsdl2 apply without a rebuild.
 * @param {string} pkgDir
 * @param {{ includeDir: string; libs: string[] }} sdl
 * @param {{ verbose: boolean; logFile: string }} opts
 */
async function buildAgainstSystem(pkgDir, sdl, opts) {
  const missingTools = ['make', 'python3'].filter((t) => !onPath(t));
  if (!onPath('g++') && !onPath('c++')) missingTools.push('g++');
  if (missingTools.length > 0) {
    return { ok: false, reason: `missing build tools: ${missingTools.join(', ')} (apt install g++ make python3)` };
  }
  const sdlDir = path.join(pkgDir, 'sdl');
  fs.rmSync(sdlDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(sdlDir, 'lib'), { recursive: true });
  fs.symlinkSync(sdl.includeDir, path.join(sdlDir, 'include'), 'dir');
  for (const lib of sdl.libs) fs.symlinkSync(lib, path.join(sdlDir, 'lib', path.basename(lib)));

  // build.mjs runs `npx -y node-gyp`; with our .bin folders first that is the node-gyp
  // @kmamal/sdl depends on, already installed, rather than a fresh download.
  const env = { ...process.env, PATH: [...nodeModulesBins(pkgDir), process.env.PATH ?? ''].join(path.delimiter) };
  const r = await run(process.execPath, [path.join(pkgDir, 'scripts', 'build.mjs')], {
    cwd: path.join(pkgDir, 'scripts'),
    env,
    timeoutMs: BUILD_TIMEOUT_MS,
    inherit: opts.verbose,
    logFile: opts.verbose ? undefined : opts.logFile,
  });
  if (!r.ok) {
    const why = r.timedOut ? `build timed out after ${BUILD_TIMEOUT_MS / 60_000} min` : `build failed (exit ${r.code ?? r.signal})`;
    return { ok: false, reason: opts.verbose ? why : `${why}, log: ${opts.logFile}` };
  }
  return { ok: true, reason: '' };
}

/**
 * Makes `@kmamal/sdl` loadable if it can. Never throws.
 *
 * Without `force`: keeps a binding that already loads; else tries the prebuilt download,
 * then the system SDL2. With `force` (the explicit `npm run build:sdl`): rebuilds against the
 * system SDL2 when there is one, which is what that documented command promises, and only
 * falls back to the download when there is none.
 *
 * @param {{ force?: boolean; verbose?: boolean; downloadTimeoutMs?: number; onStart?: (msg: string) => void }} [options]
 * @returns {Promise<{ ok: boolean; how: 'present' | 'downloaded' | 'built' | 'none'; message: string }>}
 */
export async function buildSdl(options = {}) {
  const { force = false, verbose = false, onStart = () => {} } = options;
  const downloadTimeoutMs =
    options.downloadTimeoutMs ?? (Number(process.env.VSTREAM_DOWNLOAD_TIMEOUT_MS) || DEFAULT_DOWNLOAD_TIMEOUT_MS);
  try {
    const pkgDir = findSdlPackage();
    if (!pkgDir) {
      return {
        ok: false,
        how: 'none',
        // npm < 11 ignores allowScripts, runs the package's GitHub download, and drops it.
        message: `no SDL windows: @kmamal/sdl is not installed (npm dropped the optional dependency); to get windows: npm install --no-save --ignore-scripts ${pinnedSdlSpec()} && npm run build:sdl; ${HEADLESS_HINT}`,
      };
    }
    const binary = path.join(pkgDir, 'dist', 'sdl.node');

    let brokenReason = '';
    if (!force && fs.existsSync(binary)) {
      const loads = await checkSdlLoads(pkgDir);
      if (loads.ok) return { ok: true, how: 'present', message: `SDL windows ready (SDL ${loads.sdlVersion})` };
      brokenReason = loads.reason;
    }

    const system = findSystemSdl2();
    const failures = brokenReason ? [`existing binding does not load: ${brokenReason}`] : [];

    const tryDownload = async () => {
      const d = await downloadPrebuilt(pkgDir, downloadTimeoutMs);
      if (!d.ok) {
        failures.push(`prebuilt download: ${d.reason}`);
        return null;
      }
      const loads = await checkSdlLoads(pkgDir);
      if (loads.ok) return { ok: true, how: /** @type {const} */ ('downloaded'), message: `SDL windows ready (prebuilt binding, SDL ${loads.sdlVersion})` };
      failures.push(`prebuilt binding does not load: ${loads.reason}`);
      return null;
    };

    if (!(force && 'includeDir' in system)) {
      const downloaded = await tryDownload();
      if (downloaded) return downloaded;
    }

    if (!('includeDir' in system)) {
      // One line for the common case (offline, no libsdl2-dev); the details only when asked.
      const why = force
        ? `${failures.join('; ')}; ${system.missing}`
        : `${brokenReason ? 'the existing binding does not load, ' : ''}no prebuilt binding, ${system.missing}`;
      return {
        ok: false,
        how: 'none',
        message: `no SDL windows (${why}); to get windows: ${APT_HINT}; ${HEADLESS_HINT}`,
      };
    }

    const started = Date.now();
    onStart(`building SDL window support against system SDL2 ${system.version} (about a minute)...`);
    const logFile = path.join(pkgDir, 'vstream-build.log');
    const built = await buildAgainstSystem(pkgDir, system, { verbose, logFile });
    if (built.ok) {
      const loads = await checkSdlLoads(pkgDir);
      const secs = Math.round((Date.now() - started) / 1000);
      if (loads.ok) {
        return { ok: true, how: 'built', message: `SDL windows ready (built against system SDL2 ${loads.sdlVersion} in ${secs} s)` };
      }
      failures.push(`built binding does not load: ${loads.reason}`);
    } else {
      failures.push(built.reason);
    }
    return {
      ok: false,
      how: 'none',
      message: `no SDL windows: ${failures.join('; ')}; retry with \`npm run build:sdl\`; ${HEADLESS_HINT}`,
    };
  } catch (error) {
    return {
      ok: false,
      how: 'none',
      message: `no SDL windows: ${error instanceof Error ? error.message : String(error)}; ${HEADLESS_HINT}`,
    };
  }
}

function invokedDirectly() {
  try {
    return fs.realpathSync(process.argv[1] ?? '') === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const result = await buildSdl({
    force: true,
    verbose: true,
    onStart: (msg) => console.error(`vstream: ${msg}`),
  });
  console.error(`vstream: ${result.message}`);
  process.exitCode = result.ok ? 0 : 1;
}
