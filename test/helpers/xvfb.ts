/** A private X server for window tests, and screenshots of it. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export const HAVE_XVFB = spawnSync('sh', ['-c', 'command -v Xvfb'], { encoding: 'utf8' }).status === 0;

export interface Xvfb {
  /** `:N` */
  display: string;
  width: number;
  height: number;
  /** An environment for children: DISPLAY set, Wayland and forced SDL drivers removed. */
  env: NodeJS.ProcessEnv;
  /** The whole screen as RGB24, through ffmpeg's x11grab. */
  screenshot(): Promise<Screenshot>;
  stop(): Promise<void>;
}

export interface Screenshot {
  width: number;
  height: number;
  rgb: Buffer;
  at(x: number, y: number): [number, number, number];
}

/**
 * Starts Xvfb on a display it picks itself: with -displayfd it writes the number once it accepts
 * connections, so there is neither a race for a number nor a wait for the socket.
 */
export async function startXvfb({ width = 1280, height = 720 } = {}): Promise<Xvfb> {
  const child: ChildProcess = spawn(
    'Xvfb',
    ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-nocursor'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${stderr.trim().split('\n').at(-1)}`)));
  });
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display };
  delete env.WAYLAND_DISPLAY;
  delete env.SDL_VIDEODRIVER;
  return {
    display,
    width,
    height,
    env,
    screenshot: () => screenshot(display, width, height),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function screenshot(display: string, width: number, height: number): Promise<Screenshot> {
  const args = ['-loglevel', 'error', '-f', 'x11grab', '-draw_mouse', '0', '-video_size', `${width}x${height}`, '-i', display];
  const rgb = await new Promise<Buffer>((resolve, reject) => {
    const ffmpeg = spawn('ffmpeg', [...args, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let err = '';
    ffmpeg.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    ffmpeg.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    ffmpeg.once('error', reject);
    ffmpeg.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg x11grab: ${err}`))));
  });
  if (rgb.length !== width * height * 3) throw new Error(`screenshot has ${rgb.length} bytes, expected ${width * height * 3}`);
  return {
    width,
    height,
    rgb,
    at: (x, y) => {
      const i = (y * width + x) * 3;
      return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
    },
  };
}
