/**
 * vstream UDP with a shared secret: every datagram is the plain datagram (udp-datagram.ts)
 * encrypted and authenticated with AES-256-GCM. Layout and rules in docs/PROTOCOL.md ("Shared
 * secret: UDP"):
 *
 *   0  "VS"  2  version 2  3  reserved 0  4  stream salt (16)  20  nonce (12)  32  ciphertext  ..  tag (16)
 *
 * The 32 clear bytes are the associated data. The key is per stream (HKDF of the secret with
 * the salt as context), so the nonce (4 random bytes + a 64-bit counter) never repeats under
 * one key. Only authenticated datagrams touch any state, so forgeries cost the receiver one
 * key derivation and one failed tag check, nothing more.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Secret } from '../secret/secret.js';
import { UDP_MAGIC } from './udp-datagram.js';

export const SEALED_VERSION = 2;
export const SALT_BYTES = 16;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SEALED_HEADER_SIZE = 4 + SALT_BYTES + NONCE_BYTES;
/** Bytes a sealed datagram adds to the plain one it carries. */
export const SEAL_OVERHEAD = SEALED_HEADER_SIZE + TAG_BYTES;
/** Counters this far behind the newest accepted one are dropped as replays, as IPsec and DTLS do. */
export const REPLAY_WINDOW = 1024;
/**
 * The counter stays an exact JS number. At a million datagrams a second a stream would need
 * 285 years to reach it, so the sender simply refuses to go on.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;
const TWO_32 = 0x1_0000_0000;

/** Whether a datagram says it is sealed (magic and version), before anything is checked. */
export function isSealed(datagram: Buffer): boolean {
  return datagram.length >= 4 && datagram.readUInt16BE(0) === UDP_MAGIC && datagram[2] === SEALED_VERSION;
}

/** The per-stream key: HKDF-SHA256, info `vstream udp\0` + salt. */
export function streamKey(secret: Secret, salt: Buffer): Buffer {
  return secret.derive('udp', 32, salt);
}

/** Seals one sender's datagrams: one salt (so one key) per sender run. */
export class DatagramSealer {
  readonly salt: Buffer;
  private readonly key: Buffer;
  private readonly prefix: Buffer;
  private counter = 0;

  constructor(secret: Secret, salt: Buffer = randomBytes(SALT_BYTES), prefix: Buffer = randomBytes(4)) {
    if (salt.length !== SALT_BYTES || prefix.length !== 4) throw new RangeError('salt must be 16 bytes and the nonce prefix 4');
    this.salt = salt;
    this.prefix = prefix;
    this.key = streamKey(secret, salt);
  }

  /** Datagrams sealed so far (the next counter). */
  get sealed(): number {
    return this.counter;
  }

  /** One sealed datagram holding `parts` (a plain datagram, header first), as one buffer. */
  seal(parts: readonly Buffer[]): Buffer {
    if (this.counter >= MAX_COUNTER) throw new RangeError('this stream has sealed 2^53 datagrams: start a new one');
    const head = Buffer.allocUnsafe(SEALED_HEADER_SIZE);
    head.writeUInt16BE(UDP_MAGIC, 0);
    head[2] = SEALED_VERSION;
    head[3] = 0;
    this.salt.copy(head, 4);
    const nonce = head.subarray(4 + SALT_BYTES);
    this.prefix.copy(nonce, 0);
    nonce.writeUInt32BE(Math.floor(this.counter / TWO_32), 4);
    nonce.writeUInt32BE(this.counter >>> 0, 8);
    this.counter += 1;
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(head);
    const out: Buffer[] = [head];
    for (const part of parts) out.push(cipher.update(part));
    out.push(cipher.final(), cipher.getAuthTag());
    return Buffer.concat(out);
  }
}

/**
 * Which of the last REPLAY_WINDOW counters have been seen (RFC 4303 3.4.3's sliding window):
 * newer ones move it forward, older ones inside it are accepted once, older still are dropped.
 */
