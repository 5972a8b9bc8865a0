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
}

/** One JPEG produced by a source, before it is framed. */
export interface SourceFrame {
  jpeg: Buffer;
  /** When the frame was captured (ms since epoch): when its last byte left ffmpeg or the disk. */
  captureTime: number;
  /** File base name, for folder sources. */
  name?: string;
}
