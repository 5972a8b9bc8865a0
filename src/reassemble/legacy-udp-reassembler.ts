/**
 * Rebuilds images from the reference UDP programs' datagrams: per image, one datagram holding
 * the image's length as a C `long` (8 bytes little-endian on 64-bit Linux/macOS, 4 on 32-bit ARM
 * and Windows) or as ASCII digits, then the image in 1024-byte datagrams; or a whole JPEG or PNG
 * in one datagram; or a JSON message. Nothing numbers the datagrams, so the rules below
 * (docs/PROTOCOL.md, "Legacy UDP") decide from lengths and silence alone what belongs to which
 * image, and never deliver one that is not whole. Every image dropped is counted and says why
 * (a problem with its own code).
 *
 * Pure and deterministic, like UdpReassembler: no sockets, no timers; the caller passes the
 * time with each datagram and calls `sweep` on a timer, because silence is the only
 * end-of-image and end-of-stream signal the format has.
 *
 * Every image a sender starts must get exactly one reply, delivered or not, because the
 * reference client blocks in `recvfrom` until it has one: results say where to reply for images
 * that are not delivered; the caller replies to delivered ones itself (maybe only once processed).
 */
import type { ErrorCode } from '../errors.js';
import type { LossCounters } from '../frame/frame.js';
import { announcedLength, isWholeImage, readLegacyMessage } from '../frame/legacy-udp.js';
import type { Problem } from '../problems.js';
import { EVICT_IDLE_MS, senderToReplace } from './make-room.js';

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
  /** A JSON message this datagram was, with its sender as it stands after it. */
  message?: { value: unknown; bytes: number; source: LegacySourceState };
  /**
   * A sender to reply to now: it sent a message (reply after handling it), or it finished an
   * image that is not a whole JPEG or PNG, which is dropped.
   */
  reply?: LegacySender;
  /** Why images were dropped by this datagram, one each (also counted in `framesDropped`). */
  problems?: Problem[];
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
  /** Why the abandoned images were dropped, one each. */
  problems: Problem[];
}

type Attempt =
  | { kind: 'idle' }
  | { kind: 'receiving'; expected: number; chunks: Buffer[]; received: number; largestPiece: number; charged: number }
  /**
   * Datagrams to throw away until the next length or whole image: the rest of an image already
   * counted as dropped, or (not `counted`) pieces without a length, `datagrams` and `bytes` of them.
   */
  | { kind: 'discarding'; counted: boolean; datagrams: number; bytes: number };

