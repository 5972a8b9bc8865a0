/**
 * Rebuilds frames from vstream UDP datagrams (docs/PROTOCOL.md, "UDP"). Pure and
 * deterministic: no sockets, no timers; the caller passes the time, so tests replay any
 * order of arrival exactly.
 *
 * Live video drives every rule: a late frame is worth nothing, so a frame incomplete after
 * maxAgeMs, or older than one that completed, is dropped instead of waited for. Each stream
 * keeps a `floor`: every frameSeq at or before it is finished (delivered, dropped or never
 * seen), so a piece for one of them is "late" and ignored without any per-frame history.
 *
 * Memory is bounded by maxPendingBytes whatever arrives: pieces are kept as received (views
 * of the datagrams) and charged with an estimate of their bookkeeping, nothing is sized from
 * a header's frameLength before the bytes are there, and the number of streams and of
 * incomplete frames per stream is capped.
 *
 * Anyone can send a datagram naming a stream, so no single datagram may end or stall one that
 * keeps delivering: a frameSeq far from the stream's floor is ignored (the window), an END only
 * takes effect after a grace in which newer frames cancel it, and a full table of streams makes
 * room by dropping streams that never delivered a frame, never a live one.
 */
import { ProtocolError } from '../errors.js';
import { DatagramType, impliedPieceSize, parseDatagram, seqAdd, seqDistance, seqNewer, UDP_HEADER_SIZE, UDP_MAGIC } from '../frame/udp-datagram.js';
import type { DatagramHeader } from '../frame/udp-datagram.js';
import type { Problem } from '../problems.js';
import type { LossCounters } from '../frame/frame.js';
import { DEFAULT_MAX_FRAME_BYTES } from './tcp-parser.js';
import { EVICT_IDLE_MS, senderToReplace } from './make-room.js';

export const DEFAULT_MAX_AGE_MS = 250;
export const DEFAULT_MAX_PENDING_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_FRAMES_PER_STREAM = 4;
export const DEFAULT_MAX_STREAMS = 64;
/**
 * What a held piece costs besides its payload: the 24 header bytes it pins, the ArrayBuffer
 * and Buffer objects, its map entry. Charged to pendingBytes so that a flood of 1-byte pieces
 * is bounded by real memory, not by its tiny byte count.
 */
export const PIECE_OVERHEAD_BYTES = 256;
/**
 * A frameSeq jump larger than this is not counted as loss: 65536 frames is over 30 minutes at
 * 30 fps, a silence in which the stream would have been expired as idle; such a jump comes
 * from a confused or hostile sender, and would otherwise add billions to the counters.
 */
export const MAX_ESTIMATED_GAP = 65536;
/**
 * Frames ahead of or behind a stream's floor that a piece may be for; one further off is
 * ignored (outOfWindow). 1024 frames is over 30 s at 30 fps: no honest stream gets that far
 * from its floor while it delivers, and a forged far-off frameSeq cannot move the floor.
 */
export const SEQ_WINDOW = 1024;
/**
 * A stream that has made no progress for this long, while pieces outside its window (or late)
 * keep arriving and agree with each other, is re-based on them: its sender reset its sequence.
 */
export const RESTART_AFTER_MS = 500;
/**
 * Sequences a stream remembers as a possible reset: more than one, so that pieces sprayed at
 * random frameSeqs only displace each other, not the sequence that keeps agreeing.
 */
const MAX_CANDIDATES = 4;
export { EVICT_IDLE_MS } from './make-room.js';

