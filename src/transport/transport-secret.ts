/**
 * The secret a transport's settings name. `send` and `recv` hand every kind the secret options,
 * whatever its own schema; loadSecret reads the file (and warns) once per run however many
 * senders, streams or connections ask.
 */
import { loadSecret, type Secret } from '../secret/secret.js';

interface SecretSettings {
  warn?: (message: string) => void;
}

interface SecretOptions {
  secretFile?: string | undefined;
  secret?: string | undefined;
}

/** The secret named by `--secret-file`, `--secret` or VSTREAM_SECRET; undefined for none. */
export function transportSecret(settings: SecretSettings, env: NodeJS.ProcessEnv = process.env): Promise<Secret | undefined> {
  const { secretFile, secret } = settings as SecretOptions;
  const { warn } = settings;
  return loadSecret({ secretFile, secret, env, ...(warn && { warn }) });
}
