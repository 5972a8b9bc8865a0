import { readFileSync } from 'node:fs';

/**
 * File descriptors the receiver keeps for itself (sink files, ffmpeg pipes, the window, libuv),
 * so that no number of peers can make its own writes fail with EMFILE.
 */
export const FD_RESERVE = 64;

/** Assumed where the limit cannot be read: the usual Linux and macOS default. */
const FALLBACK_FD_LIMIT = 1024;

/**
 * The soft limit on open files of this process (Node raises it to the hard limit at start-up).
 * Read from /proc/self/limits on Linux; elsewhere the usual default.
 */
export function openFileLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'latin1');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match) return FALLBACK_FD_LIMIT;
    return match[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(match[1]);
  } catch {
    return FALLBACK_FD_LIMIT;
  }
}

/** Connections a receiver may hold open: `wanted`, lowered to what the fd limit leaves after the reserve. */
export function connectionLimit(wanted: number, fdLimit = openFileLimit()): number {
  return Math.max(1, Math.min(wanted, fdLimit - FD_RESERVE));
}
