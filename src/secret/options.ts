/**
 * The options that name the shared secret, the same on `send` and `recv`. A transport or sink
 * that protects its path with it says so (`usesSecret`); the commands refuse a secret for any
 * path that would ignore it, rather than send in the clear what the user meant to keep private.
 */
import { value } from '../options/schema.js';

export const secretOptions = {
  secretFile: value('--secret-file <path>', 'shared secret: authenticate and encrypt every connection with it (also VSTREAM_SECRET; make one with: vstream secret)', (text) => text),
  secret: value('--secret <text>', 'the shared secret itself, for quick tests (visible in ps: prefer --secret-file)', (text) => text),
};

/** Whether these settings or the environment name a secret (without reading it). */
export function secretAsked(settings: { secretFile?: string | undefined; secret?: string | undefined }, env: NodeJS.ProcessEnv = process.env): boolean {
  return settings.secretFile !== undefined || settings.secret !== undefined || (env.VSTREAM_SECRET !== undefined && env.VSTREAM_SECRET !== '');
}
