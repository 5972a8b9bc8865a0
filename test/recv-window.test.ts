/**
 * The whole path as users run it: `vstream send --pattern` into `vstream recv` showing an SDL
 * window on a private X server, checked by screenshot against the frames recv also saved.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { HAVE_XVFB, startXvfb, type Xvfb } from './helpers/xvfb.js';
import { stopAll, vstream } from './helpers/process.js';
import { FFMPEG } from './helpers/ffmpeg.js';

const run = promisify(execFile);

describe.skipIf(!HAVE_XVFB)('vstream recv window under Xvfb', () => {
  let x: Xvfb;
  beforeAll(async () => {
    x = await startXvfb({ width: 1280, height: 720 });
  });
  afterAll(async () => x?.stop());
  afterEach(() => stopAll());

  /** Position and size of the one window a process owns. */
  async function windowOf(pid: number): Promise<{ id: string; x: number; y: number; width: number; height: number }> {
    const { stdout: ids } = await run('xdotool', ['search', '--pid', String(pid)], { env: x.env });
    const id = ids.trim().split('\n').at(-1)!;
    const { stdout } = await run('xdotool', ['getwindowgeometry', '--shell', id], { env: x.env });
    const value = (key: string) => Number(new RegExp(`^${key}=(\\d+)`, 'm').exec(stdout)![1]);
    return { id, x: value('X'), y: value('Y'), width: value('WIDTH'), height: value('HEIGHT') };
  }

  it('shows the streamed pattern; the screen matches the last frame received; q quits with exit 0', async () => {
    const saved = await mkdtemp(join(tmpdir(), 'vstream-window-'));
    const env = { ...x.env, VSTREAM_FFMPEG: FFMPEG };
    const shown = vstream(['recv', '--listen', '0', '--save-dir', saved], { env });
    const [, port] = await shown.waitForLine(/listening on port (\d+)/, 'stderr');
    const send = vstream(['send', '--pattern', '--size', '320x240', '--frames', '20', '--label', 'pat', '--to', `[::1]:${port}`], { env });
    expect(await send.exitCode).toBe(0);
    await shown.waitForLine(/pat \(\[::1\]:\d+\) disconnected after 20 frames/, 'stderr');

    // The pattern is a live source: if a save is slower than two frame intervals (a loaded CI
    // machine), the save-dir drops the older waiting frame, so fewer than 20 may be saved; the
    // newest always is.
    const files = (await readdir(join(saved, 'pat'))).sort();
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThanOrEqual(20);
    const last = await sharp(join(saved, 'pat', files.at(-1)!)).removeAlpha().raw().toBuffer();

    const win = await windowOf(shown.child.pid!);
    expect([win.width, win.height]).toEqual([320, 240]);
    // The newest frame is drawn once its decode finishes: look until it is on screen, within a
    // deadline (a condition being awaited, not a fixed delay).
    const deadline = Date.now() + 15_000;
    let difference = Infinity;
    let distinctColours = 0;
    while (Date.now() < deadline) {
      const shot = await x.screenshot();
      // Compare the lower half of the window: the status overlay sits at the top.
      let sum = 0;
      let n = 0;
      const colours = new Set<number>();
      for (let y = 130; y < 240; y += 2) {
        for (let px = 0; px < 320; px += 2) {
          const [r, g, b] = shot.at(win.x + px, win.y + y);
          const i = (y * 320 + px) * 3;
          sum += Math.abs(r - last[i]!) + Math.abs(g - last[i + 1]!) + Math.abs(b - last[i + 2]!);
          n += 3;
          colours.add((r >> 5) * 64 + (g >> 5) * 8 + (b >> 5));
        }
      }
      difference = sum / n;
      distinctColours = colours.size;
      if (difference < 8) break;
    }
    // testsrc2 is colourful: a black or stale window fails one of these.
    expect(distinctColours).toBeGreaterThan(8);
    expect(difference).toBeLessThan(8);

    await run('xdotool', ['windowfocus', '--sync', win.id, 'key', 'q'], { env: x.env });
    expect(await shown.exitCode).toBe(0);
    // Every frame recv took in was saved unless a sink dropped it (the save-dir or the window
    // may skip older live frames), and every such frame counts as dropped here.
    const summary = /received (\d+) frames .*?(?:, (\d+) here\))?$/m.exec(shown.stderr());
    expect(summary, shown.stderr()).not.toBeNull();
    const received = Number(summary![1]);
    const droppedHere = Number(summary![2] ?? 0);
    expect(files.length).toBeLessThanOrEqual(received);
    expect(files.length).toBeGreaterThanOrEqual(received - droppedHere);
  });
});
