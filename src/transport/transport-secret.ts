/**
 * The secret a transport's settings name, read once per process: a kind that reconnects or
 * serves many peers must not read the file (and warn about it) for each connection.
 */
import { loadSecret, type Secret } from '../secret/secret.js';

/** A kind's settings: `send` and `recv` hand every kind the secret options, whatever its own schema. */
interface SecretSettings {
  warn(message: string): void;
}

interface SecretOptions {
  secretFile?: string | undefined;
  secret?: string | undefined;
}

const loaded = new Map<string, Promise<Secret | undefined>>();

/** The secret named by `--secret-file`, `--secret` or VSTREAM_SECRET; undefined for none. */
export function transportSecret(settings: SecretSettings, env: NodeJS.ProcessEnv = process.env): Promise<Secret | undefined> {
  const { secretFile, secret: text } = settings as SecretOptions;
  const key = JSON.stringify([secretFile ?? null, text ?? null, env.VSTREAM_SECRET ?? null]);
  let secret = loaded.get(key);
  if (!secret) {
    secret = loadSecret({ secretFile, secret: text, env, warn: (message) => settings.warn(message) });
    loaded.set(key, secret);
  }
  return secret;
}
