/**
 * The one frame type every stage passes on, from the source to the sinks. What can be known
 * about a frame is read once, where its bytes are made or received (its type and size from the
 * image's own header, vstream's metadata from its segment), and never looked up again
 * downstream.
 */

/** What the bytes of a frame are, from their first bytes. */
export type ImageType = 'jpeg' | 'png' | 'other';

export interface Size {
  width: number;
  height: number;
}

/** Per-frame metadata carried inside the JPEG (see docs/PROTOCOL.md). */
export interface FrameMeta {
  /** Sender's frame counter, starting at 0 for the first frame sent on a connection. */
  seq: number;
  /** Capture time on the sender, milliseconds since the Unix epoch (may be fractional). */
  captureTime: number;
  /** The sender's `--label`, if any. */
  label?: string;
  /** The source file's base name, for frames read from a folder (`--dir`). */
  name?: string;
  /**
   * True for live sources (camera, pattern): a receiver that falls behind may drop older frames
   * of this stream rather than slow the sender down, because a late live frame is worth nothing.
   * Absent for files, folders and stdin, whose every frame must arrive.
   */
  live?: boolean;
  /**
   * The source type a folder transfer announced in its first message (`jpg`). Set only on the
   * files such a transfer delivers, which are kept byte for byte under their own names; never
   * read from a frame's metadata segment.
   */
  sourceType?: string;
  /** True when the sender waits for the receiver's reply after each frame (`send --wait-ack`). */
  waitsForReply?: boolean;
  /**
   * The sending run's random id, with `ack`: frames of one transfer share it across the
   * sender's reconnections, so that a receiver can tell a resent frame (same stream and seq).
   */
  stream?: string;
  /** The sender keeps this frame until the receiver replies `ACK <stream> <seq>` (docs/PROTOCOL.md). */
  ack?: boolean;
}

/** A frame as a source makes it and a sender sends it. */
export interface Frame {
  /** The image bytes as they travel: a JPEG (with vstream's metadata segment once sent), a PNG, or any bytes. */
  data: Buffer;
  type: ImageType;
  /** From the image's header; unset when it has none that says (not an image, a truncated header, a DNL height). */
  width?: number;
  height?: number;
  /** When the frame was captured (ms since epoch): on a source, when its last byte left ffmpeg or the disk. */
  captureTime?: number;
  /** The source file's base name, for folder sources (and folder transfers received). */
  name?: string;
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

/** A frame as a receiver delivers it: the same frame, with where and when it came from. */
export interface ReceivedFrame extends Frame {
  /** The sender's display name: its label when it sent one, else its address (`host:port`). */
  sender: string;
  /** The peer's address as `host:port` (IPv6 in brackets). */
  peer: string;
  /** A receiver-side id for the connection, unique for the receiver's lifetime. */
  connectionId: number;
  /** Sequence number: the sender's when metadata was present, else counted per connection from 0. */
  seq: number;
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
