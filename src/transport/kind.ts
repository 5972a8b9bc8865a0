import type { OptionSchema, Settings } from '../options/schema.js';
import type { Problem } from '../problems.js';
import type { Frame } from '../frame/frame.js';
import type { ProblemReporter } from '../problems.js';
import type { Receiver, Sender } from './types.js';

/** What every transport's sender is given, whatever its own options. */
export interface SenderBase {
  host: string;
  port: number;
  metadata: boolean;
  label: string | undefined;
  /**
   * Whether the source is live. A live stream may outlast a receiver that is not up yet; a
   * file, folder or stdin transfer should fail at once instead of sending into the void.
   * True for a kind that `opensBeforeSource`: what it serves is live whatever the source.
   */
  live: boolean;
  /** The file or folder the frames come from (`--file`, `--dir`), for protocols that name it. */
  sourcePath: string | undefined;
  quiet: boolean;
  /** Says a one-line warning on stderr. */
  warn(message: string): void;
  /** A peer came or went (`viewer X connected`): said unless --quiet, counted past a burst a second. */
  announce(message: string): void;
  /** A problem a peer caused (refused, stopped reading): said even with --quiet, one a second per code. */
  report(problem: Problem): void;
}

/** What every transport's receiver is given, whatever its own options. */
export interface ReceiverBase {
  port: number;
  /** Address to bind; unset: every IPv4 and IPv6 address. */
  bind: string | undefined;
  /** Unset: the transport's own default (64M; 16M for legacy UDP). */
  maxFrameBytes: number | undefined;
  /** Unset: the transport's own default. */
  maxBufferedBytes: number | undefined;
  /** Says a one-line warning on stderr (a receiver that connects out: an outage). */
  warn(message: string): void;
  /** `recv --frames N`: the receiving ends after N frames (a kind may tell its sender so). */
  frames: number | undefined;
}

/** A source of frames a serving kind opens for itself, one per client. */
export interface OpenedFileSource extends AsyncIterable<Frame> {
  close(): Promise<void>;
}

/** What `send` gives a kind that runs the whole session itself (`serve`). */
export interface ServeBase {
  metadata: boolean;
  label: string | undefined;
  quiet: boolean;
  /**
   * Opens a video file as `send --file` would, with the command's `--size`, `--fps`,
   * `--quality` and `--loop`: a transport cannot open sources itself.
   */
  openFileSource(path: string): Promise<OpenedFileSource>;
  /** Problems clients cause, logged rate-limited. */
  report: ProblemReporter;
  /** Clients coming and going: one line each, rate-limited, none with `--quiet`. */
  say(line: string): void;
  /** Says a one-line warning on stderr, even with `--quiet` (an open port, a secret in `ps`). */
  warn(message: string): void;
  /** Aborted at SIGINT or SIGTERM: stop serving. */
  stopped: AbortSignal;
}

/** A serving session `send` runs until a signal. */
export interface ServeSession {
  /** Resolves when serving is over (after `stopped`, once every client is let go). */
  done: Promise<void>;
  /** `send`'s summary line, without the `vstream: ` prefix. */
  summary(): string;
}

export interface OpenedSender {
  sender: Sender;
  /** Added to `send`'s summary line, e.g. `; 3 datagrams refused (nobody listening)`. */
  summaryNote(): string;
  /** Resolves once there is someone to send to (a sender that waits for its viewers); the frame loop waits for it. */
  untilPeer?(): Promise<void>;
}

export interface OpenedReceiver {
  receiver: Receiver;
  /** Lines worth saying once the receiver listens (e.g. a receive buffer the kernel capped). */
  notes(): string[];
  /** Said instead of `listening on ...` by a receiver that does not listen: `connecting to HOST:PORT`. */
  where?: string;
}

/**
 * One transport: the options it adds to `send` and `recv`, how it is picked, its sender and
 * receiver, and its wording in what `send` and `recv` print. A new transport is this, once,
 * in its own file, plus a line in src/transport/registry.ts.
 */
export interface TransportKind<Name extends string, SO extends OptionSchema, RO extends OptionSchema> {
  readonly name: Name;
  readonly sendOptions: SO;
  readonly recvOptions: RO;
  /**
   * Settings keys that, all set together, pick this transport (`key=value`: that value); none:
   * the default. The kind with the most wins.
   */
  readonly pickedBy: readonly string[];
  /**
   * The sender opens first and the source only once `untilPeer()` has resolved, so that a
   * source nobody watches does not run. Unset: the source opens first, so that a missing file
   * fails before anything is connected.
   */
  readonly opensBeforeSource?: boolean;
  /** Usage errors of option combinations, given the long flags the user gave. */
  check?(given: (flag: string) => boolean): void;
  /**
   * True for a kind whose connections the shared secret protects (`--secret-file`: its sender
   * and receiver take `secret` from their settings). Any other kind refuses a secret, with
   * `noSecret` as the reason, rather than carry in the clear what the user meant to keep private.
   */
  readonly usesSecret?: boolean;
  /** Why this kind cannot use a secret, for the usage error (`it speaks the reference programs' protocol`). */
  readonly noSecret?: string;
  /** `(UDP)` in `listening on ...`: empty for none. */
  readonly listeningNote: string;
  /** ` over UDP` after `send`'s summary address: empty for none. */
  readonly summaryWording: string;
  /** How a failed stream ended, in `recv`'s messages: `connection closed`. */
  readonly ended: string;
  /**
   * Live frames of one sender that may wait for a sink behind. A transport that can pause its
   * senders (TCP) keeps one, the newest; one that cannot (UDP) keeps a few, as its receiver
   * does, or a sink slower than one frame interval for a moment would lose frames it kept.
   */
  readonly liveDepth: number;
  openSender(settings: Settings<SO> & SenderBase): Promise<OpenedSender>;
  openReceiver(settings: Settings<RO> & ReceiverBase): Promise<OpenedReceiver>;
  /**
   * For a kind that is a server of its own (a source per client, as a video server has): runs
   * the whole `send` instead of one source into `openSender`'s sender.
   */
  serve?(settings: Settings<SO> & ServeBase): Promise<ServeSession>;
  /**
   * For a kind that asks a question instead of receiving a stream (which videos a server
   * offers): runs the whole `recv`, no sink opened, and resolves with the exit code.
   */
  answer?(settings: Settings<RO> & ReceiverBase): Promise<number>;
}
