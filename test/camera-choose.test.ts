import { describe, expect, it } from 'vitest';
import { SourceError } from '../src/errors.js';
import { cameraFfmpeg } from '../src/source/camera.js';
import { pickCameraFormat, type CameraPick, type PickOptions } from '../src/source/camera/choose.js';
import { parseDshowOptions } from '../src/source/camera/dshow-listing.js';
import { listFormatsArgs } from '../src/source/camera/lister.js';
import { parseV4l2CtlFormats, parseV4l2ListFormats } from '../src/source/camera/v4l2-listing.js';
import { cameraInputArgs, ffmpegArgs } from '../src/source/ffmpeg/args.js';
import { cameraListing } from './helpers/camera-listings.js';

const go2rtc = parseV4l2ListFormats(cameraListing('v4l2-list-formats-go2rtc.txt'));
const c920 = parseV4l2ListFormats(cameraListing('v4l2-list-formats-c920-ffmpeg3.txt'));
const rawOnly = parseV4l2ListFormats(cameraListing('v4l2-list-formats-raw-only.txt'));
const withRates = parseV4l2CtlFormats(cameraListing('v4l2-ctl-obs-2608.txt'));
const dshow = parseDshowOptions(cameraListing('dshow-list-options-mjpeg.txt'));

const choose = (options: Partial<PickOptions> & Pick<PickOptions, 'formats'>): CameraPick => pickCameraFormat({ choice: 'auto', device: '/dev/video0', ...options });

/** The whole ffmpeg command line for a camera as `send` runs it. */
function commandLine(platform: NodeJS.Platform, device: string, pick: CameraPick, asked: { size?: { width: number; height: number }; quality?: number } = {}): string {
  const plan = cameraFfmpeg({ device, platform, ...asked, pick });
  return ffmpegArgs(plan.input, { ...plan.output, encoder: pick.passthrough ? 'copy' : 'ffmpeg' }).join(' ');
}

describe('--camera-format auto', () => {
  it('takes MJPEG, passed through, at the largest size up to 1920x1080, from a real -list_formats output', () => {
    const pick = choose({ formats: c920 });
    expect(pick).toEqual({ input: { kind: 'mjpeg', name: 'mjpeg' }, size: { width: 1920, height: 1080 }, sizeListed: true, passthrough: true });
    const line = commandLine('linux', '0', pick);
    expect(line).toContain('-f v4l2 -input_format mjpeg -video_size 1920x1080 -i /dev/video0');
    expect(line).toMatch(/-c:v copy .*-f mjpeg pipe:1$/);
    expect(line).not.toMatch(/-vf|scale=|-q:v/);
  });

  it('picks the size and rate a camera gives at 25 frames/s or more, its highest rate up to 30, when v4l2-ctl states rates', () => {
    expect(choose({ formats: withRates })).toMatchObject({ size: { width: 1920, height: 1080 }, fps: 30, passthrough: true });
    // 1280x720 offers 60 and 30: 30 unless asked.
    expect(choose({ formats: withRates, size: { width: 1280, height: 720 } })).toMatchObject({ size: { width: 1280, height: 720 }, passthrough: true });
    expect(choose({ formats: withRates, fps: 60 })).toMatchObject({ size: { width: 1280, height: 720 }, fps: 60, passthrough: true });
    expect(commandLine('linux', '1', choose({ formats: withRates, fps: 60 }))).toContain('-f v4l2 -input_format mjpeg -framerate 60 -video_size 1280x720 -i /dev/video1');
  });

  it('takes MJPEG at an asked size it offers; re-encodes it when --quality asks', () => {
    const size = { width: 640, height: 360 };
    expect(choose({ formats: go2rtc, size })).toMatchObject({ input: { name: 'mjpeg' }, size, passthrough: true });
    const reencoded = choose({ formats: go2rtc, size, quality: 60 });
    expect(reencoded).toMatchObject({ input: { name: 'mjpeg' }, size, passthrough: false });
    const line = commandLine('linux', '0', reencoded, { size, quality: 60 });
    expect(line).toContain('-input_format mjpeg');
    expect(line).toContain('-c:v mjpeg');
    expect(line).not.toContain('-c:v copy');
  });

  it('takes the raw format that gives the size when MJPEG does not', () => {
    const size = { width: 2304, height: 1536 };
    expect(choose({ formats: c920, size })).toEqual({ input: { kind: 'raw', name: 'yuyv422' }, size, sizeListed: true, passthrough: false });
    expect(commandLine('linux', '0', choose({ formats: c920, size }), { size })).toContain('-f v4l2 -input_format yuyv422 -video_size 2304x1536 -i /dev/video0');
  });

  it('leaves the driver to choose, as before, when no format gives the size and rate asked', () => {
    const size = { width: 1920, height: 1080 };
    expect(choose({ formats: withRates, size, fps: 60 })).toEqual({ size, sizeListed: false, fps: 60, passthrough: false });
    // The line ffmpeg ran before cameras were asked for their formats.
    expect(commandLine('linux', '0', choose({ formats: withRates, size, fps: 60 }), { size })).toContain('-f v4l2 -framerate 60 -video_size 1920x1080 -i /dev/video0');
  });

  it('changes nothing for a camera without MJPEG, or one whose formats are unknown', () => {
    expect(choose({ formats: rawOnly })).toEqual({ sizeListed: false, passthrough: false });
    expect(choose({ formats: undefined, fps: 15 })).toEqual({ sizeListed: false, fps: 15, passthrough: false });
    expect(commandLine('linux', '0', choose({ formats: rawOnly }))).toContain('-f v4l2 -i /dev/video0');
  });
});

