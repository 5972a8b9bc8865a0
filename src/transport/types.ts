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
}
