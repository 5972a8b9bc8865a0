import type { Frame, LossCounters, ReceivedFrame } from '../frame/frame.js';

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
  /** A message that is not a frame (legacy UDP's JSON datagrams); other transports never emit it. */
  message: [import('../frame/message.js').ReceivedMessage];
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

/** What a sender is told about a frame that the frame does not say itself. */
export interface SendOptions {
  /** Sequence number; defaults to the count of frames sent before this one. */
  seq?: number;
  /** The frame comes from a live source: receivers may drop it in favour of a newer one. */
  live?: boolean;
  /** Ask the receiver to acknowledge this frame by stream and seq (TCP, with the sender's `acks`). */
  askAck?: boolean;
}

/** What `vstream send` needs of any sender, TCP or UDP. */
export interface Sender {
  /** `host:port` of the receiver. */
  readonly address: string;
  readonly framesSent: number;
  readonly bytesSent: number;
  /**
   * Sends one frame; its capture time and name go into the metadata. A bare JPEG buffer is
   * sent as a frame captured now, without a name.
   */
  send(frame: Frame | Buffer, options?: SendOptions): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}
