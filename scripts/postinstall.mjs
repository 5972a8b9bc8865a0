// vstream's own postinstall: fetches or builds the optional native pieces whose install
// scripts package.json `allowScripts` denies (they download from GitHub, which many machines
// cannot reach, and npm 11 would otherwise stop to ask).
//
// It also builds vstream's own libjpeg-turbo addon (native/jpeg), which has the same fallback
// (sharp) when it cannot be built.
//
// It must never fail the install: every failure becomes one line on stderr and exit 0,
// because vstream works without either piece (ffmpeg has fallbacks; windows have headless
// alternatives).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const note = (/** @type {string} */ msg) => process.stderr.write(`vstream: ${msg}\n`);

// Whatever escapes the try blocks below (a bug, a child's stream error) still exits 0.
process.on('uncaughtException', (error) => {
  note(`postinstall skipped a step: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(0);
});
process.on('unhandledRejection', (error) => {
  note(`postinstall skipped a step: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(0);
});

const require = createRequire(import.meta.url);
const FFMPEG_FALLBACK = 'vstream will use ffmpeg on PATH or the bundled @ffmpeg-installer/ffmpeg';
// The ffmpeg-static download is about 30 MB: enough time for an online machine, and a
// blocked one fails at DNS in well under a second.
const FFMPEG_DOWNLOAD_TIMEOUT_MS = Number(process.env.VSTREAM_DOWNLOAD_TIMEOUT_MS) || 60_000;

/** @param {string} file */
function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** @param {typeof import('./build-sdl.mjs')} lib */
async function ensureFfmpegStatic(lib) {
  let dir;
  try {
    dir = path.dirname(require.resolve('ffmpeg-static/package.json'));
  } catch {
    note(`ffmpeg-static is not installed; ${FFMPEG_FALLBACK}`);
    return;
  }
  const binary = path.join(dir, process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  if (isExecutableFile(binary)) return;

  // CI=1 silences its progress bar, which would otherwise interleave with npm's output.
  const r = await lib.run(process.execPath, [path.join(dir, 'install.js')], {
    cwd: dir,
    env: { ...process.env, CI: '1' },
    timeoutMs: FFMPEG_DOWNLOAD_TIMEOUT_MS,
  });
  // The script writes straight to the final path, so a killed or failed download can leave a
  // truncated file that would later be picked before a working ffmpeg: only a binary that
  // answers -version is kept.
  if (isExecutableFile(binary)) {
    const v = await lib.run(binary, ['-version'], { timeoutMs: 15_000 });
    if (v.ok) return;
  }
  fs.rmSync(binary, { force: true });
  const why = r.timedOut ? `timed out after ${FFMPEG_DOWNLOAD_TIMEOUT_MS / 1000} s` : 'failed';
  note(`ffmpeg-static download ${why}; ${FFMPEG_FALLBACK}`);
}

async function main() {
  /** @type {typeof import('./build-sdl.mjs')} */
  const lib = await import('./build-sdl.mjs');
  try {
    await ensureFfmpegStatic(lib);
  } catch (error) {
    note(`ffmpeg-static check skipped (${error instanceof Error ? error.message : String(error)}); ${FFMPEG_FALLBACK}`);
  }
  const sdl = await lib.buildSdl({ onStart: note });
  // A binding that already loads is the normal case on reinstall: nothing worth saying.
  if (sdl.how !== 'present') note(sdl.message);
  const { buildJpeg } = await import('./build-jpeg.mjs');
  const jpeg = buildJpeg();
  if (jpeg.how !== 'present') note(jpeg.message);
}

try {
  await main();
} catch (error) {
  note(`postinstall skipped a step: ${error instanceof Error ? error.message : String(error)}`);
}
process.exitCode = 0;
