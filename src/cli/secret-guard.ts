/**
 * A secret asked for a path that would not use it is a usage error: streams the user meant to
 * keep private must not go out in the clear because one mode has no encryption.
 */
import { UsageError } from '../errors.js';
import { secretAsked } from '../secret/options.js';
import type { AnyTransport } from '../transport/registry.js';

export function refuseUnusedSecret(settings: { secretFile?: string | undefined; secret?: string | undefined }, transport: AnyTransport, env: NodeJS.ProcessEnv = process.env): void {
  if (!secretAsked(settings, env) || transport.usesSecret) return;
  const named = settings.secretFile !== undefined ? '--secret-file' : settings.secret !== undefined ? '--secret' : 'VSTREAM_SECRET';
  throw new UsageError(`${named}: ${transport.noSecret ?? `${transport.name} connections cannot use a shared secret yet`}`, 'ERR_SECRET');
}
