/**
 * send --http PORT: a sender serves its own frames to browsers and MJPEG clients, beside its
 * transport; with --listen, an HTTP client starts the source as a viewer does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readMetadata } from '../src/frame/metadata.js';
import { runFfmpeg } from './helpers/ffmpeg.js';
import { stopAll, vstream } from './helpers/process.js';
import { fetchBody, open, PartReader } from './helpers/mjpeg-http.js';

afterEach(async () => {
  await stopAll();
});

describe('send --http', () => {
  it('with --listen: the first HTTP client starts the source, ffmpeg reads the frames, a TCP viewer gets them too', async () => {
    const send = vstream(['send', '--pattern', '--size', '320x240', '--listen', '0', '--bind', '127.0.0.1', '--http', '0', '--label', 'Desk Cam']);
    const [, httpPort] = await send.waitForLine(/serving HTTP on 127\.0\.0\.1:(\d+)/, 'stderr');
    const [, tcpPort] = await send.waitForLine(/listening for viewers on 127\.0\.0\.1:(\d+)/, 'stderr');
    const base = `http://127.0.0.1:${httpPort}`;
    // Listed before its first frame: the source waits for a viewer.
    const before = JSON.parse((await fetchBody(`${base}/streams.json`)).body.toString()) as { streams: { name: string; frames: number }[] };
    expect(before.streams).toMatchObject([{ name: 'desk-cam', frames: 0 }]);
    const out = await runFfmpeg(['-f', 'mpjpeg', '-i', `${base}/stream`, '-frames:v', '15', '-f', 'framemd5', '-']);
    expect(out.toString().split('\n').filter((line) => /^0,/.test(line))).toHaveLength(15);

    const viewerRecv = vstream(['recv', '--no-window', '--connect', `127.0.0.1:${tcpPort}`, '--json', '--frames', '5', '-q']);
    expect(await viewerRecv.exitCode).toBe(0);
    expect(viewerRecv.output('stdout')).toHaveLength(5);

    // The sender's own frames, as they come from the source: no metadata segment yet.
    const reader = new PartReader(await open(`${base}/stream/desk-cam`));
    const part = (await reader.next())!;
    expect(part.headers['content-type']).toBe('image/jpeg');
    expect(readMetadata(part.body)).toBeUndefined();
    expect(Number(part.headers['x-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
    reader.close();
    const list = JSON.parse((await fetchBody(`${base}/streams.json`)).body.toString()) as { streams: { fps: number; width: number; latencyMs: number }[] };
    expect(list.streams[0]).toMatchObject({ width: 320 });
    expect(list.streams[0]!.fps).toBeGreaterThan(0);
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
  });

  it('is refused with --serve, which has no one stream to show', async () => {
    const send = vstream(['send', '--serve', '.', '--listen', '0', '--http', '0']);
    expect(await send.exitCode).toBe(2);
    expect(send.stderr()).toContain('--http cannot be used with --serve');
  });
});
