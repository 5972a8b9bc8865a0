/**
 * Opening UDP sockets the way the TCP transport opens its sockets: dual-stack by default, one
 * family picked from the address otherwise, and every failure a one-line NetworkError naming
 * the address. Shared by the legacy and the new-format UDP transports.
 */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';

/**
 * Asked for on every socket: the default (about 208 KiB on Linux) holds only ~90 datagrams of
 * 1 KiB, one 100 KiB JPEG, so a receiver that is busy for a moment would lose pieces. The
 * kernel silently caps it at `net.core.rmem_max`.
 */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface BindOptions {
  /** 0 picks a free port. */
  port: number;
  /** Address to bind. Default: every IPv4 and IPv6 address on one socket. */
  host?: string;
  recvBufferSize?: number;
}

/** A bound socket. Fails with NetworkError ERR_PORT_IN_USE, ERR_BAD_BIND, ... */
export async function bindUdp(options: BindOptions): Promise<Socket> {
  const where = options.host ? formatAddress(options.host, options.port) : `UDP port ${options.port}`;
  const recvBufferSize = options.recvBufferSize ?? DEFAULT_RECV_BUFFER_BYTES;
  try {
    if (options.host) {
      const address = await resolve(options.host);
      return await bindOn(address.family === 6 ? 'udp6' : 'udp4', address.address, options.port, recvBufferSize);
    }
    // One dual-stack socket serves IPv4 (as ::ffff:a.b.c.d) and IPv6; hosts without IPv6 fall
    // back to IPv4 only.
    return await bindOn('udp6', '::', options.port, recvBufferSize).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
      return bindOn('udp4', '0.0.0.0', options.port, recvBufferSize);
    });
  } catch (err) {
    throw networkError(`cannot listen on ${where}`, err);
  }
}

export interface ConnectOptions {
  host: string;
  port: number;
  recvBufferSize?: number;
}

/**
 * A socket connected to `host:port` (a name is resolved once, first address wins). Connected,
 * the kernel drops datagrams from anyone else and reports an ICMP "port unreachable" as an
 * ECONNREFUSED `error` event, so a sender learns at once that nothing listens there.
 */
export async function connectUdp(options: ConnectOptions): Promise<Socket> {
  const where = formatAddress(options.host, options.port);
  let socket: Socket | undefined;
  try {
    const address = await resolve(options.host);
    socket = createSocket({
      type: address.family === 6 ? 'udp6' : 'udp4',
      recvBufferSize: options.recvBufferSize ?? DEFAULT_RECV_BUFFER_BYTES,
    });
    await settle(socket, 'connect', (s, done) => s.connect(options.port, address.address, done));
    return socket;
  } catch (err) {
    socket?.close();
    throw networkError(`cannot reach ${where}`, err);
  }
}

/** A UDP sender silent this long is gone (`disconnect`): datagrams have no other end of stream to rely on. */
export const DEFAULT_UDP_SILENCE_MS = 5000;

/** `host:port` of a datagram's source, as the TCP transport names peers. */
export function datagramPeer(rinfo: { address: string; port: number }): string {
  return formatAddress(rinfo.address, rinfo.port);
}

/**
 * Replies sent from a receiving socket, best effort like every datagram. A send to an address
 * leaves a tick later, so closing the socket at once would swallow the reply to the last frame
 * (`recv --frames N`) and leave a stop-and-wait sender waiting forever: `flushed()` waits for it.
 */
export class DatagramReplies {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly socket: Socket) {}

  send(data: Buffer, port: number, address: string): void {
    this.inFlight += 1;
    this.socket.send(data, port, address, () => {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const resolve of this.waiting.splice(0)) resolve();
    });
  }

  /** Resolves once every reply handed over so far has left. */
  flushed(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }
}

async function resolve(host: string): Promise<{ address: string; family: number }> {
  const plain = host.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(plain.replace(/%.*$/, ''));
  if (family !== 0) return { address: plain, family };
  return lookup(plain);
}

async function bindOn(type: SocketType, address: string, port: number, recvBufferSize: number): Promise<Socket> {
  // ipv6Only false is the default on Linux but not on every OS; say it.
  const socket = createSocket({ type, ipv6Only: false, recvBufferSize });
  try {
    await settle(socket, 'bind', (s, done) => s.bind({ port, address, exclusive: true }, done));
    return socket;
  } catch (err) {
    socket.close();
    throw err;
  }
}

/** Runs a callback-style socket operation whose failure arrives as an `error` event. */
function settle(socket: Socket, what: string, start: (socket: Socket, done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    try {
      start(socket, () => {
        socket.off('error', onError);
        resolve();
      });
    } catch (err) {
      socket.off('error', onError);
      reject(err instanceof Error ? err : new Error(`${what} failed: ${String(err)}`));
    }
  });
}
