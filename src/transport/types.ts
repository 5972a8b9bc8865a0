import type { FrameMeta } from '../frame/types.js';

/** A complete frame as a receiver delivers it. */
export interface ReceivedFrame {
  /** The sender's display name: its label when it sent one, else its address (`host:port`). */
  sender: string;
  /** The peer's address as `host:port` (IPv6 in brackets). */
  peer: string;
  /** A receiver-side id for the connection, unique for the receiver's lifetime. */
  connectionId: number;
  /** Sequence number: the sender's when metadata was present, else counted per connection from 0. */
  seq: number;
  /** The JPEG bytes, including the metadata segment when the sender added one. */
  jpeg: Buffer;
  /** Metadata decoded from the JPEG, when the sender was vstream. */
  meta?: FrameMeta;
  /** When the last byte of the frame arrived (ms since epoch). */
  receivedAt: number;
  /** Datagram transports only: the stream's loss counters when this frame was delivered. */
  loss?: LossCounters;
  /**
   * Frames of this sender the receiver dropped just before this one because the consumer was
   * behind and the stream is live (newest frame wins). They also show as a gap in `seq`.
   */
  droppedBefore?: number;
}

/**
 * Loss counters of a datagram transport (UDP), as they stood when a frame was delivered.
 * Stream transports (TCP) lose nothing and leave `ReceivedFrame.loss` unset.
 */
export interface LossCounters {
  /** Frames delivered whole. */
  framesReceived: number;
  /** Frames abandoned incomplete: timed out (`--max-age`), superseded by a newer frame, or evicted. */
  framesDropped: number;
  /** Datagrams that never arrived (estimated for frames of which nothing arrived). */
  datagramsLost: number;
}

export interface PeerInfo {
  connectionId: number;
  /** `host:port` of the sender. */
  peer: string;
}

export interface ReceiverEvents {
  /** A new sender (a TCP connection, or the first datagram of a new UDP stream). */
  connection: [PeerInfo];
  /**
   * A sender is gone (TCP close; UDP end-of-stream datagram or silence); `error` is set when it
   * ended because of bad input or a network fault. `loss` is set for datagram transports.
   */
  disconnect: [PeerInfo & { frames: number; error?: import('../errors.js').VstreamError; loss?: LossCounters }];
  problem: [import('../problems.js').Problem];
}

/** What `vstream recv` needs of any receiver, TCP or UDP. */
export interface Receiver extends AsyncIterable<ReceivedFrame> {
  /** The port actually bound. */
  readonly port: number;
  /** Frames waiting for the consumer. */
  readonly queued: number;
  /** Replies to the frame's sender with the configured ack text (a no-op without one). */
  acknowledge(frame: ReceivedFrame): void;
  close(): Promise<void>;
  on<E extends keyof ReceiverEvents>(event: E, listener: (...args: ReceiverEvents[E]) => void): this;
}

/** What `vstream send` needs of any sender, TCP or UDP. */
export interface Sender {
  /** `host:port` of the receiver. */
  readonly address: string;
  readonly framesSent: number;
  readonly bytesSent: number;
  send(jpeg: Buffer, options?: { seq?: number; captureTime?: number; name?: string; live?: boolean }): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}
