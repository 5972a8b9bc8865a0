import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FfmpegError } from '../../errors.js';

export interface FfmpegLocation {
  /** Absolute path of the ffmpeg executable to spawn. */
  path: string;
  /** Why this one was picked, for `vstream doctor` and debug logs. */
  reason: string;
}

/**
 * Where the packaged binaries are, for tests that need a machine-independent answer. Left
 * undefined, each is looked up in node_modules; `null` means "not installed".
 */
export interface LocateOptions {
  ffmpegStatic?: string | null;
  ffmpegInstaller?: { path: string; version: string } | null;
  /** Defaults to `process.platform`; decides PATHEXT handling and executable names. */
  platform?: NodeJS.Platform;
}

const require = createRequire(import.meta.url);

const NOT_FOUND_HINT =
  'no ffmpeg found: install one (apt install ffmpeg, brew install ffmpeg, winget install ffmpeg) or pass --ffmpeg PATH';

/**
 * Picks the ffmpeg to spawn, first match wins:
 * `--ffmpeg PATH`, `VSTREAM_FFMPEG`, the ffmpeg-static binary (present only where its GitHub
 * download worked), the first `ffmpeg` on PATH, the binary inside `@ffmpeg-installer/ffmpeg`
 * (always installable from the npm registry, but an old 4.1 build, so it comes last).
 *
 * A path the user named that does not work is an error rather than a reason to fall through:
 * silently using another ffmpeg would hide their mistake.
 */
export function locateFfmpeg(
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LocateOptions = {},
): FfmpegLocation {
  const platform = options.platform ?? process.platform;

  if (explicit !== undefined && explicit !== '') {
    return { path: userGiven(explicit, '--ffmpeg', env, platform), reason: 'from --ffmpeg' };
  }
  const fromEnv = env.VSTREAM_FFMPEG;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { path: userGiven(fromEnv, 'VSTREAM_FFMPEG', env, platform), reason: 'from VSTREAM_FFMPEG' };
  }

  const staticBinary = options.ffmpegStatic === undefined ? ffmpegStaticBinary(platform) : options.ffmpegStatic;
  if (staticBinary !== null && isExecutableFile(staticBinary, platform)) {
    return { path: staticBinary, reason: 'ffmpeg-static binary' };
  }

  const onPath = searchPath('ffmpeg', env, platform);
  if (onPath !== null) return { path: onPath, reason: 'first ffmpeg on PATH' };

  const installer = options.ffmpegInstaller === undefined ? ffmpegInstallerBinary() : options.ffmpegInstaller;
  if (installer !== null && isExecutableFile(installer.path, platform)) {
    return { path: installer.path, reason: `bundled @ffmpeg-installer/ffmpeg ${installer.version}` };
  }

  throw new FfmpegError(NOT_FOUND_HINT, 'ERR_FFMPEG_NOT_FOUND');
}

/**
 * The first line of `ffmpeg -version`, e.g. `ffmpeg version 5.1.6-0+deb12u1 Copyright ...`.
 * Fails with `ERR_FFMPEG_BROKEN` when the file does not run as ffmpeg (wrong architecture,
 * truncated download, missing shared libraries).
 */
export function ffmpegVersion(ffmpegPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ffmpegPath, ['-hide_banner', '-version'], { timeout: 15_000, windowsHide: true }, (error, stdout, stderr) => {
      const first = stdout.split(/\r?\n/, 1)[0]?.trim() ?? '';
      if (error || !first.startsWith('ffmpeg version')) {
        const tail = stderr.trim().split(/\r?\n/).slice(-5).join('\n');
        const why = error ? error.message.split('\n', 1)[0] : 'unexpected -version output';
        reject(new FfmpegError(`${ffmpegPath} does not run as ffmpeg: ${why}`, 'ERR_FFMPEG_BROKEN', tail, { cause: error }));
        return;
      }
      resolve(first);
    });
  });
}

/** A path from the user: a bare name is looked up on PATH, like a shell would. */
function userGiven(given: string, source: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  const hasSeparator = given.includes('/') || (platform === 'win32' && given.includes('\\'));
  if (!hasSeparator) {
    const found = searchPath(given, env, platform);
    if (found !== null) return found;
    throw new FfmpegError(`ffmpeg not found: ${source} names "${given}", which is not on PATH`, 'ERR_FFMPEG_NOT_FOUND');
  }
  const resolved = path.resolve(given);
  if (!fs.existsSync(resolved)) {
    throw new FfmpegError(`ffmpeg not found: ${source} names ${resolved}, which does not exist`, 'ERR_FFMPEG_NOT_FOUND');
  }
  if (!isExecutableFile(resolved, platform)) {
    throw new FfmpegError(
      `ffmpeg not usable: ${source} names ${resolved}, which is not an executable file`,
      'ERR_FFMPEG_NOT_FOUND',
    );
  }
  return resolved;
}

function isExecutableFile(file: string, platform: NodeJS.Platform): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    // Windows has no execute bit: X_OK there only checks existence, so this is the same test.
    fs.accessSync(file, platform === 'win32' ? fs.constants.F_OK : fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A copied env object loses Windows' case-insensitivity: `Path` is the usual spelling there. */
function envValue(env: NodeJS.ProcessEnv, name: string, platform: NodeJS.Platform): string | undefined {
  if (platform !== 'win32') return env[name];
  const key = Object.keys(env).find((k) => k.toUpperCase() === name);
  return key === undefined ? undefined : env[key];
}

function searchPath(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | null {
  const delimiter = platform === 'win32' ? ';' : ':';
  const dirs = (envValue(env, 'PATH', platform) ?? '').split(delimiter);
  let exts = [''];
  if (platform === 'win32') {
    const pathext = (envValue(env, 'PATHEXT', platform) ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean);
    // A name that already carries one of the extensions is tried as is first.
    exts = pathext.some((e) => name.toUpperCase().endsWith(e.toUpperCase())) ? ['', ...pathext] : pathext;
  }
  for (let dir of dirs) {
    // Windows PATH entries may be quoted; empty POSIX entries mean the current directory,
    // which is skipped on purpose so that a stray ./ffmpeg is never run.
    dir = dir.replace(/^"(.*)"$/, '$1');
    if (dir === '') continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutableFile(candidate, platform)) return candidate;
    }
  }
  return null;
}

/**
 * Computed rather than taken from `require('ffmpeg-static')`: that module reads FFMPEG_BIN
 * from process.env once at load time, which would ignore the `env` passed to locateFfmpeg.
 */
function ffmpegStaticBinary(platform: NodeJS.Platform): string | null {
  try {
    const dir = path.dirname(require.resolve('ffmpeg-static/package.json'));
    return path.join(dir, platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  } catch {
    return null;
  }
}

function ffmpegInstallerBinary(): { path: string; version: string } | null {
  try {
    // It throws (a string, not an Error) on platforms without a per-platform package.
    const mod = require('@ffmpeg-installer/ffmpeg') as { path: string; version: string };
    // Its `version` is a build date; the per-platform package's own version says "4.1.0".
    let version = mod.version;
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(mod.path), 'package.json'), 'utf8')) as {
        version?: string;
      };
      version = pkg.version ?? version;
    } catch {
      // keep the build date
    }
    return { path: mod.path, version };
  } catch {
    return null;
  }
}
