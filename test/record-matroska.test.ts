/**
 * The Matroska writer of `recv --record`: its bytes checked against the EBML spec by a small
 * reader here, and its files read back by the real ffprobe and ffmpeg, complete and while
 * still being written.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { element, idBytes, vint, vintOfLength, voidElement, uintBytes, UNKNOWN_SIZE } from '../src/sink/record/ebml.js';
import { CLUSTER_MS, MatroskaWriter, type Chunk } from '../src/sink/record/matroska.js';
import { runFfmpeg } from './helpers/ffmpeg.js';

const run = promisify(execFile);
const FFPROBE = '/usr/bin/ffprobe';

/** An EBML element as read back: where it is and what it holds. */
interface Read {
  id: number;
  /** undefined: unknown size. */
  size: number | undefined;
  start: number;
  dataStart: number;
  end: number;
}

function readVint(bytes: Buffer, at: number, keepMarker: boolean): { value: number | undefined; length: number } {
  const first = bytes[at]!;
  let length = 1;
  while (length <= 8 && (first & (0x80 >> (length - 1))) === 0) length += 1;
  expect(length, `vint at ${at}`).toBeLessThanOrEqual(8);
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[at + i]!;
    allOnes &&= bytes[at + i] === 0xff;
  }
  return { value: !keepMarker && allOnes ? undefined : value, length };
}

/** The elements between `from` and `to`; an unknown size runs to `to`. */
function children(bytes: Buffer, from: number, to: number): Read[] {
  const found: Read[] = [];
  for (let at = from; at < to; ) {
    const id = readVint(bytes, at, true);
    const size = readVint(bytes, at + id.length, false);
    const dataStart = at + id.length + size.length;
    const end = size.value === undefined ? to : dataStart + size.value;
    expect(end, `element ${id.value!.toString(16)} at ${at}`).toBeLessThanOrEqual(to);
    found.push({ id: id.value!, size: size.value, start: at, dataStart, end });
    at = end;
  }
  return found;
}

function uintAt(bytes: Buffer, element: Read): number {
  return bytes.subarray(element.dataStart, element.end).reduce((value, byte) => value * 256 + byte, 0);
}

/** The file as written to a seekable output (patches applied), or as a pipe gets it (without). */
function assemble(chunks: Chunk[], patched: boolean): Buffer {
  const file = Buffer.concat(chunks.flatMap((chunk) => chunk.append));
  if (patched) for (const patch of chunks.flatMap((chunk) => chunk.patches)) patch.bytes.copy(file, patch.offset);
  return file;
}

let dir: string;
let jpegs: Buffer[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vstream-mkv-'));
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-frames:v', '12', '-c:v', 'mjpeg', '-f', 'image2', join(dir, 'f%02d.jpg')]);
  const names = (await readdir(dir)).filter((name) => name.endsWith('.jpg')).sort();
  jpegs = await Promise.all(names.map((name) => readFile(join(dir, name))));
});

/** A file of the JPEGs at these times (ms). */
function record(times: number[], video = { width: 160, height: 120 }): Chunk[] {
  const writer = new MatroskaWriter({ ...video, title: 'cam', startedAt: Date.UTC(2026, 0, 2, 3, 4, 5) });
  return [writer.header(), ...times.map((time, i) => writer.frame(time, [jpegs[i % jpegs.length]!])), writer.finish()];
}

async function probe(path: string): Promise<{ frames: number; times: number[]; duration: string; title: string; created: string }> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames:format=duration:format_tags=title,creation_time', '-of', 'json', path]);
  const info = JSON.parse(stdout) as { streams: { nb_read_frames: string }[]; format: { duration?: string; tags?: { title?: string; creation_time?: string } } };
  const packets = await run(FFPROBE, ['-v', 'error', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path]);
  return {
    frames: Number(info.streams[0]!.nb_read_frames),
    times: packets.stdout.trim().split('\n').map((line) => Math.round(Number(line) * 1000)),
    duration: info.format.duration ?? 'N/A',
    title: info.format.tags?.title ?? '',
    created: info.format.tags?.creation_time ?? '',
  };
}

