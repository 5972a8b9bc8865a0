/**
 * A message a receiver got besides frames: the reference UDP programs also send JSON datagrams
 * (`sock.sendto(json.dumps(obj).encode(), addr)`). It is not a frame: it never reaches the
 * frame queue, the frame counts or the sinks that show or save images.
 */
export interface ReceivedMessage {
  /** The parsed JSON value. */
  message: unknown;
  /** The sender's display name: its label when it has sent one, else its address. */
  sender: string;
  /** `host:port` of the sender (IPv6 in brackets). */
  peer: string;
  /** Size of the datagram. */
  bytes: number;
  /** When it arrived (ms since epoch). */
  receivedAt: number;
}
