import type { OptionSchema, Settings } from '../options/schema.js';
import type { ProblemReporter } from '../problems.js';
import type { FrameSink } from './types.js';
import type { StreamStats } from './stream-stats.js';

/** Settings one sink declares and others read too. */
export interface SharedSinkSettings {
  /** Decoding sinks drop frames whose header claims more pixels (declared with `--output`'s options). */
  readonly maxPixels: number;
}

export interface SinkContext {
  /** Told of frames a sink drops and of names it could not use. */
  report: ProblemReporter;
  /** Says a one-line warning on stderr. */
  warn(message: string): void;
  /** Some other sink takes the frames, so a missing display need not end the run. */
  headless: boolean;
  /** Says a line of news on stderr (none with --quiet). */
  say?(line: string): void;
  /** The receiver's own counters for a sender, for sinks that show them: counted once, there. */
  statsOf?(connectionId: number): StreamStats | undefined;
}

/**
 * One kind of sink: the `recv` options it adds, their usage errors, and how it opens. A new
 * kind is this, in its sink's file, plus a line in src/sink/registry.ts.
 */
export interface SinkKind<O extends OptionSchema, S = FrameSink> {
  readonly name: string;
  readonly options: O;
  /** Usage errors, given every `recv` setting (a sink may clash with another's). */
  check?(settings: Settings<O>, all: Readonly<Record<string, unknown>>): void;
  /** The sink its settings ask for, or undefined when they ask for none. */
  open(settings: Settings<O> & SharedSinkSettings, context: SinkContext): Promise<S | undefined>;
}
