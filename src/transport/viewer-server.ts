/**
 * A sender that listens (`send --listen`): receivers connect to it and each gets the normal
 * vstream TCP stream, the 16-byte header and the JPEG with its metadata, exactly as
 * `send --to` writes it. Every frame is framed once and offered to every viewer's own slot
 * (src/transport/viewer.ts), so a slow or stalled viewer never holds up the source or the
 * others: it gets the newest frame when it can take one. What the sender holds is bounded by
 * `maxViewers` times two frames, whatever the viewers do.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { tcpFrame } from '../frame/framer.js';
import { frameMeta } from '../frame/frame-meta.js';
import { partsLength, payloadParts } from '../frame/payload.js';
import type { VstreamError } from '../errors.js';
import type { Problem } from '../problems.js';
import type { Frame } from '../frame/frame.js';
import type { Sender, SendOptions } from './types.js';
import { formatAddress } from './address.js';
import { listenTcp, listeningWhere } from './listen.js';
import { acceptSecurely, type SecureAccept } from './secure-accept.js';
import type { Secret } from '../secret/secret.js';
import { stalledError, Viewer, type ViewerTally } from './viewer.js';

export const DEFAULT_MAX_VIEWERS = 32;
/** Viewers named one by one in the summary; the others are counted. */
export const VIEWERS_NAMED = 5;

export interface ViewerServerOptions {
  /** Set: every connection is TLS authenticated by this shared secret. */
  secret?: Secret | undefined;
  /** 0: any free port (see `port`). */
  port: number;
  /** Unset: every IPv4 and IPv6 address. */
  host?: string | undefined;
  /** Viewers connected at once; one more is refused. */
  maxViewers?: number;
  /** A viewer that takes no byte of a frame for this long is disconnected (ms). */
  stallTimeoutMs: number;
  metadata: boolean;
  label: string | undefined;
}

export interface ViewerServerEvents {
  viewer: [{ name: string }];
  viewerGone: [ViewerTally & { error?: VstreamError }];
  problem: [Problem];
}

export class ViewerServer extends EventEmitter<ViewerServerEvents> implements Sender {
  private readonly viewers = new Set<Viewer>();
  /** The first viewers, for the summary; later ones only count. */
  private readonly named: Viewer[] = [];
  private viewersEver = 0;
  private framesOffered = 0;
  private unwatchedFrames = 0;
  private bytesOfGone = 0;
  private firstViewer: (() => void) | undefined;
  private readonly firstViewerCame: Promise<void>;
  private readonly sweep: NodeJS.Timeout;
  private closing = false;
  private readonly acceptor: SecureAccept;

  private constructor(
    private readonly server: Server,
    private readonly options: ViewerServerOptions,
  ) {
    super();
    this.firstViewerCame = new Promise((resolve) => (this.firstViewer = resolve));
    this.acceptor = acceptSecurely(options.secret, (socket) => this.accept(socket), (problem) => this.emit('problem', problem));
    server.on('connection', this.acceptor);
    // After listen, only accept fails (EMFILE, ...): the server goes on.
    server.on('error', (err) => this.emit('problem', { code: 'ERR_NETWORK', message: `cannot accept a viewer: ${err.message}` }));
    const stallMs = options.stallTimeoutMs;
    // One sweep for all viewers, not a timer each.
    this.sweep = setInterval(() => this.dropStalled(stallMs), Math.min(1000, Math.max(10, stallMs / 10)));
    this.sweep.unref();
  }

  static async listen(options: ViewerServerOptions): Promise<ViewerServer> {
    const server = createServer({ noDelay: true });
    await listenTcp(server, options.port, options.host);
    return new ViewerServer(server, options);
  }

  /** The port actually bound. */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** `port 9000` or `[::1]:9000`. */
  get where(): string {
    return listeningWhere(this.options.host, this.port);
  }

  /** `3 viewers on port 9000`, for the summary line. */
  get address(): string {
    return `${this.viewersEver} viewer${this.viewersEver === 1 ? '' : 's'} on ${this.where}`;
  }

