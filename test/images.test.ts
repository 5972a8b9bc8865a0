/**
 * PNG frames on every path, as users run them: `send --dir` sends JPEG and PNG files as they
 * are, and `recv` saves them, decodes them (`--format`, the window) and writes them into MJPEG
 * (`--output`, as JPEGs); a reference OpenCV receiver decodes them too; hostile PNGs never
 * bring recv down. Real processes over loopback, a real window under Xvfb.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeHeader } from '../src/frame/header.js';
import { makeFrame } from '../src/frame/image-info.js';
import { readMetadata, withoutMetadata } from '../src/frame/metadata.js';
import { payloadParts } from '../src/frame/payload.js';
import { PNG_METADATA_CHUNK } from '../src/frame/png-metadata.js';
import { pngChunks } from '../src/frame/png-chunks.js';
import { decodePixels } from '../src/decode/pixels.js';
import { makeJpeg } from './helpers/jpeg.js';
import { halvesPng, pngClaimingSize, pngWithBadCrc, type Rgba } from './helpers/png.js';
import { startProcess, startReceiver, stopAll, vstream } from './helpers/process.js';
import { HAVE_CV2, PYTHON, PYTHON_FIXTURES } from './helpers/python.js';
import { HAVE_XVFB, startXvfb, type Xvfb } from './helpers/xvfb.js';

const run = promisify(execFile);

const RED: Rgba = [200, 30, 40, 255];
/** Fully transparent white: a decoder that drops the alpha channel shows white, one that composites shows black. */
const CLEAR_WHITE: Rgba = [255, 255, 255, 0];

let tmp: string;
let png: Buffer;
let jpeg: Buffer;
let webp: Buffer;
let images: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-images-'));
  png = await halvesPng(40, 30, RED, CLEAR_WHITE);
  jpeg = await makeJpeg({ width: 48, height: 32, noise: false, color: '#2050c0' });
  webp = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#10e010' } }).webp().toBuffer();
  images = join(tmp, 'images');
  await mkdir(images);
  await writeFile(join(images, '1.png'), png);
  await writeFile(join(images, '2.jpg'), jpeg);
  await writeFile(join(images, '3.webp'), webp);
});
afterAll(() => rm(tmp, { recursive: true, force: true }));
afterEach(() => stopAll());

/** `vstream send --dir DIR ...args` into `receiver`; resolves once the sender exited 0. */
async function sendDir(port: number, dir: string, args: string[] = []): Promise<void> {
  const send = vstream(['send', '--dir', dir, '--to', `127.0.0.1:${port}`, ...args]);
  const code = await send.exitCode;
  if (code !== 0) throw send.describeFailure(`send exited ${code}`);
}

/** A raw peer: `str(len).ljust(16)` then the bytes, for each frame, then close. */
async function sendRaw(port: number, frames: Buffer[]): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  for (const frame of frames) socket.write(Buffer.concat([encodeHeader(frame.length), frame]));
  socket.end();
  await once(socket, 'close');
}

