/**
 * Child processes for tests, synchronised on their output instead of on timers: spawn a
 * command, then `await proc.waitForLine(/listening on port (\d+)/)` or `await proc.exited`.
 *
 * Every process started here is remembered until it has exited; call `stopAll()` in
 * `afterEach` so that a failing test never leaves a receiver or a Python peer behind.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type StreamName = 'stdout' | 'stderr';

export interface WaitOptions {
  /** Which output to watch. Default: both. */
  stream?: StreamName | 'both';
  /** Give up (reject) after this long; a guard against a hung peer, not a synchronisation. Default 20 s. */
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
  /** Set once `exited` has resolved. */
  exitInfo: ExitInfo | undefined;
  private readonly waiters = new Set<Waiter>();

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    running.add(this);
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      const source = this.child[stream]!;
      source.setEncoding('utf8');
      source.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        for (const text of parts) this.addLine(stream, text);
      });
      source.on('end', () => {
        if (partial !== '') this.addLine(stream, partial);
        partial = '';
      });
    }
    // stdin may be closed by the child before we write to it; that is not a test failure.
    this.child.stdin?.on('error', () => {});
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.on('error', (err) => {
        // spawn failure (ENOENT, ...): no 'close' may follow.
        this.addLine('stderr', `[spawn error] ${err.message}`);
        this.finish({ code: null, signal: null }, resolve);
      });
      this.child.on('close', (code, signal) => this.finish({ code, signal }, resolve));
    });
  }

  /** Lines of one stream, or of both. */
  output(stream: StreamName | 'both' = 'both'): string[] {
    return this.lines.filter((l) => stream === 'both' || l.stream === stream).map((l) => l.text);
  }

  /** The first line (at or after `from`) matching `pattern`; rejects if the process exits first. */
  async waitForLine(pattern: RegExp, options: WaitOptions = {}): Promise<RegExpExecArray> {
    const [match] = await this.waitForLines(pattern, 1, options);
    return match!;
  }

  /** The first `count` lines (at or after `from`) matching `pattern`. */
  waitForLines(pattern: RegExp, count: number, options: WaitOptions = {}): Promise<RegExpExecArray[]> {
    const stream = options.stream ?? 'both';
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? 20_000;
    const matches = (): RegExpExecArray[] => {
      const found: RegExpExecArray[] = [];
      const texts = this.output(stream);
      for (let i = from; i < texts.length && found.length < count; i++) {
        pattern.lastIndex = 0;
        const m = pattern.exec(texts[i]!);
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

/** Spawns `command args` with piped stdio. */
export function startProcess(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): TestProcess {
  return new TestProcess(name, command, args, options);
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
