/**
 * The secret for the UDP kind, read once per process: a sender book opens many senders, and a
 * secret file must not be read (nor warned about) once per stream.
 */
import { loadSecret, type Secret } from '../secret/secret.js';

let loaded: { key: string; secret: Promise<Secret | undefined> } | undefined;

export function udpSecret(settings: { secretFile?: string | undefined; secret?: string | undefined; warn?: (message: string) => void }): Promise<Secret | undefined> {
  const key = JSON.stringify([settings.secretFile, settings.secret, process.env.VSTREAM_SECRET]);
  if (loaded?.key !== key) {
    loaded = { key, secret: loadSecret({ secretFile: settings.secretFile, secret: settings.secret, ...(settings.warn && { warn: settings.warn }) }) };
  }
  return loaded.secret;
}
