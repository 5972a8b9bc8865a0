/**
 * The HTTP viewer: every live stream as MJPEG (`/stream/NAME`), a snapshot
 * (`/snapshot/NAME.jpg`), their list (`/streams.json`) and a page that tiles them (`/`).
 *
 * Bounded whatever clients do: at most `maxClients` connections (one more gets a 503 and is
 * closed), request headers of at most MAX_HEADER_BYTES that must arrive within
 * HEADERS_TIMEOUT_MS (slowloris), and per stream client one frame waiting (StreamClient).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { wireText } from '../../text/wire-text.js';
import { listenTcp } from '../../transport/listen.js';
import type { ViewerLogin } from './login.js';
import { MULTIPART_TYPE } from './multipart.js';
import { viewerPage } from './page.js';
import { route, type StreamRef } from './routes.js';
import { imageMime, type ServedFrame, type StreamFigures } from './served-frame.js';
import { StreamClient } from './stream-client.js';
import { StreamNames } from './stream-names.js';

export const DEFAULT_MAX_CLIENTS = 64;
/** Request line and headers: a browser's are a few hundred bytes, 8 KB is Node's own default. */
export const MAX_HEADER_BYTES = 8192;
/** A client has this long to send its request headers, then it gets a 408 and is closed. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection (the page between two polls) is closed after this. */
const KEEP_ALIVE_MS = 5_000;
/**
 * A stream that ended keeps its `/stream/NAME` clients this long: a sender that comes back
 * under the same name (a labelled camera reconnecting) goes on in the same browser tile,
 * OctoPrint or Home Assistant view; one that does not ends them, so that ffmpeg and OpenCV
 * see the end of the stream.
 */
export const RETURN_GRACE_MS = 5_000;

export interface HttpViewerOptions {
  port: number;
  /** Unset: every IPv4 and IPv6 address. */
  host?: string;
  maxClients?: number;
  /** The page's title and heading. */
  title?: string;
  returnGraceMs?: number;
  /** With a shared secret: HTTPS with this key and certificate (PEM), and every request logged in. */
  secure?: { key: string; cert: string; login: ViewerLogin };
}

interface LiveStream {
  key: number;
  name: string;
  sender: string;
  latest: ServedFrame | undefined;
  figures: () => StreamFigures;
  clients: Set<StreamClient>;
  since: number;
}

/** Clients of a stream that ended, waiting for it to return under its name. */
interface Orphans {
  clients: Set<StreamClient>;
  timer: NodeJS.Timeout;
}

const NO_CACHE = 'no-store, no-cache, must-revalidate, max-age=0';

export class HttpViewer {
  /** Connections refused because `maxClients` were open. */
  refused = 0;
  /** Connections that had asked for nothing yet, closed for a newer one when `maxClients` were open. */
  letGo = 0;
  private readonly streams = new Map<number, LiveStream>();
  private readonly names = new StreamNames();
  private readonly orphans = new Map<string, Orphans>();
  private readonly sockets = new Set<Socket>();
  /**
   * Connections that have not asked for anything yet (in their TLS handshake or their request
   * headers), oldest first, by peer address: the raw socket and, under TLS, the request's own
   * socket name the same peer.
   */
  private readonly waiting = new Map<string, Socket>();
  private readonly maxClients: number;
  private readonly returnGraceMs: number;
  private readonly page: Buffer;
  private readonly login: ViewerLogin | undefined;
  private closed = false;
  private readonly firstRequest: Promise<void>;
  private requested!: () => void;

  private constructor(
    private readonly server: Server,
    options: HttpViewerOptions,
  ) {
    this.maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.returnGraceMs = options.returnGraceMs ?? RETURN_GRACE_MS;
    this.page = Buffer.from(viewerPage(options.title ?? 'vstream', { logout: options.secure !== undefined }));
    this.login = options.secure?.login;
    this.firstRequest = new Promise((resolve) => (this.requested = resolve));
    server.on('connection', (socket) => this.admit(socket));
    server.on('request', (request, response) => this.serve(request, response));
    // A malformed request, one over the header limit or too slow to come is answered by
    // Node itself (400, 431, 408) and closed: no 'clientError' listener, so that it does.
  }

