/**
 * `send --http PORT`: the sender's own frames served as `recv --http` serves received ones,
 * one stream named by the label. The figures are counted as a receiver counts them, with
 * capture-to-send as the latency and the frames the source dropped as gaps in `seq`.
 */
import type { Frame, ReceivedFrame } from '../../frame/frame.js';
import { StreamStats, nowMs } from '../stream-stats.js';
import { LatencyMeter } from '../window/status.js';
import { figuresOf } from './http-sink.js';
import { httpOptions } from './options.js';
import { listenViewer } from './secure-viewer.js';
import type { HttpViewer } from './viewer-server.js';
import type { SendTap, SendTapKind } from '../send-tap.js';

/** The one stream a sender serves. */
const STREAM_KEY = 0;

export const httpSendTap: SendTapKind<typeof httpOptions> = {
  name: 'http',
  options: httpOptions,
  asked: ({ http }) => (http === undefined ? undefined : '--http'),
  async open({ http, httpMaxClients, ...rest }, { say, report, label, bind }) {
    if (http === undefined) return undefined;
    // Every send setting is given: the secret among them.
    const viewer = await listenViewer({ port: http, host: bind, maxClients: httpMaxClients }, rest as { secretFile?: string; secret?: string }, say, report);
    return new HttpSendTap(viewer, label ?? 'vstream');
  },
};

export class HttpSendTap implements SendTap {
  private readonly stats = new StreamStats();
  private readonly latency = new LatencyMeter();

  constructor(
    readonly viewer: HttpViewer,
    private readonly name: string,
  ) {
    // Declared before its first frame: a client that comes first (and so starts a source that
    // waits for viewers) waits for that frame rather than being told there is no stream.
    viewer.declare(STREAM_KEY, name, () => figuresOf(this.stats, this.latency));
  }

  frame(frame: Frame, seq: number): void {
    const now = nowMs();
    const captureTime = frame.captureTime ?? now;
    // The receiver's own bookkeeping, so that both ends' figures mean the same.
    const counted: ReceivedFrame = { ...frame, sender: this.name, peer: 'local', connectionId: STREAM_KEY, seq, receivedAt: now, meta: { seq, captureTime } };
    const latency = this.stats.record(counted, now);
    if (latency !== undefined) this.latency.add(latency);
    this.viewer.publish(STREAM_KEY, this.name, frame, () => figuresOf(this.stats, this.latency));
  }

  untilWanted(): Promise<void> {
    return this.viewer.untilClient();
  }

  close(): Promise<void> {
    return this.viewer.close();
  }
}
