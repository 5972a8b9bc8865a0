import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExitCode, VstreamError } from '../errors.js';
import { ffmpegVersion, locateFfmpeg, type FfmpegLocation } from '../source/ffmpeg/locate.js';
import { loadTurbo, TURBO_ADDON_PATH, turboUnavailableReason } from '../native/jpeg-addon.js';
import { describeFormat } from '../source/camera/formats.js';
import { cameraLister, type CameraLister } from '../source/camera/lister.js';
import { runBriefly } from '../source/ffmpeg/run-briefly.js';

export interface DoctorOptions {
  /** `--ffmpeg PATH`, checked exactly as `send` would use it. */
  ffmpeg?: string;
  /** Where the report goes; stdout by default. */
  out?: NodeJS.WritableStream;
  /** The environment to judge (DISPLAY, PATH, VSTREAM_FFMPEG); process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** The cameras in sight (this machine's by default), or why they cannot be listed. */
  cameras?: () => Promise<DoctorCamera[] | string>;
  /** How a camera's formats are found out (by default as `send --camera` does). */
  cameraFormats?: CameraLister;
}

/** A camera as the report names it, and as ffmpeg (and the lister) take it. */
export interface DoctorCamera {
  label: string;
  device: string;
}

const require = createRequire(import.meta.url);
const HEADLESS = 'headless: --no-window with --output, --save-dir or --json';
const CHILD_TIMEOUT_MS = 20_000;
/** What is kept of a child's output: its few lines, with room. */
const MAX_CHILD_CHARS = 256 * 1024;

/** The pinned @kmamal/sdl, for the reinstall hint; src/cli and dist/cli both sit two levels down. */
function pinnedSdlSpec(): string {
  try {
    const pkg = require('../../package.json') as { optionalDependencies?: Record<string, string> };
    const range = pkg.optionalDependencies?.['@kmamal/sdl'];
    return range ? `@kmamal/sdl@${range}` : '@kmamal/sdl';
  } catch {
    return '@kmamal/sdl';
  }
}

/**
 * Prints what vstream will use on this machine: the ffmpeg (path, version, why), the JPEG codec, whether SDL
 * windows work (and what is missing if not), and the cameras in sight.
 *
 * Returns ExitCode.FFMPEG when no working ffmpeg is found, since then nothing can be sent;
 * missing windows or cameras are reported but are not failures, as headless receiving and
 * non-camera sources still work.
 */
export async function runDoctor(opts: DoctorOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const env = opts.env ?? process.env;
  const say = (label: string, text: string) => out.write(`${`${label}:`.padEnd(9)}${text}\n`);

  let exitCode: number = ExitCode.OK;
  let ffmpeg: FfmpegLocation | undefined;
  try {
    ffmpeg = locateFfmpeg(opts.ffmpeg, env);
    const version = await ffmpegVersion(ffmpeg.path);
    say('ffmpeg', `${ffmpeg.path} (${ffmpeg.reason}): ${version.replace(/\s+Copyright.*$/, '')}`);
  } catch (error) {
    exitCode = ExitCode.FFMPEG;
    const message = error instanceof Error ? error.message : String(error);
    // ffmpegVersion's message already names the path.
    say('ffmpeg', ffmpeg ? `${message} (${ffmpeg.reason})` : message);
    if (!(error instanceof VstreamError)) exitCode = ExitCode.INTERNAL;
  }

  say('jpeg', jpegCodec());
  say('windows', await checkWindows(env));
  const cameras = await (opts.cameras ?? (() => findCameras(ffmpeg?.path, env)))();
  const lister = opts.cameraFormats ?? (ffmpeg ? cameraLister({ ffmpegPath: ffmpeg.path }) : undefined);
  const [first, ...more] = await cameraLines(cameras, lister);
  say('cameras', first!);
  for (const line of more) out.write(`${' '.repeat(9)}${line}\n`);
  return exitCode;
}

/** Which JPEG codec decodes (and encodes raw frames): the libjpeg-turbo addon, or sharp. */
function jpegCodec(): string {
  const turbo = loadTurbo();
  if (turbo) return `libjpeg-turbo addon (libjpeg API ${turbo.jpegLibVersion}, ${TURBO_ADDON_PATH})`;
  return `sharp, slower: the libjpeg-turbo addon is ${turboUnavailableReason()}; fix: apt install libjpeg-dev && npm run build:jpeg`;
}

interface SdlProbe {
  version: string;
  driver: string | null;
  /** 'ok', or why a hidden window could not be created; absent when not attempted. */
  window?: string;
}