describe('EBML encoding', () => {
  it('writes sizes as the shortest vint, never all ones (that is "unknown")', () => {
    expect(vint(0)).toEqual(Buffer.from([0x80]));
    expect(vint(126)).toEqual(Buffer.from([0xfe]));
    expect(vint(127)).toEqual(Buffer.from([0x40, 0x7f]));
    expect(vint(16_382)).toEqual(Buffer.from([0x7f, 0xfe]));
    expect(vint(16_383)).toEqual(Buffer.from([0x20, 0x3f, 0xff]));
    expect(vintOfLength(5, 8)).toEqual(Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 5]));
    expect(UNKNOWN_SIZE).toEqual(Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(() => vintOfLength(127, 1)).toThrow(RangeError);
  });

  it('writes IDs as they are, integers big-endian, and Voids of an exact length', () => {
    expect(idBytes(0x1a45dfa3)).toEqual(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]));
    expect(idBytes(0xa3)).toEqual(Buffer.from([0xa3]));
    expect(uintBytes(0)).toEqual(Buffer.from([0]));
    expect(uintBytes(1_000_000)).toEqual(Buffer.from([0x0f, 0x42, 0x40]));
    expect(uintBytes(300, 8)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 1, 0x2c]));
    expect(element(0x4282, Buffer.from('matroska'))).toEqual(Buffer.concat([Buffer.from([0x42, 0x82, 0x88]), Buffer.from('matroska')]));
    for (const total of [2, 11, 64, 129, 130, 1000]) {
      const room = voidElement(total);
      expect(room.length).toBe(total);
      expect(room[0]).toBe(0xec);
    }
  });
});

