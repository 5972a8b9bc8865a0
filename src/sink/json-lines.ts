import { jpegDimensions } from '../decode/jpeg-info.js';
import { OutputError } from '../errors.js';
import type { ReceivedFrame } from '../transport/types.js';
import type { StreamStats } from './stream-stats.js';
import type { FrameSink } from './types.js';

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
}

export function frameRecord(frame: ReceivedFrame): FrameRecord {
  const size = jpegDimensions(frame.jpeg);
  const latency = frame.meta ? frame.receivedAt - frame.meta.captureTime : null;
  return {
    sender: frame.sender,
    peer: frame.peer,
    seq: frame.seq,
    bytes: frame.jpeg.length,
    width: size?.width ?? null,
    height: size?.height ?? null,
    latencyMs: latency === null ? null : Math.round(latency * 1000) / 1000,
    receivedAt: Math.round(frame.receivedAt * 1000) / 1000,
    captureTime: frame.meta?.captureTime ?? null,
    ...(frame.meta?.name !== undefined && { name: frame.meta.name }),
    ...(frame.meta?.label !== undefined && { label: frame.meta.label }),
  };
}

/** Writes one NDJSON line per frame to standard output (or another stream). */
export class JsonLinesSink implements FrameSink {
  private failure: OutputError | undefined;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      this.failure ??=
        err.code === 'EPIPE'
          ? new OutputError('standard output was closed by the reader', 'ERR_OUTPUT_CLOSED', { cause: err })
          : new OutputError(`cannot write JSON lines: ${err.message}`, 'ERR_OUTPUT', { cause: err });
    });
  }

  async write(frame: ReceivedFrame, _stats: StreamStats): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.out.write(`${JSON.stringify(frameRecord(frame))}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('error', done);
          resolve();
        };
        this.out.on('drain', done);
        this.out.on('error', done);
      });
    }
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {}
}
