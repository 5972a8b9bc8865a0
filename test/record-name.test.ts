/** The pure parts of `recv --record`: its file names, its time line, its ffmpeg command. */
import { describe, expect, it } from 'vitest';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { recordFfmpegArgs } from '../src/sink/record/ffmpeg-args.js';
import { parseRecordName, parseSegmentDuration, recordPath, senderPart, withCopySuffix } from '../src/sink/record/record-name.js';
import { MAX_CLOCK_SKEW_MS, Timeline } from '../src/sink/record/timeline.js';

describe('--record names', () => {
  it('takes the container from the extension, and refuses others and unknown % fields', () => {
    expect(parseRecordName('out/{sender}.MKV')).toMatchObject({ container: 'mkv', perSender: true });
    expect(parseRecordName('a.avi')).toMatchObject({ container: 'avi', perSender: false });
    expect(parseRecordName('100%%-%Y.mp4').container).toBe('mp4');
    expect(() => parseRecordName('a.mov')).toThrow(/must end in \.mkv, \.avi or \.mp4/);
    expect(() => parseRecordName('a')).toThrow(/must end in/);
    expect(() => parseRecordName('a-%j.mkv')).toThrow(/%j is not one of/);
  });

  it('puts the local start time and the sender, made safe, into the name', () => {
    const at = new Date(2026, 2, 4, 5, 6, 7).getTime();
    expect(recordPath(parseRecordName('rec/{sender}/%Y-%m-%d_%H%M%S-100%%.mkv'), 'cam', at)).toBe('rec/cam/2026-03-04_050607-100%.mkv');
    expect(recordPath(parseRecordName('{sender}.mkv'), '../../etc/passwd', at)).toBe('etcpasswd.mkv');
    expect(senderPart('127.0.0.1:5000')).toBe('127.0.0.1-5000');
    expect(senderPart('[::1]:5000')).toBe('--1-5000');
    expect(senderPart('CON')).toBe('_CON');
    expect(senderPart('')).toBe('sender');
    expect(Buffer.byteLength(senderPart('é'.repeat(500)))).toBeLessThanOrEqual(96);
  });

  it('suffixes a taken name before its extension', () => {
    expect(withCopySuffix('a/rec.mkv', 0)).toBe('a/rec.mkv');
    expect(withCopySuffix('a/rec.mkv', 2)).toBe('a/rec-2.mkv');
  });

  it('reads segment lengths in seconds, minutes or hours', () => {
    expect(parseSegmentDuration('30s')).toBe(30_000);
    expect(parseSegmentDuration('10m')).toBe(600_000);
    expect(parseSegmentDuration('1h')).toBe(3_600_000);
    expect(parseSegmentDuration('90')).toBe(90_000);
    expect(parseSegmentDuration('1.5s')).toBe(1500);
    for (const bad of ['0s', '0.5s', '10 m', '1d', '-1s', '200h', '']) expect(() => parseSegmentDuration(bad), bad).toThrow(/invalid --record-segment/);
  });
});

describe('the recording time line', () => {
  const frame = (receivedAt: number, captureTime?: number) => ({ receivedAt, ...(captureTime !== undefined && { captureTime }) }) as ReceivedFrame;

  it("follows the sender's capture times, not the network's jitter", () => {
    const line = new Timeline();
    expect([frame(5000, 1000.4), frame(5090, 1033.6), frame(5095, 1066.9)].map((f) => line.time(f))).toEqual([0, 33, 67]);
  });

  it('uses arrival times without capture times, or when the capture times run off', () => {
    const line = new Timeline();
    expect(line.time(frame(100))).toBe(0);
    expect(line.time(frame(140))).toBe(40);
    const skewed = new Timeline();
    expect(skewed.time(frame(0, 0))).toBe(0);
    expect(skewed.time(frame(50, MAX_CLOCK_SKEW_MS * 10))).toBe(50);
    expect(skewed.time(frame(80, Number.NaN))).toBe(80);
  });

  it('always goes forward, as players need, even when capture times repeat or go back', () => {
    const line = new Timeline();
    expect([frame(0, 10), frame(1, 10), frame(2, 9.8), frame(3, 50)].map((f) => line.time(f))).toEqual([0, 1, 2, 40]);
  });
});

describe('the ffmpeg of a recording', () => {
  it('copies the JPEGs into a fragmented MP4 or an AVI, from Matroska on stdin, into the claimed file', () => {
    const mp4 = recordFfmpegArgs('mp4', 'mjpeg', '/r/-x.mp4');
    expect(mp4.slice(mp4.indexOf('-f'), mp4.indexOf('-i') + 2)).toEqual(['-f', 'matroska', '-i', 'pipe:0']);
    expect(mp4).toEqual(expect.arrayContaining(['-c:v', 'copy', '-copytb', '1', '-vsync', 'passthrough', '+empty_moov+default_base_moof']));
    expect(mp4.slice(-4)).toEqual(['-f', 'mp4', '-y', 'file:/r/-x.mp4']);
    const avi = recordFfmpegArgs('avi', 'mjpeg', 'a.avi');
    expect(avi).not.toContain('-movflags');
    expect(avi.slice(-4)).toEqual(['-f', 'avi', '-y', 'file:a.avi']);
  });

  it('encodes H.264 in 4:2:0 with a keyframe every 2 s and the input time base; no B-frames in MP4', () => {
    const mkv = recordFfmpegArgs('mkv', 'h264', 'a.mkv');
    expect(mkv).toEqual(expect.arrayContaining(['libx264', 'yuv420p', 'expr:gte(t,n_forced*2)', '-enc_time_base', '-1']));
    expect(mkv).not.toContain('-bf');
    expect(recordFfmpegArgs('mp4', 'h264', 'a.mp4')).toEqual(expect.arrayContaining(['-bf', '0', '+frag_keyframe+empty_moov+default_base_moof']));
  });
});
