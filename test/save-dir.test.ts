import { describe, it, expect, afterEach, afterAll, beforeAll } from 'vitest';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, stopAll, VSTREAM_BIN, type TestProcess } from './helpers/process.js';
import { makeJpeg, makePng } from './helpers/jpeg.js';
import { mulberry32 } from './helpers/lossy-relay.js';
import { TcpFrameSender } from '../src/transport/tcp-sender.js';
import { cutUtf8, MAX_NAME_BYTES, safeFileName, safeFolderName } from '../src/sink/safe-file-name.js';
import { imageSuffix } from '../src/sink/image-type.js';
import { imageInfo, makeFrame } from '../src/frame/image-info.js';
import { publishExclusive, type Refusal } from '../src/sink/exclusive-file.js';
import { MAX_NAME_COPIES, SaveDirSink } from '../src/sink/save-dir.js';
import type { Problem } from '../src/problems.js';

const bytes = (text: string) => Buffer.byteLength(text);

describe('safe names for peer-chosen text', () => {
  const hostile: Array<[string, string]> = [
    ['200 x é', 'é'.repeat(200)],
    ['150 x ж', 'ж'.repeat(150)],
    ['path traversal', '../../etc/passwd'],
    ['reserved', 'CON.jpg'],
    ['NUL inside', 'a\u0000b'],
    ['only dots', '....'],
    ['emoji', '👩‍👩‍👧‍👦'.repeat(40)],
    ['300 x a', 'a'.repeat(300)],
    ['controls and separators', '\u001b[2J\r\n/\\<>:"|?*\u007f\u0085'],
    ['lone surrogate', 'x\ud800y'],
  ];

  it.each(hostile)('%s: one component of at most 255 bytes of valid UTF-8, with -N and suffix', (_, name) => {
    for (const copy of [0, 1, 12345]) {
      for (const result of [safeFileName(name, 'jpg', copy), safeFolderName(name, copy)]) {
        expect(bytes(result)).toBeLessThanOrEqual(MAX_NAME_BYTES);
        expect(result).not.toMatch(/[\u0000-\u001f\u007f-\u009f/\\<>:"|?*]/);
        expect(result).not.toMatch(/^[.\s]|[.\s]$|\.\./);
        expect(result).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i);
        // Valid UTF-8: no character cut in half, no lone surrogate.
        expect(Buffer.from(result, 'utf8').toString('utf8')).toBe(result);
        expect(result).not.toMatch(/\p{Cs}/u);
      }
      if (copy > 0) expect(safeFileName(name, 'jpg', copy)).toMatch(new RegExp(`-${copy}\\.jpg$`));
    }
  });

  it('keeps what is harmless and cuts at the limit, never inside a character', () => {
    expect(safeFileName('../../etc/passwd', 'jpg')).toBe('etcpasswd.jpg');
    expect(safeFileName('CON.jpg', 'jpg')).toBe('_CON.jpg');
    expect(safeFileName('lpt1', 'png')).toBe('_lpt1.png');
    expect(safeFolderName('aux.tar.gz')).toBe('_aux.tar.gz');
    expect(safeFileName('a\u0000b', 'jpg')).toBe('ab.jpg');
    expect(safeFileName('....', 'jpg')).toBe('frame.jpg');
    expect(safeFolderName('....')).toBe('sender');
    expect(safeFolderName('')).toBe('sender');
    expect(safeFileName('holiday photo.png', 'jpg')).toBe('holiday photo.jpg');
    expect(safeFileName('scan.JPEG', 'png', 2)).toBe('scan-2.png');
    expect(safeFileName('é'.repeat(200), 'jpg')).toBe(`${'é'.repeat(125)}.jpg`);
    expect(safeFileName('é'.repeat(200), 'jpg', 7)).toBe(`${'é'.repeat(124)}-7.jpg`);
    expect(safeFolderName('ж'.repeat(150))).toBe('ж'.repeat(127));
    expect(safeFileName('a'.repeat(300), 'jpg')).toBe(`${'a'.repeat(251)}.jpg`);
    // A family emoji is one grapheme of 25 bytes: ten whole ones fit, never a part of one.
    expect(safeFolderName('👩‍👩‍👧‍👦'.repeat(40))).toBe('👩‍👩‍👧‍👦'.repeat(10));
    expect(cutUtf8('aé', 2)).toBe('a');
    // One cluster longer than the limit (a letter under 200 accents) is cut between code points.
    expect(cutUtf8(`a${'\u0301'.repeat(200)}`, 7)).toBe(`a${'\u0301'.repeat(3)}`);
  });

  it('names the real type of a payload by its magic bytes', async () => {
    expect(imageSuffix(imageInfo(await makeJpeg({ width: 8, height: 8 })).type)).toBe('jpg');
    expect(imageSuffix(imageInfo(await makePng({ width: 8, height: 8 })).type)).toBe('png');
    expect(imageSuffix(imageInfo(Buffer.from('GIF89a')).type)).toBe('bin');
    expect(imageSuffix(imageInfo(Buffer.alloc(0)).type)).toBe('bin');
  });
});

const work = await mkdtemp(join(tmpdir(), 'vstream-save-dir-'));
afterAll(() => rm(work, { recursive: true, force: true }));

async function tmp(name: string): Promise<string> {
  return mkdtemp(join(work, `${name}-`));
}

describe('publishExclusive', () => {
  it('moves on to the next name when the file system refuses one, and leaves no temporary file', async () => {
    const dir = await tmp('refused');
    const refusals: Array<Refusal | undefined> = [];
    const names = ['a'.repeat(300), 'short.jpg'];
    const saved = await publishExclusive(dir, [Buffer.from('abc')], (refused) => {
      refusals.push(refused);
      return names[refusals.length - 1]!;
    });
    expect(saved).toBe('short.jpg');
    expect(refusals).toEqual([undefined, 'invalid']);
    expect(await readdir(dir)).toEqual(['short.jpg']);
  });
});

describe('SaveDirSink', () => {
  it('reports a name the file system refused as a Problem, with the name made safe for a log line', async () => {
    let dir = await tmp('deep-sink');
    while (bytes(dir) < 3800) dir = join(dir, 'd'.repeat(200));
    await mkdir(dir, { recursive: true });
    const problems: Problem[] = [];
    const sink = await SaveDirSink.open(dir, { onProblem: (p) => problems.push(p) });
    const jpeg = await makeJpeg({ width: 8, height: 8 });
    const name = `\u001b[2J${'é'.repeat(200)}`;
    await sink.write({ sender: '127.0.0.1:1', peer: '127.0.0.1:1', connectionId: 1, seq: 0, ...makeFrame(jpeg), meta: { seq: 0, captureTime: 0, name }, receivedAt: 0 });
    await sink.close();
    expect(await readdir(dir)).toEqual(['000000.jpg']);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.code).toBe('ERR_SAVE_NAME');
    expect(problems[0]!.message).toContain('\\x1b[2J');
    expect(problems[0]!.message).not.toContain('\u001b');
  });

  it('numbers a name taken more than MAX_NAME_COPIES times', async () => {
    const dir = await tmp('copies');
    const sink = await SaveDirSink.open(dir);
    const jpeg = await makeJpeg({ width: 8, height: 8 });
    for (let i = 0; i < MAX_NAME_COPIES + 3; i++) {
      await sink.write({ sender: '127.0.0.1:1', peer: '127.0.0.1:1', connectionId: 1, seq: i, ...makeFrame(jpeg), meta: { seq: i, captureTime: 0, name: 'x.png' }, receivedAt: 0 });
    }
    const copies = Array.from({ length: MAX_NAME_COPIES }, (_, i) => `x-${i + 1}.jpg`);
    expect((await readdir(dir)).sort()).toEqual(['000000.jpg', '000001.jpg', ...copies, 'x.jpg'].sort());
  });

  it('survives 2000 frames with random hostile names, labels and payloads (fixed seed): one file each, all inside DIR', async () => {
    const parent = await tmp('fuzz');
    const dir = join(parent, 'dir');
    const random = mulberry32(8);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const pieces = ['/', '\\', '..', '.', ' ', '\u0000', '\u001b[2J', '\u007f', '\u0085', ':*?"<>|', 'é', 'ж', '👩‍👩‍👧‍👦', '\u202e', '\ud800', 'CON', 'nul.', 'a', '000000.jpg', '-1', 'x'.repeat(100)];
    const text = () => {
      let out = '';
      let size = 0;
      const count = Math.floor(random() ** 3 * 300);
      for (let i = 0; i < count && size < 4000; i++) {
        const piece = pick(pieces);
        out += piece;
        size += bytes(piece);
      }
      return out;
    };
    const labels = Array.from({ length: 20 }, text);
    const payloads = [await makeJpeg({ width: 8, height: 8 }), await makePng({ width: 8, height: 8 }), Buffer.from('junk')];
    const sink = await SaveDirSink.open(dir);
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const label = random() < 0.3 ? undefined : random() < 0.8 ? pick(labels) : text();
      const name = random() < 0.5 ? undefined : text();
      const meta = { seq: i, captureTime: 0, ...(label !== undefined && { label }), ...(name !== undefined && { name }) };
      await sink.write({ sender: label ?? '127.0.0.1:1', peer: '127.0.0.1:1', connectionId: 1, seq: i, ...makeFrame(pick(payloads)), meta, receivedAt: 0 });
    }
    await sink.close();
    expect(await readdir(parent)).toEqual(['dir']);
    const files: string[] = [];
    for (const path of await tree(dir)) if ((await lstat(join(dir, path))).isFile()) files.push(path);
    expect(files).toHaveLength(N);
    for (const path of files) {
      expect(path.split('/').length).toBeLessThanOrEqual(2);
      for (const part of path.split('/')) expect(bytes(part)).toBeLessThanOrEqual(MAX_NAME_BYTES);
      expect(path).toMatch(/\.(jpg|png|bin)$/);
    }
  });
});