  static async listen(options: HttpViewerOptions): Promise<HttpViewer> {
    const limits = {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: HEADERS_TIMEOUT_MS * 2,
      keepAliveTimeout: KEEP_ALIVE_MS,
      // How often Node looks for requests past their timeouts; its default (30 s) would let
      // a slowloris hold a connection three times longer than asked.
      connectionsCheckingInterval: 1000,
    };
    const secure = options.secure;
    const server = secure
      ? // A TLS handshake that does not finish is a slowloris too.
        createHttpsServer({ ...limits, key: secure.key, cert: secure.cert, handshakeTimeout: HEADERS_TIMEOUT_MS })
      : createServer(limits);
    const viewer = new HttpViewer(server, options);
    await listenTcp(server, options.port, options.host, 'serve HTTP on');
    return viewer;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Connections open now, stream clients and others. */
  get connections(): number {
    return this.sockets.size;
  }

  /** The newest frame of the stream `key`, shown as `sender`; the stream starts with its first frame. */
  publish(key: number, sender: string, frame: ServedFrame, figures: () => StreamFigures): void {
    if (this.closed || imageMime(frame) === undefined) return;
    const stream = this.streams.get(key) ?? this.declare(key, sender, figures);
    stream.latest = frame;
    for (const client of stream.clients) client.offer(frame);
  }

  /** Starts the stream `key` before its first frame: its clients wait for that frame. */
  declare(key: number, sender: string, figures: () => StreamFigures): LiveStream {
    const existing = this.streams.get(key);
    if (existing) return existing;
    const name = this.names.take(sender);
    const stream: LiveStream = { key, name, sender: wireText(sender), latest: undefined, figures, clients: new Set(), since: Date.now() };
    this.streams.set(key, stream);
    this.adoptOrphans(stream);
    return stream;
  }

  /** Resolves at the first request, of any kind: someone is watching. */
  untilClient(): Promise<void> {
    return this.firstRequest;
  }

  /** The stream `key` ended (its sender left). */
  end(key: number): void {
    const stream = this.streams.get(key);
    if (!stream) return;
    this.streams.delete(key);
    this.names.release(stream.name);
    if (stream.clients.size === 0 || this.closed) {
      for (const client of stream.clients) client.end();
      return;
    }
    const timer = setTimeout(() => {
      this.orphans.delete(stream.name);
      for (const client of stream.clients) client.end();
    }, this.returnGraceMs);
    timer.unref();
    this.orphans.set(stream.name, { clients: stream.clients, timer });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const key of [...this.streams.keys()]) this.end(key);
    for (const [name, orphans] of this.orphans) {
      clearTimeout(orphans.timer);
      for (const client of orphans.clients) client.end();
      this.orphans.delete(name);
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Stream responses never end on their own, and a reader that stopped must not hold the exit.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private adoptOrphans(stream: LiveStream): void {
    const orphans = this.orphans.get(stream.name);
    if (!orphans) return;
    clearTimeout(orphans.timer);
    this.orphans.delete(stream.name);
    for (const client of orphans.clients) stream.clients.add(client);
  }

  private admit(socket: Socket): void {
    // Full, the one that has waited longest without a request goes first: clients that hold
    // connections open and never ask (a slowloris) can no longer keep new viewers out.
    const oldest = this.sockets.size >= this.maxClients && !this.closed ? this.waiting.entries().next().value : undefined;
    if (oldest) {
      const [peer, waited] = oldest;
      this.waiting.delete(peer);
      this.sockets.delete(waited);
      this.letGo += 1;
      waited.destroy();
    }
    if (this.sockets.size >= this.maxClients || this.closed) {
      this.refused += 1;
      // Said before the request is read: reading it would be holding the connection anyway.
      socket.on('error', () => {});
      // Under TLS a plain-text answer would be noise to the client: it is just closed.
      if (this.login) {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n\r\ntoo many clients\n');
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.sockets.add(socket);
    const peer = peerOf(socket);
    this.waiting.set(peer, socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (this.waiting.get(peer) === socket) this.waiting.delete(peer);
    });
    // A reset by the client is its business; the server goes on.
    socket.on('error', () => {});
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    response.on('error', () => {});
    this.waiting.delete(peerOf(request.socket));
    if (this.login && !this.login.admits(request, response)) return;
    this.requested();
    const head = request.method === 'HEAD';
    const target = route(request.method, request.url);
    switch (target.kind) {
      case 'page':
        return this.send(response, 200, 'text/html; charset=utf-8', this.page, head);
      case 'streams':
        return this.send(response, 200, 'application/json', Buffer.from(`${JSON.stringify(this.list())}\n`), head);
      case 'snapshot': {
        const frame = this.find(target.stream)?.latest;
        if (!frame) return this.noStream(response, target.stream, head);
        return this.send(response, 200, imageMime(frame)!, frame.data, head, frame.captureTime);
      }
      case 'stream':
        return this.stream(response, target.stream, target.advanceHeaders ?? paintsOneFrameLate(request), head);
      case 'method-not-allowed':
        response.setHeader('Allow', 'GET, HEAD');
        return this.send(response, 405, 'text/plain', Buffer.from('only GET and HEAD\n'), false);
      case 'not-found':
        return this.send(response, 404, 'text/plain', Buffer.from('not found\n'), head);
    }
  }

  private stream(response: ServerResponse, ref: StreamRef, advanceHeaders: boolean, head: boolean): void {
    const stream = this.find(ref);
    if (!stream) return this.noStream(response, ref, head);
    // A raw body that ends with the connection, as MJPEG clients expect it, not chunked.
    response.useChunkedEncodingByDefault = false;
    response.shouldKeepAlive = false;
    response.writeHead(200, {
      'Content-Type': MULTIPART_TYPE,
      'Cache-Control': NO_CACHE,
      Pragma: 'no-cache',
      Connection: 'close',
    });
    if (head) {
      response.end();
      return;
    }
    response.socket?.setNoDelay(true);
    const client = new StreamClient(response, advanceHeaders);
    stream.clients.add(client);
    if (stream.latest) client.offer(stream.latest);
    void client.run().finally(() => {
      // The stream may have ended and returned meanwhile: the client is wherever it is now.
      for (const live of this.streams.values()) live.clients.delete(client);
      for (const orphans of this.orphans.values()) orphans.clients.delete(client);
    });
  }

  private find(ref: StreamRef): LiveStream | undefined {
    if ('first' in ref) return this.streams.values().next().value;
    for (const stream of this.streams.values()) if (stream.name === ref.name) return stream;
    return undefined;
  }

  private noStream(response: ServerResponse, ref: StreamRef, head: boolean): void {
    // 503 while nothing streams yet (a client may retry), 404 for a name that is not live.
    if ('first' in ref) {
      response.setHeader('Retry-After', '1');
      return this.send(response, 503, 'text/plain', Buffer.from('no stream yet\n'), head);
    }
    return this.send(response, 404, 'text/plain', Buffer.from('no such stream\n'), head);
  }

  private send(response: ServerResponse, status: number, type: string, body: Buffer, head: boolean, captureTime?: number): void {
    response.writeHead(status, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': NO_CACHE,
      ...(captureTime !== undefined && { 'X-Timestamp': (captureTime / 1000).toFixed(6) }),
    });
    response.end(head ? undefined : body);
  }

  /** `/streams.json`: see docs/PROTOCOL.md for the schema. */
  private list(): { streams: StreamEntry[] } {
    return {
      streams: [...this.streams.values()].map((stream) => {
        const figures = stream.figures();
        return {
          name: stream.name,
          sender: stream.sender,
          width: stream.latest?.width ?? null,
          height: stream.latest?.height ?? null,
          fps: figures.fps,
          latencyMs: figures.latencyMs === null ? null : Math.round(figures.latencyMs * 10) / 10,
          dropped: figures.dropped,
          frames: figures.frames,
          bytes: figures.bytes,
          clients: stream.clients.size,
          since: stream.since,
          urls: { stream: `/stream/${stream.name}`, snapshot: `/snapshot/${stream.name}.jpg` },
        };
      }),
    };
  }
}

/**
 * Chrome and the browsers built on it (Edge, Opera, Brave, Android's) show a multipart part
 * only once the next part's headers have come: they get those headers right after each image
 * unless they ask otherwise. Other clients (ffmpeg, OpenCV, Firefox, Home Assistant's server
 * side) keep Content-Length.
 */
export function paintsOneFrameLate(request: IncomingMessage): boolean {
  return /(?:Chrome|Chromium|CriOS)\//.test(request.headers['user-agent'] ?? '');
}

export interface StreamEntry {
  name: string;
  sender: string;
  width: number | null;
  height: number | null;
  fps: number;
  latencyMs: number | null;
  dropped: number;
  frames: number;
  bytes: number;
  clients: number;
  since: number;
  urls: { stream: string; snapshot: string };
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'} ${socket.remotePort ?? 0}`;
}
