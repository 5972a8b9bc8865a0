/**
 * The line a listening end without a secret says once: anyone who can reach the port can watch
 * its streams or inject frames into them. Not for loopback, which only this host reaches.
 */
import { isIP } from 'node:net';

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * The warning for a bind address (unset: every address, which counts as open), or none. `can`:
 * what a stranger could do there (an HTTP viewer only shows streams).
 */
export function openNetworkNote(bind: string | undefined, secret: unknown, can = 'watch or inject streams'): string[] {
  if (secret !== undefined || (bind !== undefined && isLoopback(bind))) return [];
  return [`note: no --secret-file: anyone who can reach this port can ${can} (vstream secret makes one)`];
}