export interface UdpReassemblerOptions {
  /** An incomplete frame older than this (since its first piece arrived) is dropped. Default 250. */
  maxAgeMs?: number;
  /** Frames announcing more payload bytes are invalid. Default DEFAULT_MAX_FRAME_BYTES (64 MiB). */
  maxFrameBytes?: number;
  /**
   * Bytes held in incomplete frames, all streams together (payload + PIECE_OVERHEAD_BYTES per
   * piece). Over it, the oldest incomplete frames are dropped. A frame that could not fit even
   * alone is invalid (ERR_FRAME_TOO_LARGE). Default 32 MiB.
   */
  maxPendingBytes?: number;
  /** Incomplete frames per stream; one more drops the oldest. Default 4. */
  maxFramesPerStream?: number;
  /**
   * Concurrent streams. A new one beyond it replaces the least recently active stream that has
   * completed no frame, else one that has completed none for EVICT_IDLE_MS, else it is refused.
   * Default 64.
   */
  maxStreams?: number;
}

export interface CompletedFrame {
  /** `${source}#${streamId}`: the stream's identity. */
  key: string;
  /** The sender's address, `host:port`. */
  source: string;
  streamId: number;
  frameSeq: number;
  /** The frame's payload: what TCP carries after its 16-byte header. */
  payload: Buffer;
}

export interface StreamCounters extends LossCounters {
  /** Valid datagrams of this stream (pieces and END), duplicates and late ones included. */
  datagramsReceived: number;
  duplicates: number;
  /** Pieces of frames already delivered, dropped or skipped. */
  late: number;
  /** Well-formed datagrams of this stream that contradict the earlier pieces of their frame. */
  invalid: number;
  /** Pieces and ENDs for a frameSeq outside the window (SEQ_WINDOW), ignored. */
  outOfWindow: number;
  /** ENDs that did not end the stream: outside the window, or cancelled by newer frames. */
  endsIgnored: number;
  /** Times the sender reset its sequence and the stream was re-based (RESTART_AFTER_MS). */
  sequenceResets: number;
}

/** A snapshot: later datagrams do not change it. */
export interface StreamState {
  key: string;
  source: string;
  streamId: number;
  counters: StreamCounters;
}

export interface UdpPushResult {
  /** Frames this datagram completed: 0 or 1. */
  frames: CompletedFrame[];
  /** Set when this datagram started a stream not seen before. */
  newStream?: StreamState;
  /** A stream removed to make room for `newStream` (maxStreams), with its final counters. */
  evicted?: StreamState;
  /** Why the datagram was ignored as invalid. */
  error?: ProtocolError;
  /**
   * A valid datagram that was not taken as it claimed: out of the window (ERR_UDP_WINDOW), an
   * END cancelled by newer frames (ERR_UDP_END), a new stream refused (ERR_TOO_MANY_SENDERS).
   */
  problem?: Problem;
}

export interface ExpireResult {
  /** Streams whose END grace is over, with their final counters. */
  ended: StreamState[];
  /** Streams silent for longer than `idleMs`, with their final counters. */
  silent: StreamState[];
}

interface Stream {
  readonly key: string;
  readonly source: string;
  readonly streamId: number;
  readonly counters: StreamCounters;
  /** Incomplete frames by frameSeq. */
  readonly frames: Map<number, PendingFrame>;
  /** Every frameSeq at or before it is finished; all pending frames are newer. */
  floor: number;
  /** Until a frame finishes, an older frame arriving lowers the floor instead of being late. */
  floorFixed: boolean;
  /** pieceCount of the latest piece: the estimate for frames of which nothing arrived. */
  lastPieceCount: number;
  /** When a valid datagram inside the window last arrived: for idleness and eviction order. */
  lastActive: number;
  /** The newest frameSeq a piece was accepted for (the floor until one is). */
  newest: number;
  /** When a piece last went into a frame. */
  lastProgress: number;
  /** When it last completed a frame (-Infinity before the first). */
  lastCompleted: number;
  /** Late or out-of-window pieces that agree with each other: a reset sequence, if they go on. */
  candidates: { base: number; count: number }[];
  /** An accepted END in its grace: newer frames than `newest` cancel it. */
  ending: { nextSeq: number; newest: number; at: number } | undefined;
}

/** A stream whose END took effect: its stragglers revive nothing. */
interface EndedStream {
  nextSeq: number;
  newest: number;
  at: number;
}