/** The pixel at (x, y) of raw RGB24 `pixels` `width` wide. */
function rgbAt(pixels: Buffer, width: number, x: number, y: number): [number, number, number] {
  const i = (y * width + x) * 3;
  return [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
}

function near(actual: readonly number[], expected: readonly number[], tolerance: number): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

describe('PNG metadata chunk', () => {
  const meta = { seq: 7, captureTime: 1_700_000_000_000.5, label: 'cam', name: 'a.png' };

  it('goes right after IHDR, is read back, and leaves the original PNG when removed', () => {
    const sent = Buffer.concat(payloadParts(makeFrame(png), meta));
    expect(sent.length).toBeGreaterThan(png.length);
    expect([...pngChunks(sent)].map((chunk) => chunk.type).slice(0, 2)).toEqual(['IHDR', PNG_METADATA_CHUNK]);
    expect(readMetadata(sent)).toEqual(meta);
    expect(Buffer.concat(withoutMetadata(sent)).equals(png)).toBe(true);
    expect(makeFrame(sent)).toMatchObject({ type: 'png', width: 40, height: 30 });
  });

  it('leaves the pixels as they were: libpng (sharp) decodes the frame with it the same', async () => {
    const sent = Buffer.concat(payloadParts(makeFrame(png), meta));
    const [withChunk, without] = await Promise.all([sharp(sent).raw().toBuffer(), sharp(png).raw().toBuffer()]);
    expect(withChunk.equals(without)).toBe(true);
  });

  it('is not read, and not removed, when its CRC is wrong', () => {
    const sent = Buffer.concat(payloadParts(makeFrame(png), meta));
    const ours = [...pngChunks(sent)][1]!;
    sent[ours.dataEnd - 2] ^= 1; // inside the JSON
    expect(readMetadata(sent)).toBeUndefined();
    expect(Buffer.concat(withoutMetadata(sent)).equals(sent)).toBe(true);
  });

  it('is found in no PNG that merely lies about its chunks', () => {
    const lying = Buffer.from(png);
    lying.writeUInt32BE(0xfffffff0, 8); // IHDR claims 4 GB
    expect(readMetadata(lying)).toBeUndefined();
    expect(() => payloadParts(makeFrame(lying), meta)).toThrow(expect.objectContaining({ code: 'ERR_NOT_JPEG' }));
    expect(() => payloadParts(makeFrame(Buffer.from('not an image')), meta)).toThrow(expect.objectContaining({ code: 'ERR_NOT_JPEG' }));
  });
});

describe('send --dir into recv --save-dir', () => {
  it('a PNG and a JPEG arrive byte for byte, under their names; a WebP becomes a JPEG', async () => {
    const saved = join(tmp, 'saved-as-is');
    const receiver = await startReceiver(['--save-dir', saved, '--frames', '3']);
    await sendDir(receiver.port, images);
    expect(await receiver.exitCode, receiver.stderr()).toBe(0);
    expect((await visible(saved)).sort()).toEqual(['1.png', '2.jpg', '3.jpg']);
    expect((await readFile(join(saved, '1.png'))).equals(png)).toBe(true);
    expect((await readFile(join(saved, '2.jpg'))).equals(jpeg)).toBe(true);
    expect((await sharp(join(saved, '3.jpg')).metadata()).format).toBe('jpeg');
  });

  it('with --quality 70 every image is re-encoded as a JPEG', async () => {
    const saved = join(tmp, 'saved-q70');
    const receiver = await startReceiver(['--save-dir', saved, '--frames', '3']);
    await sendDir(receiver.port, images, ['--quality', '70']);
    expect(await receiver.exitCode, receiver.stderr()).toBe(0);
    expect((await visible(saved)).sort()).toEqual(['1.jpg', '2.jpg', '3.jpg']);
    const one = await readFile(join(saved, '1.jpg'));
    expect((await sharp(one).metadata()).format).toBe('jpeg');
    expect((await readFile(join(saved, '2.jpg'))).equals(jpeg)).toBe(false);
    // The red half stays red.
    const { data, info } = await sharp(one).raw().toBuffer({ resolveWithObject: true });
    expect(near(rgbAt(data, info.width, 5, 15), RED.slice(0, 3), 24)).toBe(true);
  });
});

describe('PNG frames over every transport', () => {
  it.each([
    ['TCP', []],
    ['UDP', ['--udp']],
    ['legacy UDP', ['--udp', '--legacy']],
  ])('%s: send --dir to recv --save-dir, the PNG byte for byte', async (name, transport) => {
    const saved = join(tmp, `over-${transport.join('')}`);
    // vstream UDP: the sender's end-of-stream datagram comes after the last frame, so a receiver
    // that left at its third frame would make it an ICMP error; it is stopped once the stream ended.
    const frames = name === 'UDP' ? [] : ['--frames', '3'];
    const receiver = vstream(['recv', '--no-window', '--listen', '0', ...transport, '--save-dir', saved, ...frames]);
    const [, port] = await receiver.waitForLine(/listening on port (\d+)/, 'stderr');
    await sendDir(Number(port), images, transport);
    if (name === 'UDP') {
      await receiver.waitForLine(/(disconnected|stream ended) after 3 frames/, 'stderr');
      receiver.kill('SIGINT');
      expect(await receiver.exitCode, receiver.stderr()).toBe(130);
    } else {
      expect(await receiver.exitCode, receiver.stderr()).toBe(0);
    }
    expect((await visible(saved)).sort()).toEqual(['1.png', '2.jpg', '3.jpg']);
    expect((await readFile(join(saved, '1.png'))).equals(png)).toBe(true);
  });
});

describe.skipIf(!HAVE_CV2)('a reference OpenCV receiver (recvall + cv2.imdecode)', () => {
  it('decodes a PNG that send --dir sent with its metadata chunk', async () => {
    const one = join(tmp, 'one-png');
    await mkdir(one, { recursive: true });
    const opaque = await halvesPng(40, 30, RED, [20, 200, 60, 255]);
    await writeFile(join(one, 'a.png'), opaque);
    const server = startProcess('server_recvall.py', PYTHON, ['-u', join(PYTHON_FIXTURES, 'server_recvall.py'), '127.0.0.1']);
    const [, port] = await server.waitForLine(/^listening (\d+)$/, 'stdout');
    await sendDir(Number(port), one, ['--label', 'cam']);
    const [line] = await server.waitForLine(/^0 .*/, 'stdout');
    const [, width, height, b, g, r, bytes] = line.split(' ').map(Number);
    expect([width, height]).toEqual([40, 30]);
    // The means of the two halves: (200 + 20) / 2 red, (30 + 200) / 2 green, (40 + 60) / 2 blue.
    expect(near([r!, g!, b!], [110, 115, 50], 2)).toBe(true);
    // The chunk travelled: the frame is longer than the file.
    expect(bytes).toBeGreaterThan(opaque.length);
  });
});

describe('recv decodes PNG frames', () => {
  it('--format rgb24: the opaque half keeps its colour, the transparent half is black, 16-bit PNGs become 8-bit', async () => {
    const out = join(tmp, 'frames.rgb');
    const receiver = await startReceiver(['--format', 'rgb24', '--output', out, '--frames', '3']);
    const deep = await halvesPng(40, 30, [0, 0, 255, 255], [255, 255, 0, 255], 16);
    const reddish = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#f08020' } }).jpeg({ quality: 95 }).toBuffer();
    await sendRaw(receiver.port, [png, deep, reddish]);
    expect(await receiver.exitCode, receiver.stderr()).toBe(0);
    const pixels = await readFile(out);
    const frame = 40 * 30 * 3;
    expect(pixels.length).toBe(3 * frame);
    expect(rgbAt(pixels, 40, 5, 15)).toEqual(RED.slice(0, 3));
    expect(rgbAt(pixels, 40, 35, 15)).toEqual([0, 0, 0]);
    expect(rgbAt(pixels.subarray(frame), 40, 5, 15)).toEqual([0, 0, 255]);
    expect(rgbAt(pixels.subarray(frame), 40, 35, 15)).toEqual([255, 255, 0]);
    expect(near(rgbAt(pixels.subarray(2 * frame), 40, 20, 15), [0xf0, 0x80, 0x20], 8)).toBe(true);
  });

  it('decodePixels scales a PNG and converts it to gray like a JPEG', async () => {
    const gray = await decodePixels(makeFrame(png), 'gray', { width: 20, height: 15 });
    expect(gray.length).toBe(20 * 15);
    // BT.601 luma of the red half; black on the other.
    expect(Math.abs(gray[7 * 20 + 2]! - Math.round(0.299 * 200 + 0.587 * 30 + 0.114 * 40))).toBeLessThanOrEqual(2);
    expect(gray[7 * 20 + 17]).toBe(0);
  });

  it('--output MJPEG: a PNG frame is written as a JPEG of its picture, JPEG frames as they came', async () => {
    const out = join(tmp, 'frames.mjpeg');
    const receiver = await startReceiver(['--output', out, '--frames', '2']);
    await sendDir(receiver.port, images, ['--frames', '2']);
    expect(await receiver.exitCode, receiver.stderr()).toBe(0);
    const written = await readFile(out);
    expect(written.subarray(written.length - jpeg.length).equals(jpeg)).toBe(true);
    const first = written.subarray(0, written.length - jpeg.length);
    expect(first.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
    const { data, info } = await sharp(first).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([40, 30]);
    expect(near(rgbAt(data, 40, 5, 15), RED.slice(0, 3), 16)).toBe(true);
    expect(near(rgbAt(data, 40, 35, 15), [0, 0, 0], 16)).toBe(true);
  });
});

describe('hostile PNGs', () => {
  /** PNGs a peer can send: a lying IHDR, just over the limit, truncated, a bad CRC, a signature and nothing. */
  async function hostile(): Promise<Buffer[]> {
    return [
      pngClaimingSize(png, 100_000, 100_000),
      pngClaimingSize(png, 8192, 8193),
      pngClaimingSize(png, 0, 30),
      png.subarray(0, Math.floor(png.length / 2)),
      png.subarray(0, 30),
      pngWithBadCrc(png),
      Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    ];
  }

  it.each([
    ['--format rgb24 --output FILE', ['--format', 'rgb24'], 40 * 30 * 3],
    ['--output FILE (MJPEG)', [], undefined],
  ])('never bring down recv %s; the good PNG after them is written', async (_name, args, frameBytes) => {
    const bad = await hostile();
    const out = join(tmp, `hostile-${args.length}.out`);
    const saved = join(tmp, `hostile-${args.length}-saved`);
    const receiver = await startReceiver([...args, '--output', out, '--save-dir', saved, '--json', '--frames', String(bad.length + 1)]);
    await sendRaw(receiver.port, [...bad, png]);
    expect(await receiver.exitCode, receiver.stderr()).toBe(0);
    const stderr = receiver.stderr();
    expect(stderr).not.toMatch(/internal error|\n\s+at /);
    expect(stderr).toMatch(/ERR_PIXEL_LIMIT/);
    expect(stderr).toMatch(/over the pixel limit/);
    const written = await readFile(out);
    if (frameBytes !== undefined) {
      // A damaged PNG whose header is sound is decoded as far as it goes (sharp's failOn
      // 'none', as for JPEGs: a damaged live frame is still worth showing); the rest are dropped.
      expect(written.length % frameBytes).toBe(0);
      const last = written.subarray(written.length - frameBytes);
      expect(rgbAt(last, 40, 5, 15)).toEqual(RED.slice(0, 3));
      const dropped = Number(/, (\d+) dropped/.exec(stderr)?.[1]);
      expect(written.length / frameBytes + dropped).toBe(bad.length + 1);
    } else {
      // The last JPEG in the stream is the good PNG's picture.
      const last = written.subarray(written.lastIndexOf(Buffer.from([0xff, 0xd8, 0xff])));
      const { data } = await sharp(last).raw().toBuffer({ resolveWithObject: true });
      expect(near(rgbAt(data, 40, 5, 15), RED.slice(0, 3), 16)).toBe(true);
    }
    // Every frame is still saved as it came, and listed.
    expect(await visible(saved)).toHaveLength(bad.length + 1);
    expect(receiver.output('stdout').filter((line) => line.startsWith('{'))).toHaveLength(bad.length + 1);
  });
});

describe.skipIf(!HAVE_XVFB)('the window under Xvfb', () => {
  let x: Xvfb;
  beforeAll(async () => {
    x = await startXvfb({ width: 1280, height: 720 });
  });
  afterAll(async () => x?.stop());

  it('shows a PNG frame: its colour where opaque, black where transparent', async () => {
    const shown = vstream(['recv', '--listen', '0'], { env: x.env });
    const [, port] = await shown.waitForLine(/listening on port (\d+)/, 'stderr');
    const picture = await halvesPng(320, 240, [30, 160, 220, 255], CLEAR_WHITE);
    await sendRaw(Number(port), [picture]);
    await shown.waitForLine(/disconnected after 1 frames?/, 'stderr');

    const { stdout: ids } = await run('xdotool', ['search', '--pid', String(shown.child.pid)], { env: x.env });
    const id = ids.trim().split('\n').at(-1)!;
    const { stdout: geometry } = await run('xdotool', ['getwindowgeometry', '--shell', id], { env: x.env });
    const value = (key: string) => Number(new RegExp(`^${key}=(\\d+)`, 'm').exec(geometry)![1]);
    expect([value('WIDTH'), value('HEIGHT')]).toEqual([320, 240]);
    // Drawn once its decode finishes: look until it is on screen, within a deadline. The lower
    // half, under the status overlay.
    const deadline = Date.now() + 15_000;
    let left: [number, number, number] = [0, 0, 0];
    let right: [number, number, number] = [255, 255, 255];
    while (Date.now() < deadline) {
      const shot = await x.screenshot();
      left = shot.at(value('X') + 80, value('Y') + 180);
      right = shot.at(value('X') + 240, value('Y') + 180);
      if (near(left, [30, 160, 220], 6) && near(right, [0, 0, 0], 6)) break;
    }
    expect(left).toEqual([30, 160, 220]);
    expect(right).toEqual([0, 0, 0]);
    shown.kill('SIGTERM');
    expect(await shown.exitCode).toBe(143);
  });
});

/** The files a user sees: not the save journal of a resumable transfer. */
async function visible(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !name.startsWith('.'));
}
