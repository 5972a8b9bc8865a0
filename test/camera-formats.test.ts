import { describe, expect, it } from 'vitest';
import { parseAvfoundationModes } from '../src/source/camera/avfoundation-listing.js';
import { parseDshowOptions } from '../src/source/camera/dshow-listing.js';
import { describeFormat, MAX_MODES, offers, type CameraFormat } from '../src/source/camera/formats.js';
import { parseV4l2CtlFormats, parseV4l2ListFormats } from '../src/source/camera/v4l2-listing.js';
import { cameraListing } from './helpers/camera-listings.js';

const sizesOf = (format: CameraFormat | undefined): string[] => (format?.modes ?? []).map(({ width, height }) => `${width}x${height}`);
const byName = (formats: CameraFormat[], name: string): CameraFormat | undefined => formats.find((format) => format.name === name);

describe('ffmpeg -f v4l2 -list_formats all', () => {
  it('reads the raw and MJPEG formats with their sizes, as ffmpeg 4.x and 5.x print them', () => {
    const formats = parseV4l2ListFormats(cameraListing('v4l2-list-formats-go2rtc.txt'));
    expect(formats.map(({ kind, name, description }) => [kind, name, description])).toEqual([
      ['raw', 'yuyv422', 'YUYV 4:2:2'],
      ['mjpeg', 'mjpeg', 'Motion-JPEG'],
    ]);
    const mjpeg = byName(formats, 'mjpeg');
    expect(sizesOf(mjpeg)).toHaveLength(19);
    expect(sizesOf(mjpeg).slice(0, 3)).toEqual(['640x480', '160x120', '176x144']);
    expect(sizesOf(mjpeg).at(-1)).toBe('1280x960');
    // ffmpeg's listing states no rates.
    expect(mjpeg!.modes.every(({ rates }) => rates.length === 0)).toBe(true);
  });

  it('keeps compressed formats other than MJPEG apart (H.264 of a C920)', () => {
    const formats = parseV4l2ListFormats(cameraListing('v4l2-list-formats-c920-ffmpeg3.txt'));
    expect(formats.map(({ kind, name }) => `${kind}:${name}`)).toEqual(['raw:yuyv422', 'other:h264', 'mjpeg:mjpeg']);
    expect(sizesOf(byName(formats, 'mjpeg'))).toContain('1920x1080');
    expect(sizesOf(byName(formats, 'yuyv422'))).toContain('2304x1536');
  });

  it("reads old ffmpegs' narrower columns, and ignores the closing line", () => {
    const formats = parseV4l2ListFormats(cameraListing('v4l2-list-formats-ffmpeg2013.txt'));
    expect(formats.map(({ name, description }) => [name, description])).toEqual([
      ['yuyv422', 'YUV 4:2:2 (YUYV)'],
      ['mjpeg', 'MJPEG'],
    ]);
    expect(sizesOf(byName(formats, 'mjpeg')).slice(-2)).toEqual(['800x480', '1024x768']);
  });

  it('reads stepwise sizes, emulated formats, unsupported ones and newer prefixes (lines built from the format strings of libavdevice/v4l2.c)', () => {
    const text = [
      '[in#0 @ 0x55d0] Raw       :     yuv420p :     Planar YUV 4:2:0 : {32-2592, 2}x{32-1944, 2}',
      '[in#0 @ 0x55d0] Raw       :      yuyv422 :           YUYV 4:2:2 : Emulated : 640x480',
      '[in#0 @ 0x55d0] Raw       : Unsupported :                 GREY : 640x480',
      '[in#0 @ 0x55d0] Compressed:       mjpeg :          Motion-JPEG :',
    ].join('\n');
    const formats = parseV4l2ListFormats(text);
    // A format that lists no size is of no use; "Unsupported" is not one ffmpeg reads.
    expect(formats.map(({ kind, name }) => `${kind}:${name}`)).toEqual(['raw:yuv420p', 'raw:yuyv422', 'other:Unsupported']);
    expect(formats[0]!.range).toEqual({ min: { width: 32, height: 32 }, max: { width: 2592, height: 1944 }, step: { width: 2, height: 2 }, rates: [] });
    expect(offers(formats[0]!, { width: 1280, height: 720 }, 30)).toBe(true);
    expect(offers(formats[0]!, { width: 1281, height: 720 }, undefined)).toBe(false);
    expect(sizesOf(formats[1])).toEqual(['640x480']);
  });

  it('finds nothing in what a device that is not a camera makes ffmpeg say', () => {
    expect(parseV4l2ListFormats('[video4linux2,v4l2 @ 0x1] ioctl(VIDIOC_QUERYCAP): Inappropriate ioctl for device\n/dev/null: Inappropriate ioctl for device\n')).toEqual([]);
    expect(parseV4l2ListFormats('')).toEqual([]);
  });

  it('stays bounded on endless or hostile input', () => {
    const line = `[x @ 0] Compressed:       mjpeg :          Motion-JPEG : ${Array.from({ length: 2000 }, (_, i) => `${i + 1}x${i + 1}`).join(' ')} 99999x99999 0x0`;
    const [mjpeg] = parseV4l2ListFormats(`${line}\n`.repeat(50));
    expect(mjpeg!.modes.length).toBeLessThanOrEqual(MAX_MODES);
    expect(sizesOf(mjpeg)).not.toContain('99999x99999');
    expect(sizesOf(mjpeg)).not.toContain('0x0');
  });
});