interface PendingFrame {
  readonly stream: Stream;
  readonly seq: number;
  readonly pieceCount: number;
  readonly frameLength: number;
  /** Bytes in every piece but the last; 0 until a piece shows it. */
  pieceSize: number;
  readonly pieces: Map<number, Buffer>;
  /** What it is charged in pendingBytes. */
  cost: number;
  readonly firstAt: number;
}

export class UdpReassembler {
  readonly maxAgeMs: number;
  readonly maxFrameBytes: number;
  readonly maxPendingBytes: number;
  readonly maxFramesPerStream: number;
  readonly maxStreams: number;
  /** In order of last activity, least recent first: Map keeps insertion order. */
  private readonly streams = new Map<string, Stream>();
  /** Every incomplete frame, in order of its first piece's arrival, oldest first. */
  private readonly pending = new Set<PendingFrame>();
  /** Streams that ended by END, so pieces overtaken by their END do not revive them. */
  private readonly ended = new Map<string, EndedStream>();
  private heldBytes = 0;
  private invalidCount = 0;
  private refusedCount = 0;

  constructor(options: UdpReassemblerOptions = {}) {
    this.maxAgeMs = positive('maxAgeMs', options.maxAgeMs ?? DEFAULT_MAX_AGE_MS, false);
    this.maxFrameBytes = positive('maxFrameBytes', options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, true);
    this.maxPendingBytes = positive('maxPendingBytes', options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES, true);
    this.maxFramesPerStream = positive('maxFramesPerStream', options.maxFramesPerStream ?? DEFAULT_MAX_FRAMES_PER_STREAM, true);
    this.maxStreams = positive('maxStreams', options.maxStreams ?? DEFAULT_MAX_STREAMS, true);
  }

