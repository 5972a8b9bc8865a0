import { ExitCode, VstreamError } from '../errors.js';
import { escapeUnsafe } from '../text/wire-text.js';

/**
 * The only place an error becomes a message and an exit status. Users see one line; the stack
 * only with VSTREAM_DEBUG=1.
 */
export function handleError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  const debug = process.env.VSTREAM_DEBUG === '1';
  if (err instanceof VstreamError) {
    stderr.write(`vstream: ${oneLine(err.message)}\n`);
    if (debug) stderr.write(`${err.stack ?? ''}\n${describeCause(err.cause)}`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`vstream: internal error: ${oneLine(message)} (run with VSTREAM_DEBUG=1 for details)\n`);
  if (debug && err instanceof Error) stderr.write(`${err.stack ?? ''}\n`);
  return ExitCode.INTERNAL;
}

/** Prints a non-fatal problem (one connection failing, a sink falling back) as one line. */
export function warn(message: string, stderr: NodeJS.WritableStream = process.stderr): void {
  stderr.write(`vstream: ${oneLine(message)}\n`);
}

/**
 * One line, and no control bytes: messages carry peers' text, which should already have been
 * through wireText(); this is the last line of defence for the terminal.
 */
function oneLine(text: string): string {
  return escapeUnsafe(text.replace(/\s*\n\s*/g, ' ').trim());
}

function describeCause(cause: unknown): string {
  if (cause === undefined) return '';
  return `caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`;
}
