import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { HAVE_XVFB, startXvfb, type Xvfb } from './helpers/xvfb.js';
import { listV4l2Devices, parseAvfoundationDevices, parseDshowDevices, runDoctor, type DoctorOptions } from '../src/cli/doctor.js';
import { parseDshowOptions } from '../src/source/camera/dshow-listing.js';
import { parseV4l2CtlFormats, parseV4l2ListFormats } from '../src/source/camera/v4l2-listing.js';
import { cameraListing } from './helpers/camera-listings.js';

async function doctor(opts: Omit<DoctorOptions, 'out'>): Promise<{ code: number; lines: string[] }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const code = await runDoctor({ ...opts, out });
  return { code, lines: text.trimEnd().split('\n') };
}

function line(lines: string[], label: string): string {
  const found = lines.filter((l) => l.startsWith(`${label}:`));
  expect(found).toHaveLength(1);
  return found[0]!;
}

const headlessEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  return env;
};

let xvfb: Xvfb | undefined;

afterAll(async () => xvfb?.stop());

describe('runDoctor', () => {
  it('reports the ffmpeg it would use, with version and reason, and windows unavailable without a display', async () => {
    const { code, lines } = await doctor({ env: headlessEnv() });
    expect(code).toBe(0);
    expect(line(lines, 'jpeg')).toMatch(/^jpeg: +libjpeg-turbo addon \(libjpeg API \d+, \S+vstream_jpeg\.node\)$/);
    expect(line(lines, 'ffmpeg')).toMatch(
      /^ffmpeg: +\S+ \((from VSTREAM_FFMPEG|ffmpeg-static binary|first ffmpeg on PATH|bundled @ffmpeg-installer\/ffmpeg [\d.]+)\): ffmpeg version \S+/,
    );
    const windows = line(lines, 'windows');
    expect(windows).toMatch(/^windows: +no: /);
    // Says what is missing and what to do, whichever of the two is missing here.
    expect(windows).toMatch(/DISPLAY and WAYLAND_DISPLAY are unset|never built|not installed|does not load/);
    expect(windows).toMatch(/fix: /);
    expect(windows).toContain('--no-window');
    expect(line(lines, 'cameras')).toMatch(/^cameras: +\S/);
    expect(lines.every((l) => !l.includes('    at '))).toBe(true);
  });

  it('names a missing --ffmpeg and returns the ffmpeg exit code, still checking the rest', async () => {
    const { code, lines } = await doctor({ ffmpeg: '/nonexistent/ffmpeg', env: headlessEnv() });
    expect(code).toBe(5);
    expect(line(lines, 'ffmpeg')).toContain('/nonexistent/ffmpeg');
    expect(line(lines, 'windows')).toMatch(/^windows: +no: /);
  });

  it('reports a display SDL cannot open', async () => {
    // A display number nothing listens on: SDL falls back to its offscreen driver.
    const { lines } = await doctor({ env: { ...headlessEnv(), DISPLAY: ':1999' } });
    expect(line(lines, 'windows')).toMatch(/^windows: +no: .*(DISPLAY=:1999|never built|not installed|does not load)/);
  });

  it.skipIf(!HAVE_XVFB)('reports windows working under Xvfb, having opened a hidden window', async () => {
    xvfb = await startXvfb({ width: 640, height: 480 });
    const display = xvfb.display;
    const { lines } = await doctor({ env: { ...headlessEnv(), DISPLAY: display } });
    expect(line(lines, 'windows')).toMatch(new RegExp(`^windows: +yes \\(SDL [\\d.]+, x11 driver, DISPLAY=${display}\\)$`));
  });
});