  /** Bytes charged for pieces of incomplete frames (see maxPendingBytes). */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /** Incomplete frames held, all streams together. */
  get pendingFrames(): number {
    return this.pending.size;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Invalid datagrams since construction, including those no stream could be named for. */
  get invalidDatagrams(): number {
    return this.invalidCount;
  }

  /** Datagrams that would have started a stream while every slot held a live one (maxStreams). */
  get refusedDatagrams(): number {
    return this.refusedCount;
  }

  /**
   * One datagram from `source` ("host:port"), received at `now` (ms). Returns the frame it
   * completed, if any, and stream events. Invalid datagrams are counted and ignored, with the
   * reason in `error`; nothing a peer sends makes this throw. Pieces are kept as views of
   * `datagram` (and a one-piece frame's payload is one), so the caller must not reuse its memory.
   */
  push(datagram: Buffer, source: string, now: number): UdpPushResult {
    let header: DatagramHeader;
    let payload: Buffer;
    try {
      ({ header, payload } = parseDatagram(datagram, this.maxFrameBytes));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err; // a bug here, not a peer's doing
      const streamId = readStreamId(datagram);
      return this.invalid(err as ProtocolError, streamId === undefined ? undefined : this.streams.get(`${source}#${streamId}`));
    }
    const key = `${source}#${header.streamId}`;
    let stream = this.streams.get(key);
    if (stream === undefined && !this.revives(key, header, now)) return { frames: [] };

    if (header.type === DatagramType.END) {
      if (stream === undefined) return { frames: [] };
      stream.counters.datagramsReceived++;
      return this.end(stream, header.frameSeq, now);
    }

    const cost = header.frameLength + header.pieceCount * PIECE_OVERHEAD_BYTES;
    if (cost > this.maxPendingBytes) {
      const err = new ProtocolError(
        `frame ${header.frameSeq} of ${header.frameLength} bytes in ${header.pieceCount} pieces cannot fit in the ` +
          `reassembly limit of ${this.maxPendingBytes} bytes`,
        'ERR_FRAME_TOO_LARGE',
      );
      return this.invalid(err, stream);
    }

    const result: UdpPushResult = { frames: [] };
    const created = stream === undefined;
    if (stream === undefined) {
      if (this.streams.size >= this.maxStreams) {
        const victim = this.victim(now);
        if (victim === undefined) return this.refuse(source, header.streamId);
        result.evicted = this.remove(victim);
      }
      stream = this.newStream(key, source, header, now);
    } else if (!stream.frames.has(header.frameSeq) && !inWindow(header.frameSeq, stream.floor) && !this.resets(stream, header.frameSeq, now)) {
      stream.counters.datagramsReceived++;
      stream.counters.outOfWindow++;
      result.problem = outOfWindow(stream, `frame ${header.frameSeq}`, header.frameSeq);
      return result;
    }
    this.touch(stream, now);
    this.addPiece(stream, header, payload, datagram, now, result);
    if (result.error === undefined) stream.counters.datagramsReceived++;
    if (created) result.newStream = snapshot(stream);
    return result;
  }

  /**
   * Drops incomplete frames older than maxAgeMs and ends the streams whose END grace (maxAgeMs)
   * is over; call on a timer. With `idleMs`, also removes the streams that have sent nothing
   * valid for longer than that. Returns the streams gone, with their final counters.
   */
  expire(now: number, idleMs?: number): ExpireResult {
    // Set iteration skips entries deleted on the way, as abandon() may do to older frames.
    for (const frame of this.pending) {
      if (now - frame.firstAt > this.maxAgeMs) this.abandon(frame);
    }
    const result: ExpireResult = { ended: [], silent: [] };
    // Map iteration, too, skips the streams removed on the way.
    for (const stream of this.streams.values()) {
      if (stream.ending !== undefined && now - stream.ending.at > this.maxAgeMs) result.ended.push(this.close(stream, now));
      else if (idleMs !== undefined && now - stream.lastActive > idleMs) result.silent.push(this.remove(stream));
    }
    return result;
  }

  /** The stream's current counters, or undefined if it is unknown, ended or removed. */
  stream(key: string): StreamState | undefined {
    const stream = this.streams.get(key);
    return stream === undefined ? undefined : snapshot(stream);
  }

  private addPiece(stream: Stream, header: DatagramHeader, payload: Buffer, datagram: Buffer, now: number, result: UdpPushResult): void {
    const { counters } = stream;
    const seq = header.frameSeq;
    const pieceSize = impliedPieceSize(header, payload.length);
    let frame = stream.frames.get(seq);
    if (frame === undefined) {
      if (!seqNewer(seq, stream.floor)) {
        if (!stream.floorFixed) stream.floor = seqAdd(seq, -1);
        else if (!this.resets(stream, seq, now)) {
          counters.late++;
          return;
        }
      }
      if (stream.ending !== undefined && seqNewer(seq, stream.ending.newest)) {
        // A frame the sender had not sent when its END came: the sender is still there.
        stream.ending = undefined;
        counters.endsIgnored++;
        result.problem = {
          code: 'ERR_UDP_END',
          message: `end-of-stream datagram for UDP stream ${stream.streamId} from ${stream.source} ignored: frame ${seq} came after it`,
        };
      }
      if (seqNewer(seq, stream.newest)) stream.newest = seq;
      frame = { stream, seq, pieceCount: header.pieceCount, frameLength: header.frameLength, pieceSize, pieces: new Map(), cost: 0, firstAt: now };
      stream.frames.set(seq, frame);
      this.pending.add(frame);
    } else if (now - frame.firstAt > this.maxAgeMs) {
      // Decided here rather than by the next expire() tick, so the outcome does not depend on
      // the timer's granularity.
      this.abandon(frame);
      counters.late++;
      return;
    } else if (
      header.pieceCount !== frame.pieceCount ||
      header.frameLength !== frame.frameLength ||
      (pieceSize !== 0 && frame.pieceSize !== 0 && pieceSize !== frame.pieceSize)
    ) {
      const err = new ProtocolError(
        `piece ${header.pieceIndex}/${header.pieceCount} of frame ${seq} (${header.frameLength} bytes, ${payload.length} payload bytes) ` +
          `disagrees with earlier pieces (${frame.pieceCount} pieces, ${frame.frameLength} bytes)`,
        'ERR_UDP_HEADER',
      );
      Object.assign(result, this.invalid(err, stream));
      return;
    } else if (frame.pieces.has(header.pieceIndex)) {
      counters.duplicates++;
      return;
    }

    if (frame.pieceSize === 0) frame.pieceSize = pieceSize;
    const cost = payload.length + PIECE_OVERHEAD_BYTES;
    frame.pieces.set(header.pieceIndex, keep(payload, datagram));
    frame.cost += cost;
    this.heldBytes += cost;
    stream.lastPieceCount = header.pieceCount;
    stream.lastProgress = now;
    if (stream.candidates.length > 0) stream.candidates = [];

    if (frame.pieces.size === frame.pieceCount) {
      result.frames.push(this.complete(frame, now));
      return;
    }
    if (stream.frames.size > this.maxFramesPerStream) this.abandon(oldest(stream.frames));
    // Oldest first, across streams: the frames least likely to still complete in time.
    for (const old of this.pending) {
      if (this.heldBytes <= this.maxPendingBytes) break;
      this.abandon(old);
    }
  }

  private complete(frame: PendingFrame, now: number): CompletedFrame {
    const { stream } = frame;
    this.release(frame);
    stream.counters.framesReceived++;
    stream.lastCompleted = now;
    this.finish(stream, frame.seq);
    let payload: Buffer;
    if (frame.pieceCount === 1) {
      payload = frame.pieces.get(0)!;
    } else {
      // Every byte is written: the validated layout makes the pieces tile the frame exactly.
      payload = Buffer.allocUnsafe(frame.frameLength);
      for (const [index, piece] of frame.pieces) piece.copy(payload, index * frame.pieceSize);
    }
    return { key: stream.key, source: stream.source, streamId: stream.streamId, frameSeq: frame.seq, payload };
  }

  /** Drops an incomplete frame, and with it every older one of its stream (a newer frame wins). */
  private abandon(frame: PendingFrame): void {
    this.drop(frame);
    this.finish(frame.stream, frame.seq);
  }

  /** `seq` was just delivered or dropped: settle every frame before it, then fix the floor on it. */
  private finish(stream: Stream, seq: number): void {
    this.settle(stream, seqAdd(seq, -1));
    stream.floor = seq;
    stream.floorFixed = true;
  }

  /**
   * Finishes every frame after the floor up to `upTo`: the incomplete ones are dropped, and
   * the ones of which nothing arrived are counted as dropped too, each with the stream's
   * latest pieceCount as its lost datagrams (an estimate: frames of one stream are usually
   * about the same size).
   */
  private settle(stream: Stream, upTo: number): void {
    if (!seqNewer(upTo, stream.floor)) return;
    const span = seqDistance(upTo, stream.floor);
    let seen = 0;
    for (const frame of stream.frames.values()) {
      if (seqNewer(frame.seq, upTo)) continue;
      this.drop(frame);
      seen++;
    }
    const unseen = span - seen;
    if (unseen > 0 && span <= MAX_ESTIMATED_GAP) {
      stream.counters.framesDropped += unseen;
      stream.counters.datagramsLost += unseen * stream.lastPieceCount;
    }
    stream.floor = upTo;
    stream.floorFixed = true;
  }

  private drop(frame: PendingFrame): void {
    this.release(frame);
    frame.stream.counters.framesDropped++;
    frame.stream.counters.datagramsLost += frame.pieceCount - frame.pieces.size;
  }

  private release(frame: PendingFrame): void {
    frame.stream.frames.delete(frame.seq);
    this.pending.delete(frame);
    this.heldBytes -= frame.cost;
  }

  /**
   * END: the sender's next frame would have been `nextSeq`. An honest sender's nextSeq is after
   * every frame it sent, so one at or before the newest frame seen, or beyond the window, is
   * ignored. An accepted END takes effect after a grace (maxAgeMs, settled by expire()), so that
   * a forged one is cancelled by the frames a live sender goes on sending.
   */
  private end(stream: Stream, nextSeq: number, now: number): UdpPushResult {
    if (stream.ending !== undefined) return { frames: [] }; // a repeat
    const ahead = seqDistance(nextSeq, stream.newest);
    if (ahead === 0 || ahead > SEQ_WINDOW) {
      stream.counters.endsIgnored++;
      stream.counters.outOfWindow++;
      return { frames: [], problem: outOfWindow(stream, `end-of-stream datagram (next frame ${nextSeq})`, nextSeq) };
    }
    stream.ending = { nextSeq, newest: stream.newest, at: now };
    return { frames: [] };
  }

  /** The END grace is over: everything before nextSeq is final, and the stream is gone. */
  private close(stream: Stream, now: number): StreamState {
    const { nextSeq, newest } = stream.ending!;
    this.settle(stream, seqAdd(nextSeq, -1));
    const state = this.remove(stream);
    this.ended.set(stream.key, { nextSeq, newest, at: now });
    // Forget the oldest: a stream id is random per run, so a key is practically never reused.
    if (this.ended.size > this.maxStreams) this.ended.delete(this.ended.keys().next().value!);
    return state;
  }

  /**
   * Whether a datagram for a key that ended by END may start it again. Its stragglers (frames
   * the stream had seen) may not. A newer frame within the window may: the END was forged, or
   * arrived without the sender stopping. So may one outside the window once RESTART_AFTER_MS
   * has passed: the sender reset its sequence.
   */
  private revives(key: string, header: DatagramHeader, now: number): boolean {
    const gone = this.ended.get(key);
    if (gone === undefined) return true;
    if (header.type === DatagramType.END) return false;
    const seq = header.frameSeq;
    const newer = seqNewer(seq, gone.newest) && seqDistance(seq, gone.newest) <= SEQ_WINDOW;
    if (!newer && (inWindow(seq, gone.newest) || now - gone.at <= RESTART_AFTER_MS)) return false;
    this.ended.delete(key);
    return true;
  }

  /**
   * A piece the stream cannot use (late, or outside the window). If such pieces agree with each
   * other while the stream has made no progress for RESTART_AFTER_MS, its sender has reset its
   * sequence: the stream is re-based on `seq`, its incomplete frames dropped. Returns whether it was.
   */
  private resets(stream: Stream, seq: number, now: number): boolean {
    const { candidates } = stream;
    const candidate = candidates.find((c) => inWindow(seq, c.base));
    if (candidate === undefined) {
      if (candidates.length >= MAX_CANDIDATES) candidates.splice(candidates.indexOf(weakest(candidates)), 1);
      candidates.push({ base: seq, count: 1 });
      return false;
    }
    candidate.count++;
    if (now - stream.lastProgress < RESTART_AFTER_MS) return false;
    for (const frame of stream.frames.values()) this.drop(frame);
    stream.floor = seqAdd(seq, -1);
    stream.floorFixed = false;
    stream.newest = stream.floor;
    stream.candidates = [];
    stream.ending = undefined;
    stream.counters.sequenceResets++;
    return true;
  }

  /**
   * The stream to make room for a new one: the least recently active that has completed no
   * frame (a flood of made-up stream ids only displaces itself), else the least recently active
   * that has completed none for EVICT_IDLE_MS (a sender restarted under a new id leaves one).
   */
  private victim(now: number): Stream | undefined {
    return senderToReplace(
      this.streams.values(),
      (stream) => stream.counters.framesReceived > 0,
      (stream) => now - stream.lastCompleted > EVICT_IDLE_MS,
    );
  }


  private refuse(source: string, streamId: number): UdpPushResult {
    this.refusedCount++;
    return {
      frames: [],
      problem: {
        code: 'ERR_TOO_MANY_SENDERS',
        message: `new UDP stream ${streamId} from ${source} refused: all ${this.maxStreams} streams are delivering frames`,
      },
    };
  }

  /** Drops the stream's incomplete frames and forgets it; returns its final counters. */
  private remove(stream: Stream): StreamState {
    for (const frame of stream.frames.values()) this.drop(frame);
    this.streams.delete(stream.key);
    return snapshot(stream);
  }

  private newStream(key: string, source: string, header: DatagramHeader, now: number): Stream {
    const floor = seqAdd(header.frameSeq, -1);
    return {
      key,
      source,
      streamId: header.streamId,
      counters: {
        framesReceived: 0,
        framesDropped: 0,
        datagramsLost: 0,
        datagramsReceived: 0,
        duplicates: 0,
        late: 0,
        invalid: 0,
        outOfWindow: 0,
        endsIgnored: 0,
        sequenceResets: 0,
      },
      frames: new Map(),
      floor,
      floorFixed: false,
      lastPieceCount: header.pieceCount,
      lastActive: now,
      newest: floor,
      lastProgress: now,
      lastCompleted: -Infinity,
      candidates: [],
      ending: undefined,
    };
  }

  /** Moves the stream to the most recently active end of the map. */
  private touch(stream: Stream, now: number): void {
    this.streams.delete(stream.key);
    this.streams.set(stream.key, stream);
    stream.lastActive = now;
  }

  private invalid(err: ProtocolError, stream: Stream | undefined): UdpPushResult {
    this.invalidCount++;
    if (stream !== undefined) stream.counters.invalid++;
    return { frames: [], error: err };
  }
}

/** True when `seq` is at most SEQ_WINDOW frames ahead of or behind `base`, across the wrap. */
function inWindow(seq: number, base: number): boolean {
  const ahead = seqDistance(seq, base);
  return ahead <= SEQ_WINDOW || ahead >= 2 ** 32 - SEQ_WINDOW;
}

function outOfWindow(stream: Stream, what: string, seq: number): Problem {
  const ahead = seqDistance(seq, stream.floor);
  const off = ahead < 2 ** 31 ? `${ahead} ahead of` : `${2 ** 32 - ahead} behind`;
  return {
    code: 'ERR_UDP_WINDOW',
    message: `${what} of UDP stream ${stream.streamId} from ${stream.source} is ${off} frame ${stream.floor}, outside the window of ${SEQ_WINDOW}; ignored`,
  };
}

/** The candidate with the fewest agreeing pieces, the oldest of those. */
function weakest(candidates: { base: number; count: number }[]): { base: number; count: number } {
  return candidates.reduce((min, c) => (c.count < min.count ? c : min));
}

/** The incomplete frame furthest behind in sequence order. */
function oldest(frames: Map<number, PendingFrame>): PendingFrame {
  let found: PendingFrame | undefined;
  for (const frame of frames.values()) {
    if (found === undefined || seqNewer(found.seq, frame.seq)) found = frame;
  }
  return found!;
}

/**
 * The payload to hold. A view pins the datagram's whole backing store: dgram gives each
 * datagram its own, exactly sized, so a view costs nothing extra; a datagram sliced from a
 * bigger buffer would pin all of it, so its payload is copied instead.
 */
function keep(payload: Buffer, datagram: Buffer): Buffer {
  if (datagram.buffer.byteLength <= 2 * datagram.length) return payload;
  const copy = Buffer.allocUnsafeSlow(payload.length);
  payload.copy(copy);
  return copy;
}

/** The streamId field of a datagram that failed validation, when it has one worth trusting. */
function readStreamId(datagram: Buffer): number | undefined {
  if (datagram.length < UDP_HEADER_SIZE || datagram.readUInt16BE(0) !== UDP_MAGIC) return undefined;
  return datagram.readUInt32BE(4);
}

function snapshot(stream: Stream): StreamState {
  return { key: stream.key, source: stream.source, streamId: stream.streamId, counters: { ...stream.counters } };
}

function positive(name: string, value: number, integer: boolean): number {
  if (!(integer ? Number.isSafeInteger(value) : Number.isFinite(value)) || value <= 0) {
    throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return value;
}