afterEach(() => stopAll());

interface Recv {
  proc: TestProcess;
  port: number;
}

async function startRecv(dir: string, extra: string[] = []): Promise<Recv> {
  const proc = startProcess('recv', process.execPath, [VSTREAM_BIN, 'recv', '--no-window', '--listen', '0', '--bind', '127.0.0.1', '--json', '--ack', '--save-dir', dir, ...extra]);
  const [, port] = await proc.waitForLine(/listening on 127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  return { proc, port: Number(port) };
}

/**
 * Resolves once recv has printed `count` JSON lines in all. The sinks run side by side, so the
 * line says nothing of the save: the senders wait for recv's reply (`--ack`), which comes once
 * every sink is done with the frame.
 */
function saved(recv: Recv, count: number): Promise<unknown> {
  return recv.proc.waitForLines(/^\{/, count, { stream: 'stdout' });
}

async function sender(port: number, options: { label?: string; metadata?: boolean } = {}): Promise<TcpFrameSender> {
  return TcpFrameSender.connect({ host: '127.0.0.1', port, waitAck: true, ...options });
}

/** Every entry under `dir`, as relative paths, sorted; hidden temporary files included; symlinks not followed. */
async function tree(dir: string, prefix = ''): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    paths.push(path);
    if (entry.isDirectory()) paths.push(...(await tree(dir, path)));
  }
  return paths.sort();
}