describe('--camera-format mjpeg and raw', () => {
  it('mjpeg on a camera that has none: one line naming the formats it has, a camera error (exit 4)', () => {
    let error: unknown;
    try {
      pickCameraFormat({ formats: rawOnly, choice: 'mjpeg', device: '/dev/video0' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_CAMERA_FORMAT', exitCode: 4 });
    expect((error as Error).message).toBe('camera /dev/video0 gives no MJPEG (its formats: yuyv422); use --camera-format raw or auto');
  });

  it('mjpeg at a size it lacks: MJPEG still, scaled and so re-encoded', () => {
    const size = { width: 2304, height: 1536 };
    const pick = pickCameraFormat({ formats: c920, choice: 'mjpeg', device: 'x', size });
    expect(pick).toEqual({ input: { kind: 'mjpeg', name: 'mjpeg' }, size, sizeListed: false, passthrough: false });
    expect(commandLine('linux', '0', pick, { size })).toContain('scale=2304:1536');
  });

  it('mjpeg with unknown formats asks ffmpeg for MJPEG anyway', () => {
    expect(pickCameraFormat({ formats: undefined, choice: 'mjpeg', device: 'x' })).toMatchObject({ input: { name: 'mjpeg' }, passthrough: true });
  });

  it('raw names the raw format that gives the size, even on a camera that has MJPEG', () => {
    const size = { width: 1280, height: 720 };
    const pick = pickCameraFormat({ formats: go2rtc, choice: 'raw', device: 'x', size });
    expect(pick).toEqual({ input: { kind: 'raw', name: 'yuyv422' }, size, sizeListed: true, passthrough: false });
    expect(commandLine('linux', '0', pick, { size })).toContain('-f v4l2 -input_format yuyv422 -video_size 1280x720 -i /dev/video0');
  });
});

describe('camera argument builders, per platform', () => {
  it('v4l2: -input_format, -framerate, -video_size before -i', () => {
    expect(cameraInputArgs({ device: '2', platform: 'linux', input: { kind: 'mjpeg', name: 'mjpeg' }, size: { width: 1280, height: 720 }, fps: 30 })).toEqual([
      '-f',
      'v4l2',
      '-input_format',
      'mjpeg',
      '-framerate',
      '30',
      '-video_size',
      '1280x720',
      '-i',
      '/dev/video2',
    ]);
  });

  it('dshow: -vcodec mjpeg, with the size and rate the camera listed', () => {
    const pick = choose({ formats: dshow });
    expect(pick).toMatchObject({ input: { kind: 'mjpeg' }, size: { width: 1280, height: 720 }, fps: 30, passthrough: true });
    const line = commandLine('win32', 'HD Webcam [Fixed]', pick);
    expect(line).toContain('-f dshow -vcodec mjpeg -video_size 1280x720 -framerate 30 -i video=HD Webcam [Fixed]');
    expect(line).toContain('-c:v copy');
  });

  it('dshow: a raw format is -pixel_format; a size it did not list is left to the scale filter', () => {
    expect(cameraInputArgs({ device: 'Cam', platform: 'win32', input: { kind: 'raw', name: 'yuyv422' }, size: { width: 640, height: 480 }, sizeListed: true })).toEqual([
      '-f',
      'dshow',
      '-pixel_format',
      'yuyv422',
      '-video_size',
      '640x480',
      '-i',
      'video=Cam',
    ]);
    expect(cameraInputArgs({ device: 'Cam', platform: 'win32', size: { width: 100, height: 100 } })).toEqual(['-f', 'dshow', '-i', 'video=Cam']);
  });

  it('avfoundation: as before, at 30 frames/s unless told', () => {
    expect(cameraInputArgs({ device: '0', platform: 'darwin' })).toEqual(['-f', 'avfoundation', '-framerate', '30', '-i', '0']);
  });

  it('the listings are asked for with options that make ffmpeg list and exit', () => {
    expect(listFormatsArgs('/dev/video0', 'linux')).toEqual(['-hide_banner', '-nostdin', '-f', 'v4l2', '-list_formats', 'all', '-i', '/dev/video0']);
    expect(listFormatsArgs('video=Cam', 'win32')).toEqual(['-hide_banner', '-nostdin', '-f', 'dshow', '-list_options', 'true', '-i', 'video=Cam']);
    expect(listFormatsArgs('0', 'darwin')).toEqual(['-hide_banner', '-nostdin', '-f', 'avfoundation', '-video_size', '1x1', '-i', '0']);
  });
});
