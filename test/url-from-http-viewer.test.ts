/**
 * One vstream watching another over HTTP: `send --url` reads a `recv --http` server's MJPEG
 * (µStreamer's form: Content-Length and X-Timestamp per part) and relays it to a third process.
 * The relay passes the first receiver's JPEGs through byte for byte and keeps the original
 * capture times, so the last receiver's latency is measured from the first camera.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHttpViewer } from './helpers/mjpeg-http.js';
import { jsonLines, startReceiver, stopAll, vstream } from './helpers/process.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-url-http-'));
});
afterEach(() => stopAll());
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function savedFiles(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).filter((name) => !name.startsWith('.'));
  return new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))] as const)));
}

describe.each([
  { path: '/stream', name: "µStreamer's URL" },
  { path: '/?action=stream', name: "mjpg-streamer's URL" },
])('send --url of a vstream recv --http server ($name)', ({ path }) => {
  it('relays its JPEGs byte for byte with their original capture times', async () => {
    const first = await mkdtemp(join(tmp, 'first-'));
    const last = await mkdtemp(join(tmp, 'last-'));
    // The first receiver keeps every frame it got, as the files it also serves over HTTP: with
    // --frames no sink skips a live frame, so every frame served is also saved.
    const { recv: viewer, httpPort } = await startHttpViewer(['--save-dir', first, '--json', '--frames', '100000']);
    vstream(['send', '--pattern', '--size', '320x240', '--fps', '30', '--label', 'cam', '--to', `127.0.0.1:${viewer.port}`, '-q']);

    const relayed = await startReceiver(['--bind', '127.0.0.1', '--save-dir', last, '--json', '--frames', '20']);
    const relay = vstream(['send', '--url', `http://127.0.0.1:${httpPort}${path}`, '--label', 'relay', '--to', `127.0.0.1:${relayed.port}`]);
    expect(await relayed.exitCode, relayed.stderr()).toBe(0);
    relay.kill('SIGINT');
    expect(await relay.exitCode, relay.stderr()).toBe(130);
    viewer.kill('SIGINT');
    await viewer.exitCode;

    const originals = new Set([...(await savedFiles(join(first, 'cam'))).values()].map((jpeg) => jpeg.toString('base64')));
    const copies = [...(await savedFiles(join(last, 'relay'))).values()];
    expect(copies).toHaveLength(20);
    const foreign = copies.filter((jpeg) => !originals.has(jpeg.toString('base64')));
    expect(foreign.length, 'relayed frames that are not byte for byte a frame the first receiver got').toBe(0);

    // X-Timestamp carries the camera's capture time in seconds with microseconds: the relay's
    // frames are stamped with it, not with the time the relay read them.
    const captured = jsonLines(viewer.stdout()).map((line) => line.captureTime as number);
    const stamped = jsonLines(relayed.stdout()).map((line) => line.captureTime as number);
    expect(stamped).toHaveLength(20);
    for (const time of stamped) {
      const nearest = Math.min(...captured.map((original) => Math.abs(original - time)));
      expect(nearest, `capture time ${time} is none of the camera's`).toBeLessThan(1);
    }
  });
});