describe('recv --save-dir against hostile names and labels', () => {
  let jpeg: Buffer;
  beforeAll(async () => {
    jpeg = await makeJpeg({ width: 32, height: 24 });
  });

  it('saves frames whose names are too long, hostile or empty, and goes on', async () => {
    const dir = await tmp('names');
    const recv = await startRecv(dir);
    const client = await sender(recv.port);
    const names = ['é'.repeat(200), '../../escape.jpg', 'CON.jpg', '....', 'a\u0000b.jpg'];
    for (const name of names) await client.send(makeFrame(jpeg, { name }));
    await saved(recv, names.length);
    await client.close();
    expect(recv.proc.exitInfo).toBeUndefined();
    expect(await tree(dir)).toEqual([`${'é'.repeat(125)}.jpg`, '_CON.jpg', 'ab.jpg', 'escape.jpg', 'frame.jpg'].sort());
    expect(await readdir(join(dir, '..', '..'))).not.toContain('escape.jpg');
    expect((await readFile(join(dir, 'ab.jpg'))).equals(jpeg)).toBe(true);
  });

  it('falls back to a numbered file, and to the "sender" folder, when the file system still refuses a name', async () => {
    // A path near PATH_MAX (4096 bytes): a 255-byte name no longer fits (ENAMETOOLONG), a short one does.
    let dir = await tmp('deep');
    while (bytes(dir) < 3800) dir = join(dir, 'd'.repeat(200));
    await mkdir(dir, { recursive: true });
    const recv = await startRecv(dir);
    const named = await sender(recv.port);
    await named.send(makeFrame(jpeg, { name: 'é'.repeat(200) }));
    await saved(recv, 1);
    const labelled = await sender(recv.port, { label: 'l'.repeat(250) });
    await labelled.send(jpeg);
    await saved(recv, 2);
    await Promise.all([named.close(), labelled.close()]);
    expect(recv.proc.exitInfo).toBeUndefined();
    expect(await tree(dir)).toEqual(['000000.jpg', 'sender', join('sender', '000000.jpg')]);
  });

  it('gives a label of 150 x "ж" a folder cut to 255 bytes', async () => {
    const dir = await tmp('long-label');
    const recv = await startRecv(dir);
    const client = await sender(recv.port, { label: 'ж'.repeat(150) });
    await client.send(jpeg);
    await client.send(jpeg);
    await saved(recv, 2);
    await client.close();
    expect(recv.proc.exitInfo).toBeUndefined();
    const folder = 'ж'.repeat(127);
    expect(await tree(dir)).toEqual([folder, join(folder, '000000.jpg'), join(folder, '000001.jpg')]);
  });

  it('a second concurrent sender labelled "000000.jpg" gets its own folder beside the first one\'s file', async () => {
    const dir = await tmp('label-file');
    const recv = await startRecv(dir);
    const first = await sender(recv.port);
    await first.send(jpeg);
    await saved(recv, 1);
    const second = await sender(recv.port, { label: '000000.jpg' });
    await second.send(jpeg);
    await saved(recv, 2);
    await first.send(jpeg);
    await saved(recv, 3);
    await Promise.all([first.close(), second.close()]);
    expect(recv.proc.exitInfo).toBeUndefined();
    expect(await tree(dir)).toEqual(['000000.jpg', '000000.jpg-1', join('000000.jpg-1', '000000.jpg'), '000001.jpg']);
  });
});

