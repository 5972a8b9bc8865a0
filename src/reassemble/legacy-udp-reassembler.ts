/**
 * Rebuilds images from the reference UDP programs' datagrams: per image, one datagram holding
 * the JPEG's length as a C `long` (8 bytes little-endian on 64-bit Linux/macOS, 4 on 32-bit ARM
 * and Windows), then the JPEG in 1024-byte datagrams. Nothing numbers the datagrams, so the
 * rules below (docs/PROTOCOL.md, "Legacy UDP") decide from lengths and silence alone what
 * belongs to which image, and never deliver one that is not whole.
 *
 * Pure and deterministic, like UdpReassembler: no sockets, no timers; the caller passes the
 * time with each datagram and calls `sweep` on a timer, because silence is the only
 * end-of-image and end-of-stream signal the format has.
 *
 * Every image a sender starts must get exactly one reply, delivered or not, because the
 * reference client blocks in `recvfrom` until it has one: results say where to reply for images
 * that are not delivered; the caller replies to delivered ones itself (maybe only once processed).
 */
import type { LossCounters } from '../frame/frame.js';
import { readLegacyLength } from '../frame/legacy-udp.js';
import type { Problem } from '../problems.js';
import { EVICT_IDLE_MS, senderToReplace } from './make-room.js';
import { isPng, PNG_SIGNATURE } from '../frame/png-chunks.js';

/** Phone and webcam JPEGs stay far below this; the legacy format has no other limit. */
export const DEFAULT_LEGACY_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** The size the reference client cuts images into; used to estimate lost datagrams. */
const REFERENCE_PIECE_BYTES = 1024;
/** What a held piece costs beyond its payload (Buffer object, list slot), as vstream UDP counts it. */
const PIECE_OVERHEAD_BYTES = 256;

export interface LegacyUdpReassemblerOptions {
  /** Largest image accepted; a length datagram announcing more is not taken for one. Default 16 MiB. */
  maxFrameBytes?: number;
  /** An incomplete image is abandoned after this long without a datagram from its sender (ms). Default 1000. */
  maxAgeMs?: number;
  /** Senders tracked at once (see `push`). Default 64. */
  maxSources?: number;
  /** Bytes of incomplete images held over all senders, each piece counted as its payload + 256. Default 4 x maxFrameBytes. */
  maxPendingBytes?: number;
}

/** Where a sender's datagrams come from, and so where its replies go. */
export interface LegacySender {
  address: string;
  port: number;
  /** `host:port`, as reported. */
  peer: string;
}

/** A snapshot of one sender: later datagrams do not change it. */
export interface LegacySourceState {
  sender: LegacySender;
  /** Whole images completed. */
  frames: number;
  loss: LossCounters;
}

export interface LegacyPushResult {
  /** The whole image this datagram completed, with its sender as it stands after it. */
  frame?: { payload: Buffer; source: LegacySourceState };
  /** A sender to reply to: it finished an image that is not a whole JPEG, which is dropped. */
  reply?: LegacySender;
  /** A sender forgotten to make room for this datagram's new one (maxSources). */
  replaced?: LegacySourceState;
  /** This datagram's new sender was ignored: every slot holds a sender delivering images. */
  refused?: Problem;
}

export interface LegacySweepResult {
  /** Senders whose unfinished image was abandoned for silence: each waits for its reply. */
  replies: LegacySender[];
  /** Senders silent for the idle time, forgotten, with their final counters. */
  gone: LegacySourceState[];
}

type Attempt =
  | { kind: 'idle' }
  | { kind: 'receiving'; expected: number; chunks: Buffer[]; received: number; largestPiece: number; charged: number }
  /** Datagrams to throw away until the next length datagram: an image already counted as dropped, or pieces without a length. */
  | { kind: 'discarding'; counted: boolean };

interface Source {
  readonly key: string;
  readonly sender: LegacySender;
  frames: number;
  readonly loss: LossCounters;
  lastHeard: number;
  attempt: Attempt;
}

export class LegacyUdpReassembler {
  readonly maxFrameBytes: number;
  readonly maxAgeMs: number;
  readonly maxSources: number;
  readonly maxPendingBytes: number;
  /** In order of the last datagram heard, least recent first: Map keeps insertion order. */
  private readonly sources = new Map<string, Source>();
  private heldBytes = 0;
  private refusedCount = 0;

  constructor(options: LegacyUdpReassemblerOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LEGACY_MAX_FRAME_BYTES;
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.maxSources = options.maxSources ?? 64;
    this.maxPendingBytes = Math.max(options.maxPendingBytes ?? 4 * this.maxFrameBytes, this.maxFrameBytes);
  }

  /** Bytes charged for incomplete images, over all senders (at most `maxPendingBytes`). */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /** Datagrams of new senders ignored because every slot held a sender delivering images. */
  get refusedDatagrams(): number {
    return this.refusedCount;
  }

  get sourceCount(): number {
    return this.sources.size;
  }

  /**
   * One datagram from `sender`, received at `now` (ms). A new sender beyond maxSources replaces
   * the longest silent that has delivered no image, else one silent for EVICT_IDLE_MS; if every
   * sender is delivering, the datagram is ignored (`refused`).
   */
  push(datagram: Buffer, sender: LegacySender, now: number): LegacyPushResult {
    const result: LegacyPushResult = {};
    if (datagram.length === 0) return result;
    const source = this.sourceFor(sender, now, result);
    if (!source) return result;
    source.lastHeard = now;
    this.sources.delete(source.key);
    this.sources.set(source.key, source);
    const length = readLegacyLength(datagram, this.maxFrameBytes);
    const attempt = source.attempt;

    if (attempt.kind === 'receiving') {
      const remaining = attempt.expected - attempt.received;
      // An exact fit is the last piece even if it could be read as a length: a JPEG ends in
      // FF D9, which as the top byte of a little-endian integer is negative anyway.
      if (datagram.length === remaining || (length === undefined && datagram.length < remaining)) {
        this.append(source, attempt, datagram, result);
        return result;
      }
      if (length === undefined) {
        // More bytes than announced: a duplicated or stray datagram got mixed in.
        this.drop(source, 0);
        source.attempt = { kind: 'discarding', counted: true };
        return result;
      }
      // A new length mid-image: the sender gave up on this one (or the length was duplicated).
      if (attempt.received > 0) this.drop(source, missingPieces(attempt));
      else this.release(source);
    }
    if (length !== undefined) {
      source.attempt = { kind: 'receiving', expected: length, chunks: [], received: 0, largestPiece: 0, charged: 0 };
    } else if (source.attempt.kind === 'idle' && (datagram.length === 8 || datagram.length === 4)) {
      // A length out of range (over maxFrameBytes, zero, negative): refuse that image.
      countDropped(source, 0);
      source.attempt = { kind: 'discarding', counted: true };
    } else if (source.attempt.kind === 'idle') {
      // Pieces with no length before them: it was lost. The sender still waits for a reply.
      source.attempt = { kind: 'discarding', counted: false };
    }
    return result;
  }

  /**
   * Abandons the images of senders silent for maxAgeMs, and forgets senders silent for
   * `idleMs` (at least maxAgeMs); call on a timer.
   */
  sweep(now: number, idleMs: number): LegacySweepResult {
    const result: LegacySweepResult = { replies: [], gone: [] };
    for (const source of [...this.sources.values()]) {
      const silent = now - source.lastHeard;
      const attempt = source.attempt;
      if (attempt.kind !== 'idle' && silent >= this.maxAgeMs) {
        if (attempt.kind === 'receiving') this.drop(source, missingPieces(attempt));
        // The length datagram of these pieces was lost.
        else if (!attempt.counted) countDropped(source, 1);
        source.attempt = { kind: 'idle' };
        result.replies.push(source.sender);
      }
      if (silent >= Math.max(idleMs, this.maxAgeMs)) result.gone.push(this.forget(source));
    }
    return result;
  }

  /** Forgets every sender (the receiver is closing), with their final counters. */
  forgetAll(): LegacySourceState[] {
    return [...this.sources.values()].map((source) => this.forget(source));
  }

  private append(source: Source, attempt: Extract<Attempt, { kind: 'receiving' }>, piece: Buffer, result: LegacyPushResult): void {
    // Charged more than its payload, so that a flood of tiny pieces costs what it really costs.
    const cost = piece.length + PIECE_OVERHEAD_BYTES;
    this.makeRoom(cost);
    if (source.attempt !== attempt) return;
    attempt.chunks.push(piece);
    attempt.received += piece.length;
    attempt.largestPiece = Math.max(attempt.largestPiece, piece.length);
    attempt.charged += cost;
    this.heldBytes += cost;
    if (attempt.received === attempt.expected) this.complete(source, attempt, result);
  }

