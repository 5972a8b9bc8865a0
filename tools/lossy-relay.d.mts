// Types for lossy-relay.mjs, for the TypeScript tests.
import type { Socket } from 'node:dgram';

export interface ParsedDatagram {
  header: { type: number; streamId: number; frameSeq: number; pieceIndex: number; pieceCount: number; frameLength: number; offset: number };
  payload: Buffer;
}

export interface LossyRelayOptions {
  /** Where datagrams go: the receiver. */
  target: { host: string; port: number };
  /** Address the relay listens on (port chosen by the system). Default 127.0.0.1. */
  host?: string;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Probability that a datagram is dropped. */
  drop?: number;
  /** Probability that a datagram is forwarded twice. */
  duplicate?: number;
  /** Probability that a datagram is held back until 1..maxHold later ones have arrived. */
  reorder?: number;
  /** Default 8. */
  maxHold?: number;
  /** vstream's parseDatagram (throws for anything else); without it the relay records nothing. */
  parse?: (datagram: Buffer) => ParsedDatagram;
  /** Keep forwarded payloads so `payload()` can rebuild frames. Default true. */
  keepPayloads?: boolean;
  /** END datagrams are never dropped or held, and flush held ones first. Default true. */
  protectEnd?: boolean;
}

export interface Loss {
  framesReceived: number;
  framesDropped: number;
  datagramsLost: number;
}

export interface ExpectedStream {
  /** Frames a receiver must deliver, in order, with the counters reported with each. */
  delivered: Array<{ frameSeq: number; loss: Loss }>;
  /** Counters once the stream is settled (at END, or as far as the output went). */
  final: Loss;
  /** An END was forwarded. */
  ended: boolean;
}

export interface LogEntry {
  key: string;
  type: 'piece' | 'end';
  frameSeq: number;
  pieceIndex: number;
  pieceCount: number;
}

export interface FrameRecord {
  pieceCount: number;
  frameLength: number;
  /** Pieces forwarded at least once, by index. */
  pieces: Map<number, Buffer | null>;
}

export function mulberry32(seed: number): () => number;

export class LossyRelay {
  static start(options: LossyRelayOptions): Promise<LossyRelay>;
  readonly port: number;
  readonly counts: { received: number; forwarded: number; dropped: number; duplicated: number; held: number; opaque: number; replies: number };
  /** Stream key (`host:port#streamId` of the sender as the relay saw it) -> its forwarded frames. */
  readonly streams: Map<string, { source: string; streamId: number; frames: Map<number, FrameRecord> }>;
  /** Forwarded datagrams, in order. */
  readonly log: LogEntry[];
  readonly upstream: Socket;
  flush(): void;
  close(): Promise<void>;
  payload(streamKey: string, frameSeq: number): Buffer | undefined;
  expected(options?: { maxFramesPerStream?: number }): Map<string, ExpectedStream>;
}
