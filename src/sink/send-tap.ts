import type { Frame } from '../frame/frame.js';
import type { OptionSchema, Settings } from '../options/schema.js';
import type { ProblemReporter } from '../problems.js';

/**
 * A consumer of `send`'s frames beside the transport (`send --listen 9000 --http 8080` shows
 * the sender's own frames in a browser). Kinds are registered in src/cli/send-taps.ts.
 */
export interface SendTap {
  /** A frame the send loop is handing to the transport, numbered as the transport numbers it. */
  frame(frame: Frame, seq: number): void;
  /**
   * Resolves once the tap has a consumer of its own: a sender that starts its source with
   * its first viewer starts it for the tap's too.
   */
  untilWanted?(): Promise<void>;
  close(): Promise<void>;
}

export interface SendTapContext {
  /** Says a line of news on stderr (none with --quiet). */
  say(line: string): void;
  /** Problems its clients cause (wrong logins), rate-limited and shown even with --quiet. */
  report?: ProblemReporter;
  /** The sender's `--label`: the stream's name where the tap shows one. */
  label: string | undefined;
  /** The address `send --bind` asked for, if any. */
  bind: string | undefined;
}

export interface SendTapKind<O extends OptionSchema> {
  readonly name: string;
  readonly options: O;
  /** The flag that asks for this tap, when its settings ask for it: `--http`. */
  asked(settings: Settings<O>): string | undefined;
  open(settings: Settings<O>, context: SendTapContext): Promise<SendTap | undefined>;
}