  private complete(source: Source, attempt: Extract<Attempt, { kind: 'receiving' }>, result: LegacyPushResult): void {
    const payload = attempt.chunks.length === 1 ? attempt.chunks[0]! : Buffer.concat(attempt.chunks, attempt.received);
    this.release(source);
    // Without sequence numbers a swapped or foreign piece can only show at the ends.
    if (!isWholeJpeg(payload) && !isWholePng(payload)) {
      countDropped(source, 0);
      result.reply = source.sender;
      return;
    }
    source.loss.framesReceived += 1;
    source.frames += 1;
    result.frame = { payload, source: snapshot(source) };
  }

  /** Abandons the image being received, counting it (and its missing datagrams) as dropped. */
  private drop(source: Source, lostDatagrams: number): void {
    this.release(source);
    countDropped(source, lostDatagrams);
  }

  /** Frees the pieces of the image being received, if any. */
  private release(source: Source): void {
    if (source.attempt.kind === 'receiving') this.heldBytes -= source.attempt.charged;
    source.attempt = { kind: 'idle' };
  }

  /** Keeps incomplete images within `maxPendingBytes` by dropping the longest silent ones. */
  private makeRoom(bytes: number): void {
    while (this.heldBytes + bytes > this.maxPendingBytes) {
      let victim: Source | undefined;
      for (const source of this.sources.values()) {
        if (source.attempt.kind !== 'receiving' || source.attempt.received === 0) continue;
        if (!victim || source.lastHeard < victim.lastHeard) victim = source;
      }
      if (!victim) return;
      this.drop(victim, 0);
      victim.attempt = { kind: 'discarding', counted: true };
    }
  }

  private sourceFor(sender: LegacySender, now: number, result: LegacyPushResult): Source | undefined {
    const key = `${sender.address}|${sender.port}`;
    const known = this.sources.get(key);
    if (known) return known;
    if (this.sources.size >= this.maxSources) {
      const victim = senderToReplace(
        this.sources.values(),
        (source) => source.frames > 0,
        (source) => now - source.lastHeard > EVICT_IDLE_MS,
      );
      if (!victim) {
        this.refusedCount += 1;
        result.refused = {
          code: 'ERR_TOO_MANY_SENDERS',
          message: `new legacy UDP sender ${sender.peer} ignored: all ${this.maxSources} senders are delivering images`,
        };
        return undefined;
      }
      result.replaced = this.forget(victim);
    }
    const source: Source = {
      key,
      sender: { ...sender },
      frames: 0,
      loss: { framesReceived: 0, framesDropped: 0, datagramsLost: 0 },
      lastHeard: now,
      attempt: { kind: 'idle' },
    };
    this.sources.set(key, source);
    return source;
  }

  /** Drops what the sender had of an image, counted as lost, and removes it. */
  private forget(source: Source): LegacySourceState {
    const attempt = source.attempt;
    if (attempt.kind === 'receiving' && attempt.received > 0) this.drop(source, missingPieces(attempt));
    else this.release(source);
    this.sources.delete(source.key);
    return snapshot(source);
  }
}

function countDropped(source: Source, lostDatagrams: number): void {
  source.loss.framesDropped += 1;
  source.loss.datagramsLost += lostDatagrams;
}

function missingPieces(attempt: Extract<Attempt, { kind: 'receiving' }>): number {
  const piece = attempt.largestPiece || REFERENCE_PIECE_BYTES;
  return Math.ceil((attempt.expected - attempt.received) / piece);
}

function snapshot(source: Source): LegacySourceState {
  return { sender: source.sender, frames: source.frames, loss: { ...source.loss } };
}

/** Starts with SOI (FF D8) and ends with EOI (FF D9). */
function isWholeJpeg(jpeg: Buffer): boolean {
  const n = jpeg.length;
  return n >= 4 && jpeg[0] === 0xff && jpeg[1] === 0xd8 && jpeg[n - 2] === 0xff && jpeg[n - 1] === 0xd9;
}

/** IEND with its CRC, the same 12 bytes at the end of every PNG. */
const PNG_END = Buffer.from('0000000049454e44ae426082', 'hex');

/** Starts with the PNG signature and ends with IEND. */
function isWholePng(png: Buffer): boolean {
  return isPng(png) && png.length >= PNG_SIGNATURE.length + PNG_END.length && png.subarray(png.length - PNG_END.length).equals(PNG_END);
}