  /** Frames offered to the viewers connected then (none, maybe). */
  get framesSent(): number {
    return this.framesOffered;
  }

  /** Bytes the kernel took, over every viewer. */
  get bytesSent(): number {
    let bytes = this.bytesOfGone;
    for (const viewer of this.viewers) bytes += viewer.bytes;
    return bytes;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Resolves once a viewer has connected. */
  untilViewer(): Promise<void> {
    return this.firstViewerCame;
  }

  /** `; 127.0.0.1:5000: 300, [::1]:5002: 120 (180 missed), 2 more; 30 with no viewer`. */
  summaryNote(): string {
    const named = this.named.map((viewer) => {
      const { name, sent, missed } = viewer.tally;
      return `${name}: ${sent}${missed > 0 ? ` (${missed} missed)` : ''}`;
    });
    const more = this.viewersEver - this.named.length;
    const list = named.length > 0 ? `; ${named.join(', ')}${more > 0 ? `, ${more} more` : ''}` : '';
    return `${list}${this.unwatchedFrames > 0 ? `; ${this.unwatchedFrames} with no viewer` : ''}`;
  }

  /** Frames one viewer each, framed once. Never waits: every viewer takes the newest when it can. */
  send(frame: Frame | Buffer, options: SendOptions = {}): Promise<void> {
    const seq = options.seq ?? this.framesOffered;
    this.framesOffered += 1;
    if (this.viewers.size === 0) {
      this.unwatchedFrames += 1;
      return Promise.resolve();
    }
    // Live to every viewer whatever the source: a viewer that falls behind drops, never queues.
    const meta = frameMeta(frame, { metadata: this.options.metadata, seq, label: this.options.label, live: true });
    const parts = tcpFrame(payloadParts(frame, meta));
    const wire = { parts, bytes: partsLength(parts) };
    for (const viewer of this.viewers) viewer.offer(wire);
    return Promise.resolve();
  }

  /** Stops taking viewers; each gets what it was given (bounded by the stall timeout), then the connection ends. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.acceptor.close();
    const viewers = [...this.viewers];
    for (const viewer of viewers) viewer.finish();
    await Promise.all(viewers.map((viewer) => viewer.gone));
    await closed;
    clearInterval(this.sweep);
  }

  /** Drops every viewer at once. */
  destroy(): void {
    this.closing = true;
    clearInterval(this.sweep);
    this.server.close();
    this.acceptor.close();
    for (const viewer of this.viewers) viewer.drop();
  }

  private accept(socket: Socket): void {
    const name = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.closing) {
      socket.destroy();
      return;
    }
    const max = this.options.maxViewers ?? DEFAULT_MAX_VIEWERS;
    if (this.viewers.size >= max) {
      socket.destroy();
      this.emit('problem', { code: 'ERR_TOO_MANY_VIEWERS', message: `refused a viewer from ${name}: ${max} viewers are connected (--max-viewers)` });
      return;
    }
    const viewer = new Viewer(socket, this.options.stallTimeoutMs);
    this.viewers.add(viewer);
    this.viewersEver += 1;
    if (this.named.length < VIEWERS_NAMED) this.named.push(viewer);
    void viewer.gone.then(() => {
      this.viewers.delete(viewer);
      this.bytesOfGone += viewer.bytes;
      // Viewers this sender lets go on its way out are not news: the summary counts them.
      if (this.closing) return;
      const error = viewer.error;
      this.emit('viewerGone', { ...viewer.tally, ...(error && { error }) });
    });
    this.emit('viewer', { name: viewer.name });
    this.firstViewer?.();
    this.firstViewer = undefined;
  }

  private dropStalled(stallMs: number): void {
    const now = performance.now();
    for (const viewer of this.viewers) {
      // Said when it is gone (`viewerGone`, with this error).
      if (viewer.stalledFor(stallMs, now)) viewer.drop(stalledError(viewer.name, stallMs));
    }
  }
}
