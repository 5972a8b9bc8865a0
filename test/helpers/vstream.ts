/** Runs the real `vstream` binary (compiled dist/, as users run it) and waits on its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const VSTREAM_BIN = fileURLToPath(new URL('../../bin/vstream.js', import.meta.url));

export interface Running {
  child: ChildProcess;
  /** All of stdout so far, as bytes. */
  stdout(): Buffer;
  /** All of stderr so far. */
  stderr(): string;
  /** Resolves with the first stderr/stdout line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, stream?: 'stderr' | 'stdout'): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or 128 + signal number). */
  exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** Kills every process started here that is still running (call from afterEach). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

export function start(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: Buffer | NodeJS.ReadableStream; cwd?: string } = {},
): Running {
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  const out: Buffer[] = [];
  let err = '';
  const waiters: Array<() => void> = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.on('data', (chunk: Buffer) => {
    out.push(chunk);
    notify();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    notify();
  });
  child.stdin!.on('error', () => undefined);
  if (Buffer.isBuffer(options.input)) child.stdin!.end(options.input);
  else if (options.input) (options.input as NodeJS.ReadableStream).pipe(child.stdin!);
  else child.stdin!.end();
  let done = false;
  const exited = once(child, 'close').then(([code, signal]) => {
    running.delete(child);
    done = true;
    notify();
    const signals: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
    return code ?? 128 + (signals[signal as string] ?? 0);
  });
  const stdout = () => Buffer.concat(out);
  return {
    child,
    stdout,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
    waitForLine(pattern, stream = 'stderr') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const text = stream === 'stderr' ? err : stdout().toString();
          const match = text.match(pattern);
          if (match) return resolve(match);
          if (done) return reject(new Error(`process exited before printing ${pattern}; stderr: ${err.trim()}`));
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Starts `vstream ARGS` with `node`. */
export function vstream(args: string[], options: Parameters<typeof start>[2] = {}): Running {
  return start(process.execPath, [VSTREAM_BIN, ...args], options);
}

/** Starts a headless receiver on a free port and waits until it listens. */
export async function startReceiver(args: string[], options: Parameters<typeof start>[2] = {}): Promise<Running & { port: number }> {
  const receiver = vstream(['recv', '--no-window', '--listen', '0', ...args], options);
  const [, port] = await receiver.waitForLine(/listening on .*?(\d+)(?:\s|$)/);
  return Object.assign(receiver, { port: Number(port) });
}
