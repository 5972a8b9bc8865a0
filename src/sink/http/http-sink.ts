/**
 * `recv --http PORT`: the receiver's streams in a browser, or in any MJPEG client. A sink like
 * the others: each frame is published to the viewer at once (the viewer's clients each keep
 * their own newest frame), so it never holds back the other sinks or the senders.
 */
import type { ReceivedFrame } from '../../frame/frame.js';
import type { SinkKind } from '../kind.js';
import type { StreamStats } from '../stream-stats.js';
import type { FrameSink } from '../types.js';
import { RecentIds } from '../window/recent-ids.js';
import { LatencyMeter } from '../window/status.js';
import { httpOptions } from './options.js';
import { listenViewer } from './secure-viewer.js';
import type { StreamFigures } from './served-frame.js';
import type { HttpViewer } from './viewer-server.js';

export const httpSinkKind: SinkKind<typeof httpOptions> = {
  name: 'http',
  options: httpOptions,
  async open({ http, httpMaxClients, ...rest }, context) {
    if (http === undefined) return undefined;
    // `recv --bind ADDR` (every recv setting is given) restricts the viewer to that address too.
    const all = rest as { bind?: unknown; secretFile?: string; secret?: string };
    const bind = typeof all.bind === 'string' ? all.bind : undefined;
    const viewer = await listenViewer({ port: http, host: bind, maxClients: httpMaxClients }, all, (line) => context.say?.(line), context.report);
    return new HttpSink(viewer, (id) => context.statsOf?.(id));
  },
};

/** Figures of one stream: counted once, by the receiver's StreamStats; latency smoothed here. */
export function figuresOf(stats: StreamStats | undefined, latency: LatencyMeter): StreamFigures {
  return {
    fps: stats?.fps() ?? 0,
    latencyMs: latency.ms ?? null,
    dropped: stats?.dropped ?? 0,
    frames: stats?.frames ?? 0,
    bytes: stats?.bytes ?? 0,
  };
}

/**
 * Connections remembered as gone: the receiver says a sender left when its socket closes,
 * which can be before its last frames are out of the queue, and those must not start the
 * stream again.
 */
const REMEMBERED_GONE = 65_536;

export class HttpSink implements FrameSink {
  private readonly latencies = new Map<number, LatencyMeter>();
  private readonly gone = new RecentIds(REMEMBERED_GONE);

  constructor(
    readonly viewer: HttpViewer,
    private readonly statsOf: (connectionId: number) => StreamStats | undefined,
  ) {}

  write(frame: ReceivedFrame): void {
    const id = frame.connectionId;
    if (this.gone.has(id)) return;
    let latency = this.latencies.get(id);
    if (!latency) {
      latency = new LatencyMeter();
      this.latencies.set(id, latency);
    }
    if (frame.meta) latency.add(frame.receivedAt - frame.meta.captureTime);
    const meter = latency;
    this.viewer.publish(id, frame.sender, frame, () => figuresOf(this.statsOf(id), meter));
  }

  senderGone(connectionId: number): void {
    this.gone.add(connectionId);
    this.latencies.delete(connectionId);
    this.viewer.end(connectionId);
  }

  close(): Promise<void> {
    return this.viewer.close();
  }
}
