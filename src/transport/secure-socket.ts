/**
 * TLS over a TCP connection vstream already made or accepted, both ends authenticated by the
 * shared secret: TLS 1.2 with a pre-shared key (RFC 4279/5489), ECDHE for forward secrecy.
 * Node's PSK support is TLS 1.2 only (its TLS 1.3 PSK is for resumption), hence the pinned
 * version. A peer without the secret fails the handshake, before any frame is read or written.
 */
import { connect, createServer, type ConnectionOptions, type Server, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { AuthError } from '../errors.js';
import { formatAddress } from './address.js';
import { LingeringClose } from './lingering-close.js';
import type { Secret } from '../secret/secret.js';

/** Both suites are ECDHE-PSK with an AEAD: ChaCha20 first, AES-GCM for peers that prefer it. */
export const TLS_PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-GCM-SHA384:ECDHE-PSK-AES128-GCM-SHA256';
/** The identity both ends name; the key, not the name, is what proves the secret. */
export const TLS_PSK_IDENTITY = 'vstream';
/** A handshake is a few round trips; longer than this is a peer that is not speaking TLS. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Connections in their handshake at once; one more lets the oldest go. Each holds a socket and
 * some TLS state before it has proved anything, so a flood of idle connections must not pile up.
 */
export const MAX_PENDING_HANDSHAKES = 64;
/**
 * How long a peer may send nothing at all before it is refused. A TLS client sends its
 * ClientHello the moment TCP connects, so silence means a plain peer (a `recv --connect`
 * without the secret waits for frames and says nothing): told sooner than the whole
 * handshake's timeout, while two lost segments resent still arrive in time.
 */
export const FIRST_BYTE_TIMEOUT_MS = 3_000;
/** The first byte of every TLS record that starts a handshake. */
const TLS_HANDSHAKE_RECORD = 0x16;
/**
 * One TLS record (TLS 1.2): a fatal handshake_failure alert (RFC 5246 7.2; 0x15 alert, 03 03,
 * length 2, level 2 fatal, 40 handshake_failure). What this end sends a peer that opened with
 * something else than TLS, or with nothing: a plain vstream end recognises it and says that it
 * lacks the secret, where a bare close would look like a network fault; any TLS stack reads it
 * as a refusal, and a reference program that reads it as a header fails as it did on the close.
 */
export const TLS_HANDSHAKE_FAILURE_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
/**
 * After the alert, a refused connection is read (and what it sends dropped) this long before it
 * is closed: closing with its bytes unread would reset the connection, and a reset can overtake
 * the alert, so the peer would never see it.
 */
export const REFUSED_LINGER_MS = 2000;
/** Refused connections lingering at once at most; past it one is closed at once, without the alert. */
export const MAX_LINGERING_REFUSALS = 64;

/** The TLS key both ends derive from the secret (an openssl `-psk` peer needs it in hex). */
export function tlsPskKey(secret: Secret): Buffer {
  return secret.derive('tls-psk', 32);
}

const commonOptions = {
  ciphers: TLS_PSK_CIPHERS,
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
} as const;

/**
 * The client's end of the handshake over `socket` (connected to `peer`, `HOST:PORT`). Fails
 * with an AuthError saying why: a different secret, or a peer with no secret or no TLS.
 */
export async function secureClient(socket: Socket, secret: Secret, peer: string, timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS): Promise<TLSSocket> {
  const key = tlsPskKey(secret);
  const options: ConnectionOptions = {
    ...commonOptions,
    socket,
    pskCallback: () => ({ identity: TLS_PSK_IDENTITY, psk: key }),
    // No certificate: the key proves who the server is.
    checkServerIdentity: () => undefined,
  };
  const tls = connect(options);
  return handshake(tls, socket, timeoutMs, 'secureConnect', (err) => new AuthError(`TLS handshake with ${peer} failed: ${clientReason(err)}`, 'ERR_AUTH', { cause: err }));
}

/**
 * The server's end: a TLS server that is given each accepted socket (its 'connection' event, as
 * net.Server documents for injected connections) once its first byte says it speaks TLS. A peer
 * that opens with anything else (a plain vstream sender, a reference program) is refused there.
 */
export class SecureAcceptor {
  private readonly server: Server;

  constructor(
    secret: Secret,
    accept: (socket: TLSSocket) => void,
    refused: (error: AuthError) => void,
    private readonly timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS,
  ) {
    const key = tlsPskKey(secret);
    this.server = createServer({
      ...commonOptions,
      handshakeTimeout: timeoutMs,
      pskCallback: (_socket, identity) => (identity === TLS_PSK_IDENTITY ? key : null),
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      this.inHandshake.get(peerOf(socket))?.release(true);
      accept(socket);
    });
    this.server.on('tlsClientError', (err, socket) => {
      const peer = peerOf(socket);
      socket.destroy();
      // Cut off by close() or let go for a newer peer: already said, or nothing to say.
      if (this.closed || this.letGo.delete(peer)) return;
      refused(new AuthError(`refused ${peer}: ${serverReason(err)}`, 'ERR_AUTH', { cause: err }));
    });
    this.refused = refused;
  }

  private readonly refused: (error: AuthError) => void;

  /** Starts the handshake on an accepted connection. */
  handle(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const peer = peerOf(socket);
    if (this.pending >= MAX_PENDING_HANDSHAKES) {
      // The oldest goes, not the newest: a good peer's handshake takes milliseconds, so peers
      // that hold theirs open can no longer keep everyone else out by being there first.
      const [oldestPeer, oldest] = this.inHandshake.entries().next().value!;
      // Said once, here, not again by the handshake it cuts short.
      if (this.letGo.size >= MAX_PENDING_HANDSHAKES) this.letGo.clear();
      this.letGo.add(oldestPeer);
      oldest.socket.destroy();
      oldest.release();
      this.refused(new AuthError(`refused ${oldestPeer}: let go in its TLS handshake for ${peer} (${MAX_PENDING_HANDSHAKES} handshakes were under way)`));
    }
    let counted = true;
    const release = (handedOn = false) => {
      if (counted) this.pending -= 1;
      counted = false;
      this.inHandshake.delete(peer);
      // Handed on, it is its owner's to close; refused, it is held until it is gone.
      if (handedOn) this.held.delete(socket);
    };
    this.pending += 1;
    this.inHandshake.set(peer, { socket, release });
    this.held.add(socket);
    socket.once('close', () => {
      release();
      this.held.delete(socket);
    });
    firstByteIsTls(socket, peer, Math.min(this.timeoutMs, FIRST_BYTE_TIMEOUT_MS)).then(
      () => this.server.emit('connection', socket),
      (refusal: Refusal) => {
        // Refused, it no longer holds a handshake's place while it lingers.
        release();
        if (refusal.tellPeer) this.lingering.close(socket, TLS_HANDSHAKE_FAILURE_ALERT);
        else socket.destroy();
        if (!this.closed && !this.letGo.delete(peer)) this.refused(refusal.error);
      },
    );
  }

  /**
   * Closes every connection that has not proved the secret yet (in its handshake, or refused and
   * lingering): the owner's server waits for all its connections to close, and a peer that
   * stalls its handshake must not hold up the end of a run.
   */
  close(): void {
    this.closed = true;
    for (const socket of this.held) socket.destroy();
    this.held.clear();
  }

  private closed = false;
  /** Peers let go for newer ones, whose cut-short handshakes say nothing more. */
  private readonly letGo = new Set<string>();
  /** Connections not handed on: in their handshake or refused, until they are closed. */
  private readonly held = new Set<Socket>();
  /** Handshakes not finished yet; each is released once handed on, refused or closed. */
  private pending = 0;
  /** Refused connections told so and not closed yet. */
  private readonly lingering = new LingeringClose(MAX_LINGERING_REFUSALS, REFUSED_LINGER_MS);
  /** By peer address (the TLS socket the server hands on names the same one). */
  private readonly inHandshake = new Map<string, { socket: Socket; release: (handedOn?: boolean) => void }>();
}

/** Why a connection is refused before its handshake; `tellPeer`: it is there to read the alert. */
interface Refusal {
  error: AuthError;
  tellPeer: boolean;
}

function peerOf(socket: Socket): string {
  return formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
}

/** Waits for the first byte without consuming it; rejects (a Refusal) a peer that does not start with TLS. */
function firstByteIsTls(socket: Socket, peer: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new AuthError(`refused ${peer}: sent nothing for ${timeoutMs / 1000} s (no TLS handshake): does it have the secret?`), true), timeoutMs);
    const onData = (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      done(chunk[0] === TLS_HANDSHAKE_RECORD ? undefined : new AuthError(`refused ${peer}: sent no TLS handshake: does it have the secret?`), true);
    };
    const onEnd = () => done(new AuthError(`refused ${peer}: closed the connection before a TLS handshake`), false);
    const onError = (err: Error) => done(new AuthError(`refused ${peer}: ${err.message}`, 'ERR_AUTH', { cause: err }), false);
    function done(error: AuthError | undefined, tellPeer: boolean) {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
      if (error) reject({ error, tellPeer } satisfies Refusal);
      else resolve();
    }
    socket.on('data', onData).once('end', onEnd).once('close', onEnd).once('error', onError);
  });
}