describe('camera listings', () => {
  it('lists no V4L2 nodes when the device folder is missing', () => {
    expect(listV4l2Devices('/nonexistent')).toEqual([]);
  });

  it('lists V4L2 nodes in numeric order with their names, ignoring other entries', async () => {
    const root = await mkdtemp(join(tmpdir(), 'vstream-doctor-'));
    try {
      const dev = join(root, 'dev');
      const sys = join(root, 'sys');
      await mkdir(dev);
      // Readdir order is the file system's; "video10" sorts before "video2" as text.
      for (const node of ['video10', 'video2', 'video0', 'videoX', 'vbi0', 'video1']) await writeFile(join(dev, node), '');
      for (const [node, name] of [['video2', 'USB Camera'], ['video10', 'Loopback']]) {
        await mkdir(join(sys, node), { recursive: true });
        await writeFile(join(sys, node, 'name'), `${name}\n`);
      }
      expect(listV4l2Devices(dev, sys)).toEqual([
        join(dev, 'video0'),
        join(dev, 'video1'),
        `${join(dev, 'video2')} (USB Camera)`,
        `${join(dev, 'video10')} (Loopback)`,
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('parses avfoundation video devices only', () => {
    const stderr = [
      '[AVFoundation indev @ 0x7f8b4c704f40] AVFoundation video devices:',
      '[AVFoundation indev @ 0x7f8b4c704f40] [0] FaceTime HD Camera',
      '[AVFoundation indev @ 0x7f8b4c704f40] [1] Capture screen 0',
      '[AVFoundation indev @ 0x7f8b4c704f40] AVFoundation audio devices:',
      '[AVFoundation indev @ 0x7f8b4c704f40] [0] MacBook Pro Microphone',
      ': Input/output error',
    ].join('\n');
    expect(parseAvfoundationDevices(stderr)).toEqual(['[0] FaceTime HD Camera', '[1] Capture screen 0']);
  });

  it('parses dshow video devices in both ffmpeg layouts', () => {
    const tagged = [
      '[dshow @ 000001c9] "Integrated Camera" (video)',
      '[dshow @ 000001c9]   Alternative name "@device_pnp_\\\\?\\usb#vid_04f2"',
      '[dshow @ 000001c9] "OBS Virtual Camera" (none)',
      '[dshow @ 000001c9] "Microphone Array (Realtek)" (audio)',
      'dummy: Immediate exit requested',
    ].join('\r\n');
    expect(parseDshowDevices(tagged)).toEqual(['video=Integrated Camera']);
    const headed = [
      '[dshow @ 0000] DirectShow video devices (some may be both video and audio devices)',
      '[dshow @ 0000]  "USB2.0 HD UVC WebCam"',
      '[dshow @ 0000]     Alternative name "@device_pnp_xyz"',
      '[dshow @ 0000] DirectShow audio devices',
      '[dshow @ 0000]  "Microphone"',
    ].join('\n');
    expect(parseDshowDevices(headed)).toEqual(['video=USB2.0 HD UVC WebCam']);
  });
});

describe("doctor's camera formats", () => {
  /** The `cameras:` line and the indented lines under it. */
  function cameraSection(lines: string[]): string[] {
    const start = lines.findIndex((l) => l.startsWith('cameras:'));
    expect(start).toBeGreaterThan(-1);
    const end = lines.findIndex((l, i) => i > start && !l.startsWith(' '));
    return lines.slice(start, end < 0 ? undefined : end);
  }

  it('says none when there is no camera', async () => {
    const { lines } = await doctor({ env: headlessEnv(), cameras: async () => [], cameraFormats: async () => undefined });
    expect(cameraSection(lines)).toEqual(['cameras: none found']);
  });

  it("lists each camera's formats with sizes and rates, from real listings", async () => {
    const listings: Record<string, ReturnType<typeof parseV4l2ListFormats> | undefined> = {
      '/dev/video0': parseV4l2CtlFormats(cameraListing('v4l2-ctl-obs-2608.txt')),
      '/dev/video2': parseV4l2ListFormats(cameraListing('v4l2-list-formats-ffmpeg2013.txt')),
      'video=HD Webcam [Fixed]': parseDshowOptions(cameraListing('dshow-list-options-mjpeg.txt')),
    };
    const { lines } = await doctor({
      env: headlessEnv(),
      cameras: async () => [
        { label: '/dev/video0 (HD Pro Webcam C920)', device: '/dev/video0' },
        { label: '/dev/video1 (HD Pro Webcam C920)', device: '/dev/video1' },
        { label: '/dev/video2', device: '/dev/video2' },
        { label: 'video=HD Webcam [Fixed]', device: 'video=HD Webcam [Fixed]' },
      ],
      cameraFormats: async (device) => listings[device],
    });
    expect(cameraSection(lines)).toEqual([
      'cameras: /dev/video0 (HD Pro Webcam C920), /dev/video1 (HD Pro Webcam C920), /dev/video2, video=HD Webcam [Fixed]',
      '         /dev/video0: mjpeg (Motion-JPEG): 640x480@30 1920x1080@30 1280x720@60/30 640x360@30',
      '         /dev/video0: yuyv422 (YUYV 4:2:2): 640x480@30',
      '         /dev/video1: lists no capture formats (not a camera, or a metadata node of one)',
      '         /dev/video2: yuyv422 (YUV 4:2:2 (YUYV)): 640x480 352x288 320x240 176x144 160x120 544x288 432x240 320x176 640x360',
      '         /dev/video2: mjpeg (MJPEG): 640x480 352x288 320x240 176x144 160x120 544x288 432x240 320x176 640x360 800x480 1024x768',
      '         video=HD Webcam [Fixed]: yuyv422: 640x480@5-30 640x400@5-30 352x288@5-30 320x240@5-30 176x144@5-30 1280x720@5-10',
      '         video=HD Webcam [Fixed]: mjpeg: 640x480@5-30 640x400@5-30 352x288@5-30 320x240@5-30 176x144@5-30 1280x720@5-30',
      '         video=HD Webcam [Fixed]: bgr24: 640x480@5-30 640x400@5-30 352x288@5-30 320x240@5-30 176x144@5-30 1280x720@5-10',
    ]);
  });

  it('asks the real ffmpeg by default, and says so of a device that is not a camera', async () => {
    const { lines } = await doctor({ env: headlessEnv(), cameras: async () => [{ label: '/dev/null', device: '/dev/null' }] });
    expect(cameraSection(lines)).toEqual(['cameras: /dev/null', '         /dev/null: lists no capture formats (not a camera, or a metadata node of one)']);
  });
});