describe('recv --save-dir never loses or replaces a file', () => {
  let jpeg: Buffer;
  beforeAll(async () => {
    jpeg = await makeJpeg({ width: 32, height: 24 });
  });

  it('two runs of a sender one after the other, then a restarted recv: every frame is one file, numbering goes on', async () => {
    const dir = await tmp('restart');
    const run = async (port: number) => {
      const send = startProcess('send', process.execPath, [VSTREAM_BIN, 'send', '--pattern', '--size', '64x48', '--frames', '5', '--label', 'pi', '--wait-ack', '--to', `127.0.0.1:${port}`]);
      expect((await send.exited).code).toBe(0);
    };
    let recv = await startRecv(dir);
    await run(recv.port);
    await saved(recv, 5);
    await run(recv.port);
    await saved(recv, 10);
    recv.proc.kill('SIGINT');
    await recv.proc.exited;
    recv = await startRecv(dir);
    await run(recv.port);
    await saved(recv, 5);
    const files = await readdir(join(dir, 'pi'));
    expect(files.sort()).toEqual(Array.from({ length: 15 }, (_, i) => `${String(i).padStart(6, '0')}.jpg`));
  });

  it('never replaces a file already there, and never writes through a symlink', async () => {
    const dir = await tmp('existing');
    const outside = await tmp('outside');
    const target = join(outside, 'precious.txt');
    await writeFile(target, 'user data');
    await writeFile(join(dir, 'photo.jpg'), 'user photo');
    await writeFile(join(dir, '000000.jpg'), 'user frame');
    await symlink(target, join(dir, 'shot.jpg'));
    await symlink(join(outside, 'nothing-yet.jpg'), join(dir, 'dangling.jpg'));
    await symlink(outside, join(dir, 'cam'));
    const recv = await startRecv(dir);
    const plain = await sender(recv.port);
    for (const name of ['photo.jpg', 'photo.jpg', 'shot.jpg', 'dangling.jpg']) await plain.send(makeFrame(jpeg, { name }));
    await plain.send(jpeg);
    await saved(recv, 5);
    const cam = await sender(recv.port, { label: 'cam' });
    await cam.send(jpeg);
    await saved(recv, 6);
    await Promise.all([plain.close(), cam.close()]);

    expect(await readFile(join(dir, 'photo.jpg'), 'utf8')).toBe('user photo');
    expect(await readFile(join(dir, '000000.jpg'), 'utf8')).toBe('user frame');
    expect(await readFile(target, 'utf8')).toBe('user data');
    expect(await readdir(outside)).toEqual(['precious.txt']);
    expect(await readlink(join(dir, 'shot.jpg'))).toBe(target);
    expect((await lstat(join(dir, 'cam'))).isSymbolicLink()).toBe(true);
    expect(await tree(dir)).toEqual(
      [
        '000000.jpg',
        '000001.jpg',
        'cam',
        'cam-1',
        join('cam-1', '000000.jpg'),
        'dangling-1.jpg',
        'dangling.jpg',
        'photo-1.jpg',
        'photo-2.jpg',
        'photo.jpg',
        'shot-1.jpg',
        'shot.jpg',
      ].sort(),
    );
    for (const file of ['000001.jpg', 'photo-1.jpg', 'photo-2.jpg', 'shot-1.jpg', 'dangling-1.jpg', join('cam-1', '000000.jpg')]) {
      expect((await readFile(join(dir, file))).equals(jpeg), file).toBe(true);
    }
  });

  it('saves a PNG payload as .png and other bytes as .bin', async () => {
    const dir = await tmp('png');
    const png = await makePng({ width: 16, height: 16 });
    const recv = await startRecv(dir);
    const raw = await sender(recv.port, { metadata: false });
    await raw.send(png);
    await raw.send(Buffer.from('not an image at all'));
    await saved(recv, 2);
    await raw.close();
    expect(await tree(dir)).toEqual(['000000.png', '000001.bin']);
    expect((await readFile(join(dir, '000000.png'))).equals(png)).toBe(true);
  });
});

