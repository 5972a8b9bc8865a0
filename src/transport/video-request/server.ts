/**
 * The video server: clients connect, name a video in the folder, and each gets its own playback
 * of it. What clients can make it hold is bounded: playbacks (a source, usually an ffmpeg,
 * each) at once, connections still making their request, and the time each may take.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { formatAddress } from '../address.js';
import { networkError } from '../socket-errors.js';
import { listenTcp } from '../listen.js';
import { LingeringClose } from '../lingering-close.js';
import { acceptSecurely, type SecureAccept } from '../secure-accept.js';
import type { Secret } from '../../secret/secret.js';
import { VstreamError, type ErrorCode } from '../../errors.js';
import type { ProblemReporter } from '../../problems.js';
import { wireText } from '../../text/wire-text.js';
import type { OpenedFileSource } from '../kind.js';
import type { Frame } from '../../frame/frame.js';
import { readRequest, REQUEST_QUIET_MS, REQUEST_WAIT_MS, type RequestTiming } from './request-reader.js';
import { play, type PlaybackEnd } from './playback.js';
import type { VideoFolder } from './video-folder.js';
import { ACCEPTED, LIST_HEADER, LIST_REQUEST, refusal } from './wire.js';

/** Playbacks at once unless told otherwise: each is a decoder process. */
export const DEFAULT_MAX_CLIENTS = 8;
/** Connections still making their request at once; past it the oldest is let go. */
export const MAX_REQUESTING = 64;
/** A connection refused or finished is closed after this long even if its client is not done. */
const LINGER_MS = 2000;
/** Connections lingering at once at most. */
const MAX_LINGERING = 64;
/**
 * Between `True` and the first frame. The reference client reads the answer with one
 * `recv(1024)` and compares it with `True`: a frame already behind it in the same read would
 * make it give up. The reference server leaves this gap by opening the video in between.
 */
const ACCEPTED_PAUSE_MS = 100;
/** Clients the summary names one by one; the rest are counted. */
const SUMMARY_CLIENTS = 8;

export interface VideoServerOptions {
  folder: VideoFolder;
  port: number;
  /** Unset: every IPv4 and IPv6 address. */
  host?: string | undefined;
  maxClients: number;
  metadata: boolean;
  label: string | undefined;
  openFileSource(path: string): Promise<OpenedFileSource>;
  /** Problems clients caused (refused requests, timeouts): the caller rate-limits them. */
  report: ProblemReporter;
  /** Clients coming and going, one line each. */
  say(line: string): void;
  timing?: Partial<RequestTiming> & { replyWaitMs?: number };
  /** Set: every client must prove this secret in a TLS handshake before it may ask for anything. */
  secret?: Secret | undefined;
}

interface Played {
  peer: string;
  name: string;
  frames: number;
  end: PlaybackEnd | 'playing';
}

export class VideoServer {
  private readonly requesting = new Set<Socket>();
  /** Playbacks, and those still opening their source (undefined until it is open). */
  private readonly playing = new Map<Socket, OpenedFileSource | undefined>();
  private readonly played: Played[] = [];
  private playedCount = 0;
  private refused = 0;
  private readonly stop = new AbortController();
  private readonly finished = new Set<Promise<void>>();
  /** Connections answered and waiting for their client to close. */
  private readonly lingering = new LingeringClose(MAX_LINGERING, LINGER_MS);
  private readonly acceptor: SecureAccept;

  private constructor(
    private readonly server: Server,
    private readonly options: VideoServerOptions,
  ) {
    const serve = (socket: Socket) => {
      this.serve(socket).catch((err: unknown) => {
        socket.destroy();
        options.report({ code: 'ERR_NETWORK', message: `a client's connection failed: ${err instanceof Error ? err.message : String(err)}` });
      });
    };
    this.acceptor = acceptSecurely(options.secret, serve, options.report);
    server.on('connection', this.acceptor);
    server.on('error', (err) => {
      const { code, message } = networkError('cannot accept a connection', err);
      options.report({ code, message });
    });
  }