/** One line: "yes (...)" or "no: what is missing; fix: what to do". */
async function checkWindows(env: NodeJS.ProcessEnv): Promise<string> {
  const linuxLike = process.platform !== 'darwin' && process.platform !== 'win32';
  const buildFix = linuxLike ? 'apt install libsdl2-dev && npm run build:sdl' : 'npm run build:sdl';

  let entry: string;
  try {
    entry = require.resolve('@kmamal/sdl');
  } catch {
    return `no: @kmamal/sdl is not installed (npm dropped the optional dependency); fix: npm install --no-save --ignore-scripts ${pinnedSdlSpec()} && ${buildFix}; ${HEADLESS}`;
  }
  const pkgDir = sdlPackageDir(entry);
  if (pkgDir && !fs.existsSync(path.join(pkgDir, 'dist', 'sdl.node'))) {
    return `no: the SDL binding was never built (${path.join(pkgDir, 'dist', 'sdl.node')} is missing); fix: ${buildFix}; ${HEADLESS}`;
  }

  // Without a display on Linux SDL falls back to its offscreen driver, where window creation
  // fails in confusing ways; there is nothing to try, only the binding to check.
  const display = linuxLike ? displayName(env) : 'desktop';
  const probe = await probeSdl(entry, env, display !== null);
  if ('error' in probe) {
    return `no: the SDL binding does not load (${probe.error}); fix: ${buildFix}; ${HEADLESS}`;
  }
  const sdl = `SDL ${probe.version}`;
  if (display === null) {
    return `no: ${sdl} loads but there is no display (DISPLAY and WAYLAND_DISPLAY are unset); fix: run in a desktop session, ssh -X, or xvfb-run -a; ${HEADLESS}`;
  }
  if (linuxLike && (probe.driver === null || probe.driver === 'offscreen' || probe.driver === 'dummy')) {
    return `no: ${sdl} cannot open display ${display} (video driver ${probe.driver ?? 'none'}); fix: check that the X or Wayland server is running and that you may connect to it (xauth); ${HEADLESS}`;
  }
  if (probe.window !== 'ok') {
    return `no: ${sdl} (${probe.driver ?? 'no'} driver) could not create a window: ${probe.window ?? 'not attempted'}; ${HEADLESS}`;
  }
  return `yes (${sdl}, ${probe.driver} driver${linuxLike ? `, ${display}` : ''})`;
}

function displayName(env: NodeJS.ProcessEnv): string | null {
  if (env.WAYLAND_DISPLAY) return `WAYLAND_DISPLAY=${env.WAYLAND_DISPLAY}`;
  if (env.DISPLAY) return `DISPLAY=${env.DISPLAY}`;
  return null;
}

function sdlPackageDir(entry: string): string | null {
  // Its `exports` hide package.json from require.resolve, so walk up from the entry point.
  for (let dir = path.dirname(entry); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === '@kmamal/sdl') return dir;
    } catch {
      // not this level
    }
  }
  return null;
}

/**
 * Loads the binding, and optionally opens and closes a hidden window, in a child process: a
 * native crash or a hung X connection then costs a line of the report, not the doctor.
 */
async function probeSdl(entry: string, env: NodeJS.ProcessEnv, tryWindow: boolean): Promise<SdlProbe | { error: string }> {
  const code = `
    const sdl = (await import(${JSON.stringify(pathToFileURL(entry).href)})).default;
    const v = sdl.info.version.runtime;
    const result = { version: v.major + '.' + v.minor + '.' + v.patch, driver: sdl.info.drivers.video.current };
    if (process.env.VSTREAM_DOCTOR_WINDOW === '1') {
      try {
        const w = sdl.video.createWindow({ hidden: true, width: 64, height: 48, title: 'vstream doctor' });
        w.destroy();
        result.window = 'ok';
      } catch (e) {
        result.window = String(e && e.message || e);
      }
    }
    process.stdout.write('VSTREAM_SDL ' + JSON.stringify(result) + '\\n', () => process.exit(0));
  `;
  const childEnv = { ...env, VSTREAM_DOCTOR_WINDOW: tryWindow ? '1' : '0' };
  const r = (await runBriefly(process.execPath, ['--input-type=module', '-e', code], { env: childEnv, timeoutMs: CHILD_TIMEOUT_MS, maxChars: MAX_CHILD_CHARS })) ?? {
    stdout: '',
    stderr: '',
    ended: 'node could not be started',
  };
  const line = /^VSTREAM_SDL (.*)$/m.exec(r.stdout)?.[1];
  if (line !== undefined) {
    try {
      return JSON.parse(line) as SdlProbe;
    } catch {
      // fall through to the error report
    }
  }
  const errLine =
    r.stderr
      .split('\n')
      .map((l) => l.trim())
      .find((l) => /error/i.test(l) && !/silent error|XDG_RUNTIME_DIR/.test(l)) ?? r.ended;
  return { error: errLine };
}

/**
 * The cameras' line (their names, or none), then one line per format of each: its sizes and,
 * where the listing says, rates. A camera that lists nothing is said to.
 */