describe('v4l2-ctl --list-formats-ext', () => {
  it('reads sizes with their rates (v4l-utils 1.18+ layout)', () => {
    const formats = parseV4l2CtlFormats(cameraListing('v4l2-ctl-obs-2608.txt'));
    expect(formats.map(({ kind, name, description }) => [kind, name, description])).toEqual([
      ['mjpeg', 'mjpeg', 'Motion-JPEG'],
      ['raw', 'yuyv422', 'YUYV 4:2:2'],
    ]);
    const mjpeg = formats[0]!;
    expect(describeFormat(mjpeg)).toBe('mjpeg (Motion-JPEG): 640x480@30 1920x1080@30 1280x720@60/30 640x360@30');
    expect(offers(mjpeg, { width: 1280, height: 720 }, 60)).toBe(true);
    expect(offers(mjpeg, { width: 1920, height: 1080 }, 60)).toBe(false);
    expect(offers(formats[1]!, { width: 1280, height: 720 }, undefined)).toBe(false);
  });

  it('reads the older Index / Pixel Format / Name layout', () => {
    const formats = parseV4l2CtlFormats(cameraListing('v4l2-ctl-mjpg-streamer-169.txt'));
    expect(formats).toHaveLength(1);
    expect(describeFormat(formats[0]!)).toBe('yuyv422 (YUYV 4:2:2): 640x480@30/20/15/10/7.5 1280x720@10/7.5 960x544@20/15/10/7.5');
  });

  it('reads stepwise sizes, and maps fourccs onto the names ffmpeg takes', () => {
    const formats = parseV4l2CtlFormats(cameraListing('v4l2-ctl-motion-940.txt'));
    expect(formats.map(({ kind, name }) => `${kind}:${name}`)).toEqual([
      'raw:yuv420p',
      'raw:yuyv422',
      'raw:rgb24',
      // JFIF JPEG and Motion-JPEG are both what ffmpeg's -input_format mjpeg reads: one format.
      'mjpeg:mjpeg',
      'other:h264',
      // The quoted listing ends before YVYU's sizes: a format without sizes is left out.
    ]);
    const mjpeg = byName(formats, 'mjpeg')!;
    expect(mjpeg.range).toMatchObject({ min: { width: 32, height: 32 }, max: { width: 2592, height: 1944 }, step: { width: 2, height: 2 } });
    expect(describeFormat(mjpeg)).toBe('mjpeg (JFIF JPEG): 32x32 to 2592x1944 in steps of 2x2');
  });

  it('finds nothing when v4l2-ctl cannot open the device', () => {
    expect(parseV4l2CtlFormats('Cannot open device /dev/video0, exiting.\n')).toEqual([]);
  });
});

describe('ffmpeg -f dshow -list_options true', () => {
  it('reads vcodec=mjpeg and pixel_format lines with their rate spans', () => {
    const formats = parseDshowOptions(cameraListing('dshow-list-options-mjpeg.txt'));
    expect(formats.map(({ kind, name }) => `${kind}:${name}`)).toEqual(['raw:yuyv422', 'mjpeg:mjpeg', 'raw:bgr24']);
    const mjpeg = byName(formats, 'mjpeg')!;
    expect(describeFormat(mjpeg)).toBe('mjpeg: 640x480@5-30 640x400@5-30 352x288@5-30 320x240@5-30 176x144@5-30 1280x720@5-30');
    expect(offers(mjpeg, { width: 1280, height: 720 }, 30)).toBe(true);
    expect(offers(byName(formats, 'yuyv422')!, { width: 1280, height: 720 }, 30)).toBe(false);
  });

  it('counts a mode listed twice (with and without its colour range) once', () => {
    const formats = parseDshowOptions(cameraListing('dshow-list-options-raw.txt'));
    expect(formats.map(describeFormat)).toEqual(['yuyv422: 1280x720@1-10', 'nv12: 1280x720@1-23']);
  });
});

describe('avfoundation supported modes', () => {
  it('reads every mode as raw', () => {
    const formats = parseAvfoundationModes(cameraListing('avfoundation-supported-modes.txt'));
    expect(formats).toHaveLength(1);
    expect(formats[0]!.kind).toBe('raw');
    expect(sizesOf(formats[0])).toEqual(['1920x1080', '1280x720', '1080x1920', '1760x1328', '640x480', '1328x1760', '1552x1552']);
    expect(describeFormat(formats[0]!)).toMatch(/^raw \(AVFoundation\): 1920x1080@1-30 1280x720@1-30 /);
  });
});
