/**
 * recv's sinks run side by side: an `--output` whose reader stopped reading holds back neither
 * `--save-dir` nor the others, and the live frames it skips count as dropped here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll, vstream, VSTREAM_BIN } from './helpers/process.js';
import { FFMPEG } from './helpers/ffmpeg.js';

const env = { VSTREAM_FFMPEG: FFMPEG };
const children: ChildProcess[] = [];

afterEach(async () => {
  await stopAll();
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('recv with a stalled --output', () => {
  it('goes on saving while the output is stuck, and counts the frames the output skipped as dropped here', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vstream-sinks-'));
    // Spawned by hand: the stdout pipe must really stop being read.
    const recv = spawn(process.execPath, [VSTREAM_BIN, 'recv', '--no-window', '--listen', '0', '--bind', '127.0.0.1', '--output', '-', '--save-dir', dir, '--stats'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(recv);
    let stderr = '';
    const wakes: Array<() => void> = [];
    recv.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      wakes.splice(0).forEach((wake) => wake());
    });
    const waitFor = (pattern: RegExp) =>
      new Promise<RegExpMatchArray>((resolve) => {
        const check = () => {
          const match = stderr.match(pattern);
          if (match) resolve(match);
          else wakes.push(check);
        };
        check();
      });
    const exited = new Promise<number | null>((resolve) => recv.once('close', (code) => resolve(code)));
    const [, port] = await waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    vstream(['send', '--pattern', '--size', '320x240', '--quality', '95', '--fps', '30', '--frames', '600', '--to', `127.0.0.1:${port}`, '-q'], { env });
    await once(recv.stdout!, 'data');
    recv.stdout!.pause();
    // About 20 KB a frame: the pipe holds a few. Written one sink after another, the saves
    // would stop with the output.
    await waitFor(/, (?:[6-9]\d|\d{3,}) frames/);
    const saved = (await readdir(dir)).length;
    expect(saved).toBeGreaterThanOrEqual(30);
    recv.kill('SIGINT');
    expect(await exited).toBe(130);
    const summary = /received (\d+) frames .*?(\d+) dropped \((\d+) by the sender, (\d+) here\)/.exec(stderr);
    expect(summary, stderr).not.toBeNull();
    expect(Number(summary![4])).toBeGreaterThan(0);
  });
});
