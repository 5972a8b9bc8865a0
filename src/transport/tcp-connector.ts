/**
 * Keeps one TCP connection to a peer that listens, for an end that connects out (`recv
 * --connect`): it connects, hands the socket over, and when the connection fails or ends it
 * connects again with the backoff of src/flow/backoff.ts, for `retryMs` per outage. It says
 * one line per outage (when the first attempt to get back fails); the connection coming back is
 * the owner's to say (`recv` names every sender that connects). A wrong host name, or an outage
 * longer than `retryMs`, ends it with the connection's error; with `retryMs` 0 the end of the
 * connection is the end.
 */
import type { Socket } from 'node:net';
import { connectSocket } from './connect-socket.js';
import type { Secret } from '../secret/secret.js';
import { NetworkError } from '../errors.js';
import { formatAddress } from './address.js';
import { isRetryable, MAX_RETRY_MS, RetrySchedule } from '../flow/backoff.js';

export interface TcpConnectorOptions {
  /** Set: every connection is TLS authenticated by this shared secret. */
  secret?: Secret | undefined;
  host: string;
  port: number;
  /** How long each outage may last (ms); 0: the first failure is final; Infinity: forever. */
  retryMs: number;
  /** Who is expected to listen there, for the hint of a refused connection: `vstream send --listen`. */
  listener: string;
  /** Takes a connected socket; the connector only watches it close. */
  connected: (socket: Socket) => void;
  /** Says one line (an outage). */
  say: (line: string) => void;
  /** How long one attempt may take (ms). Default 10 s. */
  connectTimeoutMs?: number;
}

export class TcpConnector {
  readonly address: string;
  private closed = false;
  private current: Socket | undefined;
  private connectedAt = 0;
  /** The waits of the outage under way; kept through connections that end at once. */
  private schedule: RetrySchedule | undefined;
  private wake: (() => void) | undefined;
  private first: { socket: Socket } | { error: unknown } | undefined;
  private settle: { resolve(): void; reject(err: unknown): void } | undefined;
  /**
   * Settles when the connector stops on its own: resolves once a connection ended and `retryMs`
   * is 0 (nothing to wait for), rejects with the error it gave up on (a wrong address, or an
   * outage longer than `retryMs`).
   */
  readonly finished: Promise<void>;

  private constructor(private readonly options: TcpConnectorOptions) {
    this.address = formatAddress(options.host, options.port);
    this.finished = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // Whoever holds the connector may not be listening for this yet.
    this.finished.catch(() => {});
  }

  /**
   * Makes the first attempt. Fails with its error when waiting is not allowed (`retryMs` 0, a
   * wrong host name); otherwise the connection is handed over, or the waiting goes on, once
   * `start()` is called: the owner is then ready for what the connection brings.
   */
  static async open(options: TcpConnectorOptions): Promise<TcpConnector> {
    const connector = new TcpConnector(options);
    connector.first = await connector.attempt().then(
      (socket) => ({ socket }),
      (error: unknown) => {
        if (!isRetryable(error) || options.retryMs === 0) throw error;
        return { error };
      },
    );
    return connector;
  }

  /** The peer's port. */
  get port(): number {
    return this.options.port;
  }

  /** Hands the first connection over, or starts waiting for it. */
  start(): void {
    const first = this.first;
    this.first = undefined;
    if (!first) return;
    if ('socket' in first) this.hand(first.socket);
    else void this.reconnect(first.error);
  }

  /** No more connecting; the current connection is closed. */
  close(): void {
    this.closed = true;
    this.wake?.();
    if (this.first && 'socket' in this.first) this.first.socket.destroy();
    this.first = undefined;
    this.current?.destroy();
    this.settle?.resolve();
  }

  private hand(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.current = socket;
    this.connectedAt = performance.now();
    socket.once('close', () => {
      this.current = undefined;
      if (this.closed) return;
      if (this.options.retryMs === 0) {
        this.settle?.resolve();
        return;
      }
      // A connection that ends at once (a sender refusing viewers) is part of the same outage:
      // it is tried again with growing waits, not over and over at once.
      if (performance.now() - this.connectedAt >= MAX_RETRY_MS) this.schedule = undefined;
      void this.reconnect(undefined);
    });
    this.options.connected(socket);
  }

  /**
   * Connects again until it works, `retryMs` runs out or the connector is closed. `error` is
   * why the last attempt failed (none after a connection ended); the first failed attempt of
   * an outage is said.
   */
  private async reconnect(error: unknown): Promise<void> {
    this.schedule ??= new RetrySchedule(this.options.retryMs);
    let said = false;
    let failed = error;
    for (;;) {
      const delay = failed === undefined || isRetryable(failed) ? this.schedule.next() : undefined;
      if (delay === undefined) {
        this.settle?.reject(failed ?? new NetworkError(`lost the connection to ${this.address} (--retry)`, 'ERR_CONNECTION_CLOSED'));
        return;
      }
      if (failed !== undefined && !said) {
        this.options.say(`${(failed as Error).message}; retrying (--retry)`);
        said = true;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.closed) return;
      try {
        const socket = await this.attempt();
        if (this.closed) {
          socket.destroy();
          return;
        }
        this.hand(socket);
        return;
      } catch (err) {
        if (this.closed) return;
        failed = err;
      }
    }
  }

  private async attempt(): Promise<Socket> {
    // The generic hint names `vstream recv`; here it is the peer that should listen.
    return connectSocket({ host: this.options.host, port: this.options.port, timeoutMs: this.options.connectTimeoutMs, secret: this.options.secret, listener: `\`${this.options.listener}\`` });
  }
}