function handshake(tls: TLSSocket, raw: Socket, timeoutMs: number, event: 'secureConnect', failed: (err: Error) => AuthError): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(Object.assign(new Error(`no TLS handshake within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
    const onSecure = () => done(undefined);
    const onError = (err: Error) => done(err);
    const onClose = () => done(Object.assign(new Error('closed during the TLS handshake'), { code: 'ECONNRESET' }));
    function done(err: Error | undefined) {
      clearTimeout(timer);
      tls.off(event, onSecure).off('error', onError).off('close', onClose);
      if (err) {
        tls.destroy();
        raw.destroy();
        reject(failed(err));
      } else resolve(tls);
    }
    tls.once(event, onSecure).once('error', onError).once('close', onClose);
  });
}

/** The reason a sender or a receiver that connects out gives. */
function clientReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (/DECRYPT_ERROR|BAD_RECORD_MAC|DIGEST_CHECK|UNKNOWN_PSK|HANDSHAKE_FAILURE/.test(code)) return 'the peer has a different secret';
  if (/ECONNRESET|EPIPE|WRONG_VERSION|PACKET_LENGTH|RECORD_LAYER/.test(code) || /disconnected before secure TLS/.test(err.message)) {
    return 'the peer has no secret (or does not speak TLS)';
  }
  if (code === 'ETIMEDOUT') return `${err.message}: the peer has no secret (or does not speak TLS)`;
  return err.message;
}

/** The reason a receiver or a listening sender gives for a peer it refused. */
function serverReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (/DECRYPT_ERROR|BAD_RECORD_MAC|DIGEST_CHECK|UNKNOWN_PSK|DECRYPTION_FAILED/.test(code)) return 'it has a different secret';
  if (/NO_SHARED_CIPHER|NO_CIPHERS/.test(code)) return 'it offered no shared-secret TLS: does it have the secret?';
  // Node's own code for its server's handshakeTimeout.
  if (/TLS_HANDSHAKE_TIMEOUT$/.test(code)) return `no TLS handshake within ${DEFAULT_HANDSHAKE_TIMEOUT_MS / 1000} s`;
  if (code === 'ECONNRESET') return 'it closed the connection during the TLS handshake (a different secret?)';
  return err.message;
}
