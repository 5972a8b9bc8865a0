/**
 * Child processes for tests, synchronised on their output instead of on timers: spawn a
 * command (or the real `vstream` binary), then `await proc.waitForLine(/listening on port (\d+)/)`
 * or `await proc.exited`.
 *
 * Every process started here is remembered until it has exited; call `stopAll()` in
 * `afterEach` so that a failing test never leaves a receiver or a Python peer behind.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';

/** The compiled CLI as users run it (dist/, so rebuild before the end-to-end tests). */
export const VSTREAM_BIN = fileURLToPath(new URL('../../bin/vstream.js', import.meta.url));

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type StreamName = 'stdout' | 'stderr';

export interface WaitOptions {
  /** Which output to watch. Default: both. */
  stream?: StreamName | 'both';
  /**
   * Give up (reject) after this long; a guard against a hung peer, not a synchronisation.
   * Default 50 s: under the per-test limit, so that the failure shows the process's output.
   */
  timeoutMs?: number;
  /** Only lines from this index on (of the watched stream, or of all lines with 'both'). */
  from?: number;
}

interface Line {
  stream: StreamName;
  text: string;
}

interface Waiter {
  check: () => boolean;
  fail: (err: Error) => void;
}

const running = new Set<TestProcess>();

export class TestProcess {
  readonly child: ChildProcess;
  /** Every complete line so far, in arrival order (stdout and stderr interleaved as read). */
  readonly lines: Line[] = [];
  /** Resolves once the process has exited and its stdout and stderr are fully read. */
  readonly exited: Promise<ExitInfo>;
  /** The exit code as a shell reports it: the code, or 128 + the number of the killing signal. */
  readonly exitCode: Promise<number>;
  /** Set once `exited` has resolved. */
  exitInfo: ExitInfo | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly stdoutChunks: Buffer[] = [];
  private stderrText = '';

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    running.add(this);
    for (const stream of ['stdout', 'stderr'] as const) {
      // stdout may be megabytes of binary frames: bytes are kept as they came, and a line is
      // cut only where a chunk has a newline, so a long line costs no repeated concatenation.
      const decoder = new StringDecoder('utf8');
      let partial: string[] = [];
      const source = this.child[stream];
      if (!source) continue;
      source.on('data', (chunk: Buffer) => {
        const text = decoder.write(chunk);
        if (stream === 'stdout') this.stdoutChunks.push(chunk);
        else this.stderrText += text;
        const last = text.lastIndexOf('\n');
        if (last === -1) {
          partial.push(text);
          return;
        }
        const parts = (partial.join('') + text.slice(0, last)).split('\n');
        partial = [text.slice(last + 1)];
        for (const line of parts) this.addLine(stream, line);
      });
      source.on('end', () => {
        const tail = decoder.end();
        if (stream === 'stderr') this.stderrText += tail;
        const rest = partial.join('') + tail;
        if (rest !== '') this.addLine(stream, rest);
        partial = [];
      });
    }
    // stdin may be closed by the child before we write to it; that is not a test failure.
    this.child.stdin?.on('error', () => {});
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.on('error', (err) => {
        // spawn failure (ENOENT, ...): no 'close' may follow.
        this.stderrText += `[spawn error] ${err.message}\n`;
        this.addLine('stderr', `[spawn error] ${err.message}`);
        this.finish({ code: null, signal: null }, resolve);
      });
      this.child.on('close', (code, signal) => this.finish({ code, signal }, resolve));
    });
    this.exitCode = this.exited.then(({ code, signal }) => code ?? 128 + (signal ? constants.signals[signal] : 0));
  }

  /** All of stdout so far, as bytes. */
  stdout(): Buffer {
    return Buffer.concat(this.stdoutChunks);
  }

  /** All of stderr so far. */
  stderr(): string {
    return this.stderrText;
  }

  /** Lines of one stream, or of both. */
  output(stream: StreamName | 'both' = 'both'): string[] {
    return this.lines.filter((l) => stream === 'both' || l.stream === stream).map((l) => l.text);
  }

  /** The first line (at or after `from`) matching `pattern`; rejects if the process exits first. */
  async waitForLine(pattern: RegExp, options: WaitOptions | StreamName = {}): Promise<RegExpExecArray> {
    const [match] = await this.waitForLines(pattern, 1, typeof options === 'string' ? { stream: options } : options);
    return match!;
  }

  /** The first `count` lines (at or after `from`) matching `pattern`. */
  waitForLines(pattern: RegExp, count: number, options: WaitOptions = {}): Promise<RegExpExecArray[]> {
    const stream = options.stream ?? 'both';
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? 50_000;
    // Scans each line once however often it is checked: binary stdout makes many lines.
    const found: RegExpExecArray[] = [];
    let scanned = 0;
    let watched = 0;
    const matches = (): RegExpExecArray[] => {
      for (; scanned < this.lines.length && found.length < count; scanned++) {
        const line = this.lines[scanned]!;
        if (stream !== 'both' && line.stream !== stream) continue;
        if (watched++ < from) continue;
        pattern.lastIndex = 0;
        const m = pattern.exec(line.text);
        if (m) found.push(m);
      }
      return found;
    };
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          const found = matches();
          if (found.length < count) return false;
          done();
          resolve(found);
          return true;
        },
        fail: (err) => {
          done();
          reject(err);
        },
      };
      const timer = setTimeout(
        () => waiter.fail(this.describeFailure(`no ${count} line(s) matching ${pattern} on ${stream} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      if (waiter.check()) return;
      if (this.exitInfo) {
        waiter.fail(this.describeFailure(`exited (${describeExit(this.exitInfo)}) before ${count} line(s) matching ${pattern} on ${stream}`));
        return;
      }
      this.waiters.add(waiter);
    });
  }

  /** Writes to the child's stdin. */
  write(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Sends a signal if the process is still running. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
    }
  }

  /** An Error naming the process, with the tail of its output, for assertion messages. */
  describeFailure(what: string): Error {
    const tail = this.lines
      .slice(-30)
      .map((l) => `  ${l.stream === 'stderr' ? 'err' : 'out'}| ${l.text}`)
      .join('\n');
    return new Error(`${this.name}: ${what}\n--- last output ---\n${tail || '  (none)'}`);
  }

  private addLine(stream: StreamName, text: string): void {
    this.lines.push({ stream, text });
    for (const waiter of [...this.waiters]) waiter.check();
  }

  private finish(info: ExitInfo, resolve: (info: ExitInfo) => void): void {
    if (this.exitInfo) return;
    this.exitInfo = info;
    running.delete(this);
    resolve(info);
    for (const waiter of [...this.waiters]) {
      if (!waiter.check()) waiter.fail(this.describeFailure(`exited (${describeExit(info)}) before the awaited output`));
    }
  }
}

export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

/** Spawns `command args` with piped stdio; stdin stays open for `write()`. */
export function startProcess(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): TestProcess {
  return new TestProcess(name, command, args, options);
}

export interface StartOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** What the child reads on stdin; without it stdin is closed at once. */
  input?: Buffer | NodeJS.ReadableStream;
  cwd?: string;
}

/** Spawns `command args` fed `input` (or nothing) on stdin. */
export function start(command: string, args: readonly string[], options: StartOptions = {}, name = basename(command)): TestProcess {
  const proc = new TestProcess(name, command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd });
  const stdin = proc.child.stdin!;
  if (Buffer.isBuffer(options.input)) stdin.end(options.input);
  else if (options.input) options.input.pipe(stdin);
  else stdin.end();
  return proc;
}

/** Starts `vstream ARGS` with `node`. */
export function vstream(args: readonly string[], options: StartOptions = {}): TestProcess {
  return start(process.execPath, [VSTREAM_BIN, ...args], options, `vstream ${args[0] ?? ''}`.trim());
}

/** Starts a headless receiver on a free port and waits until it listens. */
export async function startReceiver(args: readonly string[], options: StartOptions = {}): Promise<TestProcess & { port: number }> {
  const receiver = vstream(['recv', '--no-window', '--listen', '0', ...args], options);
  const [, port] = await receiver.waitForLine(/listening on .*?(\d+)(?:\s|$)/, 'stderr');
  return Object.assign(receiver, { port: Number(port) });
}

/**
 * Ends every process started by this module that is still running: SIGTERM, then SIGKILL
 * for those still alive after `graceMs`. Resolves when all have exited.
 */
export async function stopAll(graceMs = 3000): Promise<void> {
  const procs = [...running];
  for (const proc of procs) proc.kill('SIGTERM');
  await Promise.all(
    procs.map(async (proc) => {
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([proc.exited, forced]);
      clearTimeout(timer);
      await proc.exited;
    }),
  );
}

/** The JSON lines a process printed (`recv --json`), each parsed. */
export function jsonLines(out: Buffer | string): Record<string, unknown>[] {
  return out
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
