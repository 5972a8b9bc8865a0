/**
 * The shared secret both ends hold (`--secret-file PATH`, `VSTREAM_SECRET`, `--secret TEXT`):
 * read once, and every key any path uses is derived from it with HKDF-SHA256 under a label of
 * its own, so that the TCP handshake, each UDP stream and the HTTP login never share a key.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';

/**
 * Fewer bytes than this are a password, not a secret: nothing here slows a guesser down, so a
 * short one would be found offline from one recorded handshake.
 */
export const MIN_SECRET_BYTES = 16;
/** A secret file is a line of text; anything much larger is the wrong file. */
const MAX_SECRET_FILE_BYTES = 4096;
/** Salt of every derivation: fixed, so that both ends derive the same keys with nothing exchanged. */
const SALT = Buffer.from('vstream secret v1');

export type SecretOrigin = '--secret-file' | 'VSTREAM_SECRET' | '--secret';

export class Secret {
  private constructor(
    /** The secret's bytes: the text as given, without the line end of a file. */
    private readonly material: Buffer,
    readonly origin: SecretOrigin,
  ) {}

  static fromText(text: string, origin: SecretOrigin): Secret {
    const trimmed = text.replace(/\r?\n$/, '');
    if (/[\r\n]/.test(trimmed)) throw new UsageError(`the secret from ${origin} is more than one line`, 'ERR_SECRET');
    const material = Buffer.from(trimmed, 'utf8');
    if (material.length < MIN_SECRET_BYTES) {
      throw new UsageError(`the secret from ${origin} is ${material.length} bytes: at least ${MIN_SECRET_BYTES} are needed (make one with: vstream secret)`, 'ERR_SECRET');
    }
    return new Secret(material, origin);
  }

  /**
   * `length` bytes of key for `purpose` (e.g. `tls-psk`, `udp`), bound to `context` (a stream
   * id, a nonce): HKDF-SHA256, RFC 5869. Two purposes or contexts never give related keys.
   */
  derive(purpose: string, length = 32, context: Buffer = Buffer.alloc(0)): Buffer {
    const info = Buffer.concat([Buffer.from(`vstream ${purpose}\0`), context]);
    return Buffer.from(hkdfSync('sha256', this.material, SALT, info, length));
  }

  /** A short name for the secret in log lines (not the secret, nor a key: its own derivation). */
  get fingerprint(): string {
    return this.derive('fingerprint', 4).toString('hex');
  }
}

/** A new secret for `vstream secret`: 256 random bits as 43 characters of base64url (text-safe, one line). */
export function newSecretText(): string {
  return randomBytes(32).toString('base64url');
}

export interface SecretSources {
  secretFile?: string | undefined;
  /** `--secret TEXT`. */
  secret?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Told once of a secret that others on this machine may read (`--secret` shows in `ps`, a file readable by all). */
  warn?: (message: string) => void;
}

/**
 * The secret the options and environment name, or undefined when none does. `--secret-file`
 * wins over `--secret`, which wins over `VSTREAM_SECRET`; two options at once are a usage error.
 */
export function loadSecret(sources: SecretSources): Promise<Secret | undefined> {
  // Every path of one run (its transport, its HTTP viewer) asks: the file is read, and its
  // warnings said, once.
  const key = JSON.stringify([sources.secretFile, sources.secret, (sources.env ?? process.env).VSTREAM_SECRET]);
  let loaded = loadedSecrets.get(key);
  if (!loaded) {
    loaded = readSecret(sources);
    loadedSecrets.set(key, loaded);
    // A failed read is not remembered: a test or a caller may fix the file and ask again.
    loaded.catch(() => loadedSecrets.delete(key));
  }
  return loaded;
}

const loadedSecrets = new Map<string, Promise<Secret | undefined>>();

async function readSecret({ secretFile, secret, env = process.env, warn }: SecretSources): Promise<Secret | undefined> {
  if (secretFile !== undefined && secret !== undefined) throw new UsageError('--secret-file and --secret cannot be used together', 'ERR_SECRET');
  if (secretFile !== undefined) return Secret.fromText(await readSecretFile(secretFile, warn), '--secret-file');
  if (secret !== undefined) {
    warn?.('--secret shows the secret to every user of this machine (ps); use --secret-file or VSTREAM_SECRET');
    return Secret.fromText(secret, '--secret');
  }
  const fromEnv = env.VSTREAM_SECRET;
  if (fromEnv !== undefined && fromEnv !== '') return Secret.fromText(fromEnv, 'VSTREAM_SECRET');
  return undefined;
}

async function readSecretFile(path: string, warn: ((message: string) => void) | undefined): Promise<string> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`cannot use --secret-file ${path}: not a file`, 'ERR_SECRET');
    if (info.size > MAX_SECRET_FILE_BYTES) throw new UsageError(`cannot use --secret-file ${path}: ${info.size} bytes is not a secret (make one with: vstream secret)`, 'ERR_SECRET');
    // As ssh says of a private key: others who can read it can be either end.
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) warn?.(`--secret-file ${path} can be read by other users (chmod 600 ${path})`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`cannot read --secret-file ${path}: ${reason}`, 'ERR_SECRET');
  }
  return text;
}