interface Source {
  readonly key: string;
  readonly sender: LegacySender;
  frames: number;
  /** JSON messages received: a sender of messages is delivering too (see maxSources). */
  messages: number;
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
   * the longest silent that has delivered no image or message, else one silent for
   * EVICT_IDLE_MS; if every sender is delivering, the datagram is ignored (`refused`).
   */
  push(datagram: Buffer, sender: LegacySender, now: number): LegacyPushResult {
    const result: LegacyPushResult = {};
    if (datagram.length === 0) return result;
    const source = this.sourceFor(sender, now, result);
    if (!source) return result;
    source.lastHeard = now;
    this.sources.delete(source.key);
    this.sources.set(source.key, source);
    const announced = announcedLength(datagram);
    const length = announced && announced.value >= 1 && announced.value <= this.maxFrameBytes ? announced.value : undefined;
    const attempt = source.attempt;

    if (attempt.kind === 'receiving') {
      const remaining = attempt.expected - attempt.received;
      // An exact fit is the last piece even if it could be read as a binary length: a JPEG ends
      // in FF D9, which as the top byte of a little-endian integer is negative anyway. Digits
      // are a length all the same: no whole image ends in an ASCII digit.
      const isLength = length !== undefined && (announced!.digits || datagram.length !== remaining);
      if (!isLength && datagram.length <= remaining) {
        this.append(source, attempt, datagram, result);
        return result;
      }
      if (!isLength) {
        if (isWholeImage(datagram)) {
          this.drop(source, missingPieces(attempt), result, 'ERR_LEGACY_INCOMPLETE', `${incompleteText(attempt)} before a whole image came in one datagram`);
          this.wholeImage(source, datagram, result);
          return result;
        }
        const message = readLegacyMessage(datagram);
        if (message !== undefined) {
          // A message interrupts nothing: the image goes on with its next piece.
          this.message(source, message, datagram.length, result);
          return result;
        }
        // More bytes than announced: a duplicated or stray datagram got mixed in.
        this.drop(
          source,
          0,
          result,
          'ERR_LEGACY_OVERFLOW',
          `image dropped: a ${datagram.length}-byte datagram would run past the ${attempt.expected} bytes announced (${attempt.received} arrived): a stray or duplicated datagram`,
        );
        source.attempt = { kind: 'discarding', counted: true, datagrams: 0, bytes: 0 };
        return result;
      }
      // A new length mid-image: the sender gave up on this one (or the length was duplicated).
      if (attempt.received > 0) this.drop(source, missingPieces(attempt), result, 'ERR_LEGACY_INCOMPLETE', `${incompleteText(attempt)} before a new length datagram`);
      else this.release(source);
    }

    if (length !== undefined) {
      this.settleUnframed(source, result);
      source.attempt = { kind: 'receiving', expected: length, chunks: [], received: 0, largestPiece: 0, charged: 0 };
    } else if (isWholeImage(datagram)) {
      // Sent as one datagram, without a length (a server that decodes every datagram).
      this.settleUnframed(source, result);
      this.wholeImage(source, datagram, result);
    } else if (announced?.digits) {
      this.refuseLength(source, announced.value, result);
    } else {
      const message = readLegacyMessage(datagram);
      if (message !== undefined) {
        this.message(source, message, datagram.length, result);
      } else if (announced !== undefined && source.attempt.kind === 'idle') {
        // A binary length out of range (over maxFrameBytes, zero, negative): refuse that image.
        // Not while discarding, where a 4- or 8-byte datagram is most likely a last piece.
        this.refuseLength(source, announced.value, result);
      } else if (source.attempt.kind === 'idle') {
        // Pieces with no length before them (it was lost), or bytes that are nothing at all.
        // The sender may still wait for a reply.
        source.attempt = { kind: 'discarding', counted: false, datagrams: 1, bytes: datagram.length };
      } else if (source.attempt.kind === 'discarding') {
        source.attempt.datagrams += 1;
        source.attempt.bytes += datagram.length;
      }
    }
    return result;
  }