describe('the Matroska writer', () => {
  it('starts with the EBML header, then a Segment of unknown size holding Info and one V_MJPEG track', () => {
    const [header] = record([]);
    const file = Buffer.concat(header!.append);
    const top = children(file, 0, file.length);
    expect(top.map((e) => e.id)).toEqual([0x1a45dfa3, 0x18538067]);
    const docType = children(file, top[0]!.dataStart, top[0]!.end).find((e) => e.id === 0x4282)!;
    expect(file.subarray(docType.dataStart, docType.end).toString()).toBe('matroska');
    expect(top[1]!.size).toBeUndefined();
    const segment = children(file, top[1]!.dataStart, file.length);
    expect(segment.map((e) => e.id)).toEqual([0xec, 0x1549a966, 0x1654ae6b]);
    const info = children(file, segment[1]!.dataStart, segment[1]!.end);
    expect(uintAt(file, info.find((e) => e.id === 0x2ad7b1)!)).toBe(1_000_000);
    const entry = children(file, segment[2]!.dataStart, segment[2]!.end)[0]!;
    const fields = children(file, entry.dataStart, entry.end);
    const codec = fields.find((e) => e.id === 0x86)!;
    expect(file.subarray(codec.dataStart, codec.end).toString()).toBe('V_MJPEG');
    const video = children(file, fields.find((e) => e.id === 0xe0)!.dataStart, fields.find((e) => e.id === 0xe0)!.end);
    expect(video.map((e) => [e.id, uintAt(file, e)])).toEqual([
      [0xb0, 160],
      [0xba, 120],
    ]);
  });

  it('stores each JPEG whole in a keyframe SimpleBlock, timed from its Cluster, a Cluster at most a second', () => {
    const times = [0, 40, 999, 1000, 1040, 40_000];
    const file = assemble(record(times), true);
    const [, segmentElement] = children(file, 0, file.length);
    const segment = children(file, segmentElement!.dataStart, segmentElement!.end);
    const clusters = segment.filter((e) => e.id === 0x1f43b675);
    expect(clusters).toHaveLength(3);
    const blocks: { time: number; data: Buffer }[] = [];
    for (const cluster of clusters) {
      const [timestamp, ...rest] = children(file, cluster.dataStart, cluster.end);
      expect(timestamp!.id).toBe(0xe7);
      for (const block of rest) {
        expect(block.id).toBe(0xa3);
        expect(file[block.dataStart]).toBe(0x81);
        expect(file[block.dataStart + 3]).toBe(0x80);
        blocks.push({ time: uintAt(file, timestamp!) + file.readInt16BE(block.dataStart + 1), data: file.subarray(block.dataStart + 4, block.end) });
      }
    }
    expect(blocks.map((b) => b.time)).toEqual(times);
    blocks.forEach((block, i) => expect(block.data.equals(jpegs[i]!), `frame ${i}`).toBe(true));
    for (const cluster of clusters) expect(cluster.size, 'a finished Cluster gets its size').toBeDefined();
    expect(CLUSTER_MS).toBe(1000);
  });

  it('finishes with sizes, Duration, and Cues that the SeekHead points at and that point at each Cluster', () => {
    const file = assemble(record([0, 500, 1500, 2500]), true);
    const [, segmentElement] = children(file, 0, file.length);
    expect(segmentElement!.size).toBe(file.length - segmentElement!.dataStart);
    const segment = children(file, segmentElement!.dataStart, segmentElement!.end);
    expect(segment[0]!.id).toBe(0x114d9b74);
    const seek = children(file, segment[0]!.dataStart, segment[0]!.end)[0]!;
    const position = children(file, seek.dataStart, seek.end).find((e) => e.id === 0x53ac)!;
    const cues = segment.find((e) => e.id === 0x1c53bb6b)!;
    expect(segmentElement!.dataStart + uintAt(file, position)).toBe(cues.start);
    const clusterStarts = segment.filter((e) => e.id === 0x1f43b675).map((e) => e.start - segmentElement!.dataStart);
    const cued = children(file, cues.dataStart, cues.end).map((point) => {
      const [time, positions] = children(file, point.dataStart, point.end);
      return [uintAt(file, time!), uintAt(file, children(file, positions!.dataStart, positions!.end).find((e) => e.id === 0xf1)!)];
    });
    expect(cued).toEqual([
      [0, clusterStarts[0]],
      [1500, clusterStarts[1]],
      [2500, clusterStarts[2]],
    ]);
    const info = segment.find((e) => e.id === 0x1549a966)!;
    const duration = children(file, info.dataStart, info.end).find((e) => e.id === 0x4489)!;
    expect(file.readDoubleBE(duration.dataStart)).toBe(3500);
  });

  it('refuses frames out of order, which players could not play', () => {
    const writer = new MatroskaWriter({ width: 2, height: 2 });
    writer.header();
    writer.frame(10, [jpegs[0]!]);
    expect(() => writer.frame(10, [jpegs[0]!])).toThrow(RangeError);
    expect(() => writer.frame(5, [jpegs[0]!])).toThrow(RangeError);
  });

  it('makes files ffprobe reads frame for frame at their times, and ffmpeg decodes without an error', async () => {
    const times = [0, 33, 70, 100, 1100, 1133, 5000, 45_000, 45_033, 45_066];
    const path = join(dir, 'complete.mkv');
    await writeFile(path, assemble(record(times), true));
    const info = await probe(path);
    expect(info.frames).toBe(times.length);
    expect(info.times).toEqual(times);
    expect(Number(info.duration)).toBeCloseTo(45.099, 3);
    expect(info.title).toBe('cam');
    expect(info.created).toBe('2026-01-02T03:04:05.000000Z');
    await runFfmpeg(['-xerror', '-i', path, '-f', 'null', '-']);
    // Seeking uses the Cues.
    const tail = await runFfmpeg(['-ss', '45', '-i', path, '-f', 'framemd5', '-']);
    expect(tail.toString().trim().split('\n').filter((line) => !line.startsWith('#'))).toHaveLength(3);
  });

  it('makes files that are readable while written: without the patches, and cut anywhere after a frame', async () => {
    const times = Array.from({ length: 12 }, (_, i) => i * 250);
    const chunks = record(times);
    const live = join(dir, 'live.mkv');
    await writeFile(live, assemble(chunks, false));
    const info = await probe(live);
    expect(info.frames).toBe(12);
    expect(info.times).toEqual(times);
    // What a reader sees of a file still being written: the header and the first 7 frames.
    const growing = join(dir, 'growing.mkv');
    await writeFile(growing, Buffer.concat(chunks.slice(0, 8).flatMap((chunk) => chunk.append)));
    expect((await probe(growing)).frames).toBe(7);
  });
});
