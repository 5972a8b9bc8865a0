import { NetworkError, type NetworkCode } from '../errors.js';

/**
 * Turns a Node socket error into a one-line NetworkError. `what` names the operation and the
 * address, e.g. "cannot connect to [::1]:8088".
 */
export function networkError(what: string, err: unknown): NetworkError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason: Record<string, [string, NetworkCode]> = {
    ECONNREFUSED: ['connection refused (is `vstream recv` listening there?)', 'ERR_CONNECTION_REFUSED'],
    ENOTFOUND: ['host name not found', 'ERR_HOST_NOT_FOUND'],
    EAI_AGAIN: ['host name lookup failed (no DNS?)', 'ERR_HOST_NOT_FOUND'],
    EHOSTUNREACH: ['host unreachable', 'ERR_HOST_UNREACHABLE'],
    ENETUNREACH: ['network unreachable', 'ERR_HOST_UNREACHABLE'],
    ETIMEDOUT: ['timed out (host down or a firewall dropping packets?)', 'ERR_TIMEOUT'],
    ECONNRESET: ['connection reset by the peer', 'ERR_CONNECTION_CLOSED'],
    EPIPE: ['the peer closed the connection', 'ERR_CONNECTION_CLOSED'],
    EADDRINUSE: ['address already in use (another `vstream recv` on this port?)', 'ERR_PORT_IN_USE'],
    EACCES: ['permission denied (ports below 1024 need privileges)', 'ERR_PORT_DENIED'],
    EADDRNOTAVAIL: ['address not available on this machine', 'ERR_BAD_BIND'],
    EAFNOSUPPORT: ['address family not supported (IPv6 disabled?)', 'ERR_BAD_BIND'],
  };
  const known = code ? reason[code] ?? tlsReason(code) : undefined;
  if (known) return new NetworkError(`${what}: ${known[0]}`, known[1], { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new NetworkError(`${what}: ${message}`, 'ERR_NETWORK', { cause: err });
}

/** A TLS connection that failed after its handshake, said in one line instead of OpenSSL's. */
function tlsReason(code: string): [string, NetworkCode] | undefined {
  // OpenSSL's errors as Node names them (ERR_SSL_...), not vstream's codes.
  const openssl = /^ERR_SSL_(.+)$/.exec(code);
  if (!openssl) return undefined;
  if (/BAD_RECORD_MAC|DECRYPTION_FAILED/.test(code)) return ['a TLS record failed its authentication check (altered in flight): connection closed', 'ERR_CONNECTION_CLOSED'];
  return [`TLS error (${openssl[1]!.toLowerCase().replace(/_/g, ' ')})`, 'ERR_CONNECTION_CLOSED'];
}