export class ReplayWindow {
  private highest = -1;
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32);

  /** Whether `counter` would be new; does not record it (only an authenticated datagram may). */
  fresh(counter: number): boolean {
    if (counter > this.highest) return true;
    if (this.highest - counter >= REPLAY_WINDOW) return false;
    return !this.has(counter);
  }

  accept(counter: number): void {
    if (counter > this.highest) {
      if (counter - this.highest >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let c = this.highest + 1; c < counter; c++) this.clear(c);
      this.highest = counter;
    }
    const slot = counter % REPLAY_WINDOW;
    this.bits[slot >>> 5]! |= 1 << (slot & 31);
  }

  private has(counter: number): boolean {
    const slot = counter % REPLAY_WINDOW;
    return (this.bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  private clear(counter: number): void {
    const slot = counter % REPLAY_WINDOW;
    this.bits[slot >>> 5]! &= ~(1 << (slot & 31));
  }
}

/** Why a datagram was dropped: `plain` (no seal: a sender without the secret), `forged` (wrong secret, altered, made up), `replayed`. */
export type SealDrop = 'plain' | 'forged' | 'replayed';
export type OpenResult = { plain: Buffer; drop?: undefined } | { plain?: undefined; drop: SealDrop };

interface KnownStream {
  key: Buffer;
  window: ReplayWindow;
}

/** Default streams whose key and replay window are kept; past it, the least recently heard is forgotten. */
export const DEFAULT_KNOWN_STREAMS = 1024;

/** Opens sealed datagrams from any number of senders sharing the secret. */
export class DatagramOpener {
  /** By salt (hex), in order of last use: a Map keeps insertion order. */
  private readonly known = new Map<string, KnownStream>();
  readonly drops: Record<SealDrop, number> = { plain: 0, forged: 0, replayed: 0 };

  constructor(
    private readonly secret: Secret,
    private readonly maxKnown = DEFAULT_KNOWN_STREAMS,
  ) {}

  open(datagram: Buffer): OpenResult {
    const result = this.tryOpen(datagram);
    if (result.drop) this.drops[result.drop] += 1;
    return result;
  }

  private tryOpen(datagram: Buffer): OpenResult {
    if (!isSealed(datagram)) return { drop: 'plain' };
    if (datagram.length < SEAL_OVERHEAD || datagram[3] !== 0) return { drop: 'forged' };
    const head = datagram.subarray(0, SEALED_HEADER_SIZE);
    const salt = datagram.subarray(4, 4 + SALT_BYTES);
    const nonce = datagram.subarray(4 + SALT_BYTES, SEALED_HEADER_SIZE);
    const high = nonce.readUInt32BE(4);
    // A sender never goes past MAX_COUNTER, so a larger one is made up.
    if (high >= 0x20_0000) return { drop: 'forged' };
    const counter = high * TWO_32 + nonce.readUInt32BE(8);
    const id = salt.toString('hex');
    const stream = this.known.get(id);
    if (stream && !stream.window.fresh(counter)) return { drop: 'replayed' };
    const key = stream?.key ?? streamKey(this.secret, salt);
    const plain = decrypt(key, nonce, head, datagram.subarray(SEALED_HEADER_SIZE, datagram.length - TAG_BYTES), datagram.subarray(datagram.length - TAG_BYTES));
    if (!plain) return { drop: 'forged' };
    // Only now does the datagram earn state: forgeries can neither fill nor evict the table.
    const entry = stream ?? { key, window: new ReplayWindow() };
    entry.window.accept(counter);
    this.known.delete(id);
    this.known.set(id, entry);
    if (this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value!);
    return { plain };
  }
}

function decrypt(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const body = decipher.update(ciphertext);
  try {
    return Buffer.concat([body, decipher.final()]);
  } catch {
    return undefined;
  }
}