  static async listen(options: VideoServerOptions): Promise<VideoServer> {
    const server = createServer({ noDelay: true });
    await listenTcp(server, options.port, options.host);
    return new VideoServer(server, options);
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** `served 3 clients (traffic.avi to [::1]:40000: 20 frames, ...); 2 requests refused`. */
  summary(): string {
    const listed = this.played.map((p) => `${wireText(p.name)} to ${p.peer}: ${p.frames} frame${p.frames === 1 ? '' : 's'}${p.end === 'playing' ? ' (still playing)' : ''}`);
    const more = this.playedCount - this.played.length;
    const list = listed.length > 0 ? ` (${listed.join(', ')}${more > 0 ? `, and ${more} more` : ''})` : '';
    return `served ${this.playedCount} client${this.playedCount === 1 ? '' : 's'}${list}; ${this.refused} request${this.refused === 1 ? '' : 's'} refused`;
  }

  /** Stops accepting, ends every playback (with `EOF`) and resolves once all are let go. */
  async close(): Promise<void> {
    this.stop.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.acceptor.close();
    for (const socket of this.requesting) socket.destroy();
    await Promise.all([...this.playing.values()].map((source) => source?.close().catch(() => {})));
    await Promise.all(this.finished);
    await closed;
  }

  private async serve(socket: Socket): Promise<void> {
    const peer = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.stop.signal.aborted) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {});
    if (this.requesting.size >= MAX_REQUESTING) {
      const oldest = this.requesting.values().next().value!;
      this.requesting.delete(oldest);
      oldest.destroy();
      this.problem('ERR_REPLACED', `a client that had made no request yet was let go for ${peer}: ${MAX_REQUESTING} connections were making one`);
    }
    this.requesting.add(socket);
    const timing = this.options.timing ?? {};
    let request: Buffer;
    try {
      request = await readRequest(socket, { quietMs: timing.quietMs ?? REQUEST_QUIET_MS, waitMs: timing.waitMs ?? REQUEST_WAIT_MS });
    } catch (err) {
      const error = err as VstreamError;
      if (this.requesting.delete(socket)) this.problem(error.code, `${peer} ${error.message}`);
      socket.destroy();
      return;
    } finally {
      this.requesting.delete(socket);
    }
    if (this.stop.signal.aborted) {
      socket.destroy();
      return;
    }
    if (request.equals(LIST_REQUEST)) {
      await this.list(socket);
      return;
    }
    const name = request.toString('utf8');
    const shown = `"${wireText(name)}"`;
    if (this.playing.size >= this.options.maxClients) {
      this.refuse(socket, `busy: ${this.options.maxClients} clients are playing (--max-clients)`);
      this.problem('ERR_TOO_MANY_CONNECTIONS', `refused ${shown} to ${peer}: ${this.options.maxClients} clients are playing (--max-clients)`);
      return;
    }
    const found = await this.options.folder.lookup(request);
    if (!found.found) {
      this.refuse(socket, found.reason);
      this.problem('ERR_BAD_REQUEST', `refused ${shown} to ${peer}: ${found.reason}`);
      return;
    }
    await this.playFor(socket, peer, name, found.path);
  }

  private async playFor(socket: Socket, peer: string, name: string, path: string): Promise<void> {
    const shown = `"${wireText(name)}"`;
    let source: OpenedFileSource;
    let first: IteratorResult<Frame>;
    let rest: AsyncIterator<Frame>;
    // Counted from the start: its decoder runs while the first frame is awaited.
    this.playing.set(socket, undefined);
    try {
      source = await this.options.openFileSource(path);
      this.playing.set(socket, source);
      // Opened after the server began to close: nobody else will close it.
      if (this.stop.signal.aborted) await source.close();
      rest = source[Symbol.asyncIterator]();
      // `True` only once a frame is there: a file that is no video is refused instead.
      first = await rest.next();
    } catch (err) {
      this.playing.delete(socket);
      const reason = err instanceof VstreamError ? err.message : String(err);
      this.refuse(socket, 'cannot play it');
      this.problem(err instanceof VstreamError ? err.code : 'ERR_SOURCE', `refused ${shown} to ${peer}: ${reason}`);
      return;
    }
    if (first.done || this.stop.signal.aborted || socket.destroyed) {
      this.playing.delete(socket);
      await source.close().catch(() => {});
      if (this.stop.signal.aborted || socket.destroyed) socket.destroy();
      else {
        this.refuse(socket, 'no frames in it');
        this.problem('ERR_BAD_REQUEST', `refused ${shown} to ${peer}: it has no frames`);
      }
      return;
    }
    const record: Played = { peer, name, frames: 0, end: 'playing' };
    this.playedCount += 1;
    if (this.played.length < SUMMARY_CLIENTS) this.played.push(record);
    this.options.say(`${peer} plays ${shown}`);
    socket.write(ACCEPTED);
    const done = (async () => {
      const result = await play({
        pauseMs: ACCEPTED_PAUSE_MS,
        socket,
        first: first.value,
        rest,
        metadata: this.options.metadata,
        label: this.options.label,
        stopped: this.stop.signal,
        ...(this.options.timing?.replyWaitMs !== undefined && { replyWaitMs: this.options.timing.replyWaitMs }),
      });
      this.playing.delete(socket);
      await source.close().catch(() => {});
      record.frames = result.frames;
      record.end = result.end;
      this.linger(socket);
      if (result.end === 'source failed') {
        const error = result.error;
        this.problem(error instanceof VstreamError ? error.code : 'ERR_SOURCE', `${peer}: ${shown} failed after ${result.frames} frames: ${error instanceof Error ? error.message : String(error)}`);
      } else if (result.end === 'no reply') {
        this.problem('ERR_IDLE_TIMEOUT', `${peer}: ${shown} stopped after ${result.frames} frames: no reply to a frame in ${(this.options.timing?.replyWaitMs ?? 30_000) / 1000} s`);
      } else this.options.say(`${peer}: ${shown} ended after ${result.frames} frames (${result.end})`);
    })();
    this.finished.add(done);
    await done;
    this.finished.delete(done);
  }

  /** The names on offer, one a line, then an empty line, so that a cut-off list shows. */
  private async list(socket: Socket): Promise<void> {
    const names = await this.options.folder.names();
    socket.end(`${LIST_HEADER}\n${names.map((name) => `${name}\n`).join('')}\n`);
    this.linger(socket);
  }

  /** A one-line answer that is not `True`: the reference client takes it as the end. */
  private refuse(socket: Socket, reason: string): void {
    this.refused += 1;
    socket.end(refusal(reason));
    this.linger(socket);
  }

  /** The answer has been written: the connection waits for its client to close, bounded. */
  private linger(socket: Socket): void {
    this.lingering.close(socket);
  }

  private problem(code: ErrorCode, message: string): void {
    this.options.report({ code, message });
  }
}