describe('recv --save-dir on a full disk', () => {
  let mountPoint: string | undefined;
  afterEach(() => {
    if (mountPoint !== undefined) spawnSync('umount', [mountPoint]);
    mountPoint = undefined;
  });

  it('exits 8 with one line and leaves only complete files', async (ctx) => {
    const dir = await tmp('full');
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', dir], { encoding: 'utf8' });
    if (mount.status !== 0) {
      // Needs root and a sandbox that allows mounts; the error mapping is then untested here.
      ctx.skip();
      return;
    }
    mountPoint = dir;
    const jpeg = await makeJpeg({ width: 160, height: 120, quality: 95 });
    const recv = await startRecv(dir);
    const client = await sender(recv.port);
    // More than fits; recv stops reading when it exits, so the sender's failure is expected.
    const sending = (async () => {
      for (let i = 0; i < 20; i++) await client.send(jpeg);
    })().catch(() => undefined);
    const exit = await recv.proc.exited;
    await sending;
    client.destroy();
    expect(exit.code).toBe(8);
    const stderr = recv.proc.output('stderr').filter((line) => !/^vstream: (listening on|127\.0\.0\.1:\d+ connected)/.test(line));
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(new RegExp(`^vstream: ${dir}: no space left on the disk \\(ENOSPC\\)`));
    const files = await readdir(dir);
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThan(20);
    // No temporary file left behind, and every saved file complete.
    expect(files.every((f) => /^\d{6}\.jpg$/.test(f))).toBe(true);
    for (const file of files) expect((await readFile(join(dir, file))).equals(jpeg), file).toBe(true);
  });
});

describe('recv --save-dir folder layout', () => {
  it('puts a folder made by the user to use, and files of an unlabelled sender next to it', async () => {
    const dir = await tmp('layout');
    await mkdir(join(dir, 'alpha'));
    await writeFile(join(dir, 'alpha', '000041.jpg'), 'older');
    const jpeg = await makeJpeg({ width: 16, height: 16 });
    const recv = await startRecv(dir);
    const alpha = await sender(recv.port, { label: 'alpha' });
    await alpha.send(jpeg);
    await saved(recv, 1);
    const plain = await sender(recv.port);
    await plain.send(jpeg);
    await saved(recv, 2);
    await Promise.all([alpha.close(), plain.close()]);
    expect(await tree(dir)).toEqual(['000000.jpg', 'alpha', join('alpha', '000041.jpg'), join('alpha', '000042.jpg')]);
  });
});
