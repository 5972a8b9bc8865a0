import type { ReceivedFrame } from '../frame/frame.js';
import type { FrameSink } from './types.js';
import { StreamWriter } from './stream-writer.js';
import { UsageError } from '../errors.js';
import { flag } from '../options/schema.js';
import type { SinkKind } from './kind.js';

const jsonOptions = { json: flag('--json', 'print one JSON line per frame on stdout') };

/** `recv --json`. */
export const jsonSinkKind: SinkKind<typeof jsonOptions> = {
  name: 'json',
  options: jsonOptions,
  check({ json }, all) {
    if (json && all['output'] === '-') {
      throw new UsageError('--json and --output - both write to standard output: write the frames to a file instead');
    }
  },
  open: async ({ json }) => (json ? new JsonLinesSink() : undefined),
};

/** One frame as a `--json` line. The field names are a public interface: scripts parse them. */
export interface FrameRecord {
  sender: string;
  peer: string;
  seq: number;
  bytes: number;
  width: number | null;
  height: number | null;
  /** Capture on the sender to arrival here; null when the sender sent no capture time. */
  latencyMs: number | null;
  receivedAt: number;
  captureTime: number | null;
  name?: string;
  label?: string;
  /** Files of a folder transfer only: the source type its first message gave (`jpg`). */
  sourceType?: string;
  /** UDP frames only: the stream's loss counters when this frame was delivered (see LossCounters). */
  framesReceived?: number;
  framesDropped?: number;
  datagramsLost?: number;
}

export function frameRecord(frame: ReceivedFrame): FrameRecord {
  const latency = frame.meta ? frame.receivedAt - frame.meta.captureTime : null;
  return {
    sender: frame.sender,
    peer: frame.peer,
    seq: frame.seq,
    bytes: frame.data.length,
    width: frame.width ?? null,
    height: frame.height ?? null,
    latencyMs: latency === null ? null : Math.round(latency * 1000) / 1000,
    receivedAt: Math.round(frame.receivedAt * 1000) / 1000,
    captureTime: frame.meta?.captureTime ?? null,
    ...(frame.meta?.name !== undefined && { name: frame.meta.name }),
    ...(frame.meta?.label !== undefined && { label: frame.meta.label }),
    ...(frame.meta?.sourceType !== undefined && { sourceType: frame.meta.sourceType }),
    ...(frame.loss && {
      framesReceived: frame.loss.framesReceived,
      framesDropped: frame.loss.framesDropped,
      datagramsLost: frame.loss.datagramsLost,
    }),
  };
}

/** Writes one NDJSON line per frame to standard output (or another stream). */
export class JsonLinesSink implements FrameSink {
  private readonly out: StreamWriter;

  constructor(stream: NodeJS.WritableStream = process.stdout) {
    this.out = new StreamWriter(stream, stream === process.stdout ? 'standard output' : 'the JSON output');
  }

  write(frame: ReceivedFrame): Promise<void> {
    return this.out.write([`${JSON.stringify(frameRecord(frame))}\n`]);
  }

  async close(): Promise<void> {}
}
