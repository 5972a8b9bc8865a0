/** How `--save-dir` keeps the files of a folder transfer: as they came, under their own names. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg, makePng } from './helpers/jpeg.js';
import { metadataSegment } from '../src/frame/metadata.js';
import { receivedFrame } from '../src/frame/received-frame.js';
import { MAX_NAME_BYTES, safeOwnFileName } from '../src/sink/safe-file-name.js';
import { SaveDirSink } from '../src/sink/save-dir.js';
import { folderFileMeta } from '../src/transport/folder-connection.js';
import { frameRecord } from '../src/sink/json-lines.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vstream-folder-save-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

function folderFrame(data: Buffer, name: string, dirname = 'trip', index = 0) {
  const meta = folderFileMeta({ index, dirname, sourceType: 'jpg', name, data, startedAt: Date.now() });
  return receivedFrame(data, { connectionId: 1, peer: '127.0.0.1:5000' }, index, undefined, meta);
}

describe('safeOwnFileName', () => {
  it('keeps the own suffix, makes the rest safe, and puts the copy number before the suffix', () => {
    expect(safeOwnFileName('../../etc/passwd')).toBe('etcpasswd');
    expect(safeOwnFileName('holiday.JPEG')).toBe('holiday.JPEG');
    expect(safeOwnFileName('holiday.JPEG', 2)).toBe('holiday-2.JPEG');
    expect(safeOwnFileName('notes.txt', 1)).toBe('notes-1.txt');
    expect(safeOwnFileName('CON.txt')).toBe('_CON.txt');
    expect(safeOwnFileName('a\u0000b\u001b[2J.png')).toBe('ab[2J.png');
    expect(safeOwnFileName('.png')).toBe('png');
    expect(safeOwnFileName('....')).toBe('frame');
    const long = safeOwnFileName(`${'é'.repeat(200)}.jpeg`, 3);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(long).toMatch(/^é+-3\.jpeg$/);
  });
});

describe('SaveDirSink with files of a folder transfer', () => {
  it('writes them byte for byte, metadata segment and all, under their own names in DIR/<dirname>/', async () => {
    const sink = await SaveDirSink.open(root);
    const jpeg = await makeJpeg();
    // A JPEG that happens to carry a vstream segment is still the file as it was: nothing is removed.
    const withSegment = Buffer.concat([jpeg.subarray(0, 2), metadataSegment({ seq: 3, captureTime: 1, name: 'other.jpg' }), jpeg.subarray(2)]);
    const png = await makePng();
    await sink.write(folderFrame(withSegment, 'a.jpg'));
    // A PNG named .jpg keeps its name: the file is saved as it was sent.
    await sink.write(folderFrame(png, 'b.jpg', 'trip', 1));
    await sink.write(folderFrame(Buffer.from('plain text'), 'readme.txt', 'trip', 2));
    await sink.write(folderFrame(jpeg, 'a.jpg', 'trip', 3));
    await sink.write(folderFrame(Buffer.alloc(0), 'empty', 'trip', 4));
    await sink.write(folderFrame(jpeg, '../../escape.jpg', '../..', 5));
    await sink.close();
    expect((await readdir(root)).sort()).toEqual(['sender', 'trip']);
    expect((await readdir(join(root, 'trip'))).sort()).toEqual(['a-1.jpg', 'a.jpg', 'b.jpg', 'empty', 'readme.txt']);
    expect((await readFile(join(root, 'trip', 'a.jpg'))).equals(withSegment)).toBe(true);
    expect((await readFile(join(root, 'trip', 'a-1.jpg'))).equals(jpeg)).toBe(true);
    expect((await readFile(join(root, 'trip', 'b.jpg'))).equals(png)).toBe(true);
    expect(await readFile(join(root, 'trip', 'readme.txt'), 'utf8')).toBe('plain text');
    expect((await readFile(join(root, 'trip', 'empty'))).length).toBe(0);
    expect(await readdir(join(root, 'sender'))).toEqual(['escape.jpg']);
  });

  it('gives a --json line the name, bytes and source type, named by the folder', () => {
    const frame = folderFrame(Buffer.from('x'), 'n.bin', 'trip', 7);
    expect(frameRecord(frame)).toMatchObject({ sender: 'trip', seq: 7, bytes: 1, name: 'n.bin', label: 'trip', sourceType: 'jpg' });
  });
});
