/**
 * Runs a program that says something and exits: ffmpeg asked about an input (`ffmpeg -i X`
 * with no output), a camera's format listing. What it prints is kept up to a bound (the lines
 * wanted come first), it is killed at a timeout (a camera driver or a URL that hangs must not
 * hold `send` up), and it never fails: a program that cannot be started gives undefined.
 */
import { spawn } from 'node:child_process';

export interface BriefRunOptions {
  timeoutMs: number;
  /** Characters kept of each of stdout and stderr. */
  maxChars: number;
  /** Written to its stdin, which is then closed; without it stdin is closed at once. */
  input?: Buffer;
  /** Its environment; default this process's. */
  env?: NodeJS.ProcessEnv;
}

export interface BriefRun {
  stdout: string;
  stderr: string;
  /** How it ended, for when it printed nothing useful: `exit code 1`, `no answer within 20 s`. */
  ended: string;
}

export function runBriefly(file: string, args: readonly string[], { timeoutMs, maxChars, input, env }: BriefRunOptions): Promise<BriefRun | undefined> {
  return new Promise((resolve) => {
    const run: BriefRun = { stdout: '', stderr: '', ended: '' };
    const child = spawn(file, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], windowsHide: true, ...(env && { env }) });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    if (input) {
      // ffmpeg stops reading once it knows enough: the rest of the write fails, harmlessly.
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (run.stdout.length < maxChars) run.stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (run.stderr.length < maxChars) run.stderr += chunk;
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      run.ended = signal === 'SIGKILL' ? `no answer within ${timeoutMs / 1000} s` : signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve(run);
    });
  });
}