export async function cameraLines(cameras: DoctorCamera[] | string, lister: CameraLister | undefined): Promise<string[]> {
  if (typeof cameras === 'string') return [cameras];
  if (cameras.length === 0) return ['none found'];
  const lines = [cameras.map(({ label }) => label).join(', ')];
  // One at a time: two listings of one USB hub at once can starve each other.
  for (const { device } of cameras) {
    const formats = lister ? await lister(device) : undefined;
    if (!lister) lines.push(`${device}: formats unknown (listing them needs ffmpeg)`);
    else if (!formats) lines.push(`${device}: lists no capture formats (not a camera, or a metadata node of one)`);
    else for (const format of formats) lines.push(`${device}: ${describeFormat(format)}`);
  }
  return lines;
}

async function findCameras(ffmpeg: string | undefined, env: NodeJS.ProcessEnv): Promise<DoctorCamera[] | string> {
  if (process.platform === 'linux') return v4l2Cameras();
  if (process.platform !== 'darwin' && process.platform !== 'win32') return `unknown (no camera listing for ${process.platform})`;
  if (!ffmpeg) return 'unknown (listing them needs ffmpeg)';
  const args =
    process.platform === 'darwin'
      ? ['-hide_banner', '-f', 'avfoundation', '-list_devices', 'true', '-i', '']
      : ['-hide_banner', '-list_devices', 'true', '-f', 'dshow', '-i', 'dummy'];
  // ffmpeg lists the devices on stderr, then exits non-zero because there is no real input.
  const stderr = (await runBriefly(ffmpeg, args, { env, timeoutMs: CHILD_TIMEOUT_MS, maxChars: MAX_CHILD_CHARS }))?.stderr ?? '';
  if (process.platform === 'win32') return parseDshowDevices(stderr).map((device) => ({ label: device, device }));
  // `[0] FaceTime HD Camera`: avfoundation takes the index; screens are --screen's.
  return parseAvfoundationDevices(stderr)
    .filter((label) => !/\] Capture screen \d+$/.test(label))
    .map((label) => ({ label, device: /^\[(\d+)\]/.exec(label)?.[1] ?? label }));
}

function v4l2Cameras(devDir = '/dev', sysDir = '/sys/class/video4linux'): DoctorCamera[] {
  return listV4l2Devices(devDir, sysDir).map((label) => ({ label, device: label.split(' ')[0]! }));
}

/** `/dev/videoN (name)` for each V4L2 node, in numeric order. */
export function listV4l2Devices(devDir = '/dev', sysDir = '/sys/class/video4linux'): string[] {
  let nodes: string[];
  try {
    nodes = fs.readdirSync(devDir).filter((n) => /^video\d+$/.test(n));
  } catch {
    return [];
  }
  nodes.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return nodes.map((node) => {
    let name = '';
    try {
      name = fs.readFileSync(path.join(sysDir, node, 'name'), 'utf8').trim();
    } catch {
      // a node without sysfs info is still worth listing
    }
    const dev = path.join(devDir, node);
    return name ? `${dev} (${name})` : dev;
  });
}

/** Video devices from `ffmpeg -f avfoundation -list_devices true -i ""`, as `[N] name`. */
export function parseAvfoundationDevices(stderr: string): string[] {
  const devices: string[] = [];
  let inVideo = false;
  for (const raw of stderr.split(/\r?\n/)) {
    const line = raw.replace(/^\[[^\]]*@[^\]]*\]\s*/, '');
    if (/AVFoundation video devices/i.test(line)) inVideo = true;
    else if (/AVFoundation audio devices/i.test(line)) inVideo = false;
    else if (inVideo && /^\[\d+\]\s+\S/.test(line)) devices.push(line.trim());
  }
  return devices;
}

/**
 * Video devices from `ffmpeg -list_devices true -f dshow -i dummy`, as the `video=NAME`
 * argument ffmpeg takes. Handles both layouts: ffmpeg >= 4.4 tags each device `(video)`,
 * older builds print a "DirectShow video devices" heading instead.
 */
export function parseDshowDevices(stderr: string): string[] {
  const devices: string[] = [];
  let section: 'video' | 'audio' | null = null;
  for (const raw of stderr.split(/\r?\n/)) {
    const line = raw.replace(/^\[[^\]]*@[^\]]*\]\s*/, '').trim();
    if (/DirectShow video devices/i.test(line)) section = 'video';
    else if (/DirectShow audio devices/i.test(line)) section = 'audio';
    const m = /^"(.+)"(?:\s+\(([^)]*)\))?$/.exec(line);
    if (!m?.[1]) continue;
    const kinds = m[2]?.split(',').map((k) => k.trim());
    if (kinds ? kinds.includes('video') : section === 'video') devices.push(`video=${m[1]}`);
  }
  return devices;
}