  /**
   * Abandons the images of senders silent for maxAgeMs, and forgets senders silent for
   * `idleMs` (at least maxAgeMs); call on a timer.
   */
  sweep(now: number, idleMs: number): LegacySweepResult {
    const result: LegacySweepResult = { replies: [], gone: [], problems: [] };
    const problems = { problems: result.problems };
    for (const source of [...this.sources.values()]) {
      const silent = now - source.lastHeard;
      const attempt = source.attempt;
      if (attempt.kind !== 'idle' && silent >= this.maxAgeMs) {
        if (attempt.kind === 'receiving') {
          this.drop(source, missingPieces(attempt), problems, 'ERR_LEGACY_INCOMPLETE', `${incompleteText(attempt)} before its sender fell silent for ${this.maxAgeMs} ms`);
        }
        this.settleUnframed(source, problems);
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
    this.makeRoom(cost, result);
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
    if (!isWholeImage(payload)) {
      countDropped(source, 0);
      addProblem(result, 'ERR_LEGACY_NOT_IMAGE', source, `image dropped: its ${payload.length} bytes are neither a whole JPEG (FF D8 ... FF D9) nor a whole PNG (signature ... IEND)`);
      result.reply = source.sender;
      return;
    }
    this.delivered(source, payload, result);
  }

  /** A datagram that is a whole image: delivered as it is, without pieces to hold. */
  private wholeImage(source: Source, image: Buffer, result: LegacyPushResult): void {
    source.attempt = { kind: 'idle' };
    this.delivered(source, image, result);
  }

  private delivered(source: Source, payload: Buffer, result: LegacyPushResult): void {
    source.loss.framesReceived += 1;
    source.frames += 1;
    result.frame = { payload, source: snapshot(source) };
  }

  private message(source: Source, value: unknown, bytes: number, result: LegacyPushResult): void {
    source.messages += 1;
    result.message = { value, bytes, source: snapshot(source) };
    // Answered like an image: a client that waits for a reply after each datagram goes on.
    result.reply = source.sender;
  }

  /** A length out of range (zero, negative, over maxFrameBytes) refuses its image; its pieces are discarded. */
  private refuseLength(source: Source, announced: number, result: LegacyPushResult): void {
    this.settleUnframed(source, result);
    countDropped(source, 0);
    if (announced > this.maxFrameBytes) {
      addProblem(result, 'ERR_FRAME_TOO_LARGE', source, `image refused: its length datagram announces ${announced} bytes, over the limit of ${this.maxFrameBytes}`);
    } else {
      addProblem(result, 'ERR_LEGACY_BAD_LENGTH', source, `image refused: its length datagram announces ${announced} bytes`);
    }
    source.attempt = { kind: 'discarding', counted: true, datagrams: 0, bytes: 0 };
  }

  /**
   * Counts the datagrams discarded for want of a length as one dropped image (its length
   * datagram lost), once something else begins or the sender falls silent.
   */
  private settleUnframed(source: Source, result: { problems?: Problem[] }): void {
    const attempt = source.attempt;
    if (attempt.kind !== 'discarding' || attempt.counted) return;
    countDropped(source, 1);
    addProblem(
      result,
      'ERR_LEGACY_NO_LENGTH',
      source,
      `${attempt.datagrams} datagram${attempt.datagrams === 1 ? '' : 's'} (${attempt.bytes} bytes) dropped: neither a length (digits or a 4- or 8-byte long), a whole JPEG or PNG, nor JSON, and no length datagram before ${attempt.datagrams === 1 ? 'it' : 'them'}`,
    );
    source.attempt = { kind: 'idle' };
  }

  /** Abandons the image being received, counting it (and its missing datagrams) as dropped, and says why. */
  private drop(source: Source, lostDatagrams: number, result?: { problems?: Problem[] }, code?: ErrorCode, text?: string): void {
    this.release(source);
    countDropped(source, lostDatagrams);
    if (result && code && text) addProblem(result, code, source, text);
  }

  /** Frees the pieces of the image being received, if any. */
  private release(source: Source): void {
    if (source.attempt.kind === 'receiving') this.heldBytes -= source.attempt.charged;
    source.attempt = { kind: 'idle' };
  }

  /** Keeps incomplete images within `maxPendingBytes` by dropping the longest silent ones. */
  private makeRoom(bytes: number, result: LegacyPushResult): void {
    while (this.heldBytes + bytes > this.maxPendingBytes) {
      let victim: Source | undefined;
      for (const source of this.sources.values()) {
        if (source.attempt.kind !== 'receiving' || source.attempt.received === 0) continue;
        if (!victim || source.lastHeard < victim.lastHeard) victim = source;
      }
      if (!victim || victim.attempt.kind !== 'receiving') return;
      const held = incompleteText(victim.attempt);
      this.drop(victim, 0, result, 'ERR_BUDGET', `${held} when incomplete images of all senders reached ${this.maxPendingBytes} bytes`);
      victim.attempt = { kind: 'discarding', counted: true, datagrams: 0, bytes: 0 };
    }
  }

  private sourceFor(sender: LegacySender, now: number, result: LegacyPushResult): Source | undefined {
    const key = `${sender.address}|${sender.port}`;
    const known = this.sources.get(key);
    if (known) return known;
    if (this.sources.size >= this.maxSources) {
      const victim = senderToReplace(
        this.sources.values(),
        (source) => source.frames > 0 || source.messages > 0,
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
      messages: 0,
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

/** `image dropped: 3072 of 5000 bytes arrived`, for the problems of an incomplete image. */
function incompleteText(attempt: Extract<Attempt, { kind: 'receiving' }>): string {
  return `image dropped: ${attempt.received} of ${attempt.expected} bytes arrived`;
}

function addProblem(result: { problems?: Problem[] }, code: ErrorCode, source: Source, text: string): void {
  (result.problems ??= []).push({ code, message: `legacy UDP sender ${source.sender.peer}: ${text}` });
}

