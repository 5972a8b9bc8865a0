/**
 * recv --http: the routes, the streams it lists and serves, and streams coming and going,
 * with real senders and a plain HTTP client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readMetadata } from '../src/frame/metadata.js';
import { stopAll, vstream, type TestProcess } from './helpers/process.js';
import { ended, fetchBody, open, PartReader, rawExchange, startHttpViewer } from './helpers/mjpeg-http.js';

afterEach(async () => {
  await stopAll();
});

function pattern(port: number, label: string, extra: string[] = []): TestProcess {
  return vstream(['send', '--pattern', '--size', '320x240', '--fps', '30', '--label', label, '--to', `127.0.0.1:${port}`, '-q', ...extra]);
}

interface StreamsJson {
  streams: { name: string; sender: string; width: number | null; height: number | null; fps: number; latencyMs: number | null; dropped: number; frames: number; urls: { stream: string; snapshot: string } }[];
}

async function streams(base: string): Promise<StreamsJson['streams']> {
  const { status, body, headers } = await fetchBody(`${base}/streams.json`);
  expect(status).toBe(200);
  expect(headers['content-type']).toBe('application/json');
  return (JSON.parse(body.toString()) as StreamsJson).streams;
}

/** Polls /streams.json (each answer an event) until `check` accepts it. */
async function streamsUntil(base: string, check: (list: StreamsJson['streams']) => boolean): Promise<StreamsJson['streams']> {
  for (;;) {
    const list = await streams(base);
    if (check(list)) return list;
    // The next frame's arrival is what changes the answer; asking again costs a millisecond.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('recv --http', () => {
  it('answers every route before a stream exists: the page, an empty list, 503 for the first stream, 404, 405, HEAD', async () => {
    const { base } = await startHttpViewer();
    const page = await fetchBody(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toContain('/streams.json');
    expect(page.body.toString()).not.toMatch(/(?:src|href)="https?:/);
    // An unknown query is the page it was.
    expect((await fetchBody(`${base}/?foo=bar`)).body.equals(page.body)).toBe(true);
    expect(await streams(base)).toEqual([]);
    for (const path of ['/stream', '/snapshot', '/?action=stream', '/?action=snapshot']) {
      const answer = await fetchBody(`${base}${path}`);
      expect(answer.status, path).toBe(503);
      expect(answer.body.toString()).toBe('no stream yet\n');
    }
    const port = Number(new URL(base).port);
    // Sent as they are: an HTTP client library would resolve the dots itself.
    for (const path of ['/nope', '/stream/nope', '/snapshot/nope.jpg', '/stream/..', '/stream/../streams.json', '/../../etc/passwd', '/%2e%2e/etc/passwd', '/stream/a/b']) {
      const answer = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer.split('\r\n', 1)[0], path).toBe('HTTP/1.1 404 Not Found');
    }
    // Targets that are not a path: Node's parser refuses some, the viewer the others.
    for (const target of ['streams.json', '*', 'http://127.0.0.1/streams.json']) {
      const answer = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer.split('\r\n', 1)[0], target).toMatch(/^HTTP\/1\.1 40[04] /);
    }
    const post = await fetchBody(`${base}/`, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await fetchBody(`${base}/`, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(page.body.length);
    expect(head.body.length).toBe(0);
  });

  it('lists each sender under a URL-safe unique name with its figures, and serves its MJPEG and snapshot', async () => {
    const { recv, base } = await startHttpViewer();
    pattern(recv.port, 'Cam One');
    pattern(recv.port, 'Cam One');
    const list = await streamsUntil(base, (l) => l.length === 2 && l.every((s) => s.fps >= 10));
    expect(list.map((s) => s.name).sort()).toEqual(['cam-one', 'cam-one-2']);
    for (const s of list) {
      expect(s.sender).toBe('Cam One');
      expect([s.width, s.height]).toEqual([320, 240]);
      expect(s.latencyMs).not.toBeNull();
      expect(s.urls).toEqual({ stream: `/stream/${s.name}`, snapshot: `/snapshot/${s.name}.jpg` });
    }

    const snapshot = await fetchBody(`${base}/snapshot/cam-one.jpg`);
    expect(snapshot.status).toBe(200);
    expect(snapshot.headers['content-type']).toBe('image/jpeg');
    expect(await sharp(snapshot.body).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
    expect((await fetchBody(`${base}/snapshot`)).status).toBe(200);

    const head = await fetchBody(`${base}/stream/cam-one`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('multipart/x-mixed-replace;boundary=boundarydonotcross');
    expect(head.body.length).toBe(0);
    const snapshotHead = await fetchBody(`${base}/snapshot/cam-one.jpg`, 'HEAD');
    expect([snapshotHead.status, snapshotHead.headers['content-type'], snapshotHead.body.length]).toEqual([200, 'image/jpeg', 0]);
    expect(Number(snapshotHead.headers['content-length'])).toBeGreaterThan(1000);

    const response = await open(`${base}/stream/cam-one`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('multipart/x-mixed-replace;boundary=boundarydonotcross');
    // A raw body to the end of the connection, as MJPEG clients expect, never chunked.
    expect(response.headers['transfer-encoding']).toBeUndefined();
    const reader = new PartReader(response);
    let last = 0;
    let lastSeq = -1;
    for (let i = 0; i < 10; i++) {
      const part = (await reader.next())!;
      expect(part.headers['content-type']).toBe('image/jpeg');
      // The boundary follows each image at once: a client may show it without waiting for the next.
      expect(part.after).toBe('\r\n--boundarydonotcross\r\n');
      const meta = readMetadata(part.body)!;
      expect(meta.label).toBe('Cam One');
      // X-Timestamp is the capture time, in seconds, of this very frame.
      const stamp = Number(part.headers['x-timestamp']);
      expect(stamp).toBeCloseTo(meta.captureTime / 1000, 5);
      expect(stamp).toBeGreaterThan(last);
      expect(meta.seq).toBeGreaterThan(lastSeq);
      last = stamp;
      lastSeq = meta.seq;
    }
    reader.close();
    // Chrome shows a part once the next part's headers have come: it gets them at once, ahead.
    const chrome = await open(`${base}/stream/cam-one`, 'GET', { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' });
    let text = '';
    for await (const chunk of chrome) {
      text += (chunk as Buffer).toString('latin1');
      if (text.split('--boundarydonotcross').length > 3) break;
    }
    chrome.destroy();
    const parts = text.split('--boundarydonotcross\r\n');
    expect(parts[0]).toBe('');
    expect(parts[1]!.startsWith('Content-Type: image/jpeg\r\n\r\n\xff\xd8')).toBe(true);
    expect(parts[1]!.endsWith('\xff\xd9\r\n')).toBe(true);
    expect(text).not.toContain('Content-Length');
    const mjpg = new PartReader(await open(`${base}/?action=stream`));
    expect((await mjpg.next())!.body.subarray(0, 2).toString('hex')).toBe('ffd8');
    mjpg.close();
  });

  it('drops a stream whose sender left from the list, and ends its clients when it does not come back', async () => {
    const { recv, base } = await startHttpViewer();
    const staying = pattern(recv.port, 'stays');
    const leaving = pattern(recv.port, 'leaves', ['--frames', '60']);
    await streamsUntil(base, (l) => l.length === 2);
    const reader = new PartReader(await open(`${base}/stream/leaves`));
    expect(await reader.next()).toBeDefined();
    expect(await leaving.exitCode).toBe(0);
    await recv.waitForLine(/leaves \(.*\) disconnected/, 'stderr');
    expect((await streams(base)).map((s) => s.name)).toEqual(['stays']);
    await ended(reader.response);
    while (await reader.next());
    expect(reader.done).toBe(true);
    expect(staying.exitInfo).toBeUndefined();
  });

  it('keeps the clients of a stream whose sender comes back under the same name', async () => {
    const { recv, base } = await startHttpViewer();
    const first = pattern(recv.port, 'cam', ['--frames', '60']);
    await streamsUntil(base, (l) => l.length === 1);
    const reader = new PartReader(await open(`${base}/stream/cam`));
    expect(await reader.next()).toBeDefined();
    expect(await first.exitCode).toBe(0);
    await recv.waitForLine(/cam \(.*\) disconnected/, 'stderr');
    pattern(recv.port, 'cam');
    // The same response goes on with the new sender's frames: its seq starts again from 0.
    let seq = Infinity;
    let part = await reader.next();
    let restarted = false;
    while (part && !restarted) {
      const next = readMetadata(part.body)!.seq;
      restarted = next < seq && seq !== Infinity;
      seq = next;
      if (!restarted) part = await reader.next();
    }
    expect(part, 'the response ended instead').toBeDefined();
    expect(reader.done).toBe(false);
    reader.close();
  });
});
