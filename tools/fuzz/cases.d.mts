// Types for cases.mjs, for the TypeScript tests.
export const GOOD_LABEL: string;
export const HOSTILE_TEXTS: string[];
export const SPOOF_KINDS: string[];

export interface TcpCase {
  index: number;
  kind: string;
  /** What goes on the connection: a 16-byte header and a payload. */
  bytes: Buffer;
  /** The header is damaged: the sender closes the connection after it. */
  endsFraming: boolean;
}

export interface UdpCase {
  index: number;
  kind: string;
  /** Index into the caller's pool of source sockets. */
  source: number;
  datagrams: Buffer[];
}

export function caseRandom(seed: number, index: number): () => number;
export function hostilePayload(random: () => number, index: number, bases: Buffer[]): { kind: string; payload: Buffer };
export function tcpCase(seed: number, index: number, bases: Buffer[]): TcpCase;
export function udpCase(seed: number, index: number, bases: Buffer[], options?: { sources?: number }): UdpCase;
export function spoofDatagrams(kind: string, options: { streamId: number; lastSeq: number; payload: Buffer }): Buffer[];
