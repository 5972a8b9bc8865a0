/**
 * The HTTPS viewer's key and certificate, derived from the shared secret alone: browsers cannot
 * do TLS-PSK, and a certificate made at random would change at every start, so the one a user
 * accepted (or whose fingerprint they pinned) would be a stranger the next day. Here both ends
 * and every restart with the same secret give the same ECDSA P-256 key and the same self-signed
 * certificate, byte for byte (P-256 because Chrome takes it, where it refuses Ed25519).
 *
 * node:crypto cannot make a certificate and signs ECDSA with a random nonce, so the DER is
 * written here and the one signature is computed here too, with a nonce derived from the
 * secret and the exact bytes signed (the idea of RFC 6979: never the same nonce for two
 * different messages, so the key cannot leak).
 */
import { createECDH, createHash, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Secret } from '../../secret/secret.js';

/** The order of P-256's base point. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

export interface ViewerCertificate {
  /** PEM, as node:tls takes them. */
  key: string;
  cert: string;
  /** `AB:CD:...`, SHA-256 of the DER, as browsers show it. */
  fingerprint256: string;
}

export function viewerCertificate(secret: Secret): ViewerCertificate {
  const d = scalar(secret.derive('https-key', 32));
  const point = publicPoint(d);
  const privateKey = createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', d: bytes32(d).toString('base64url'), x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const tbs = toBeSigned(spki, secret.derive('https-serial', 16));
  const nonce = scalar(secret.derive('https-cert-nonce', 32, createHash('sha256').update(tbs).digest()));
  const signature = sign(d, nonce, tbs);
  const der = seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const certificate = new X509Certificate(der);
  return { key: pem(privateKey), cert: certificate.toString(), fingerprint256: certificate.fingerprint256 };
}

function pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** 32 bytes as a scalar in [1, n-1]: the bias of one reduction is 2^-128, nothing to fear. */
function scalar(bytes: Buffer): bigint {
  return (BigInt(`0x${bytes.toString('hex')}`) % (N - 1n)) + 1n;
}

function bytes32(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}

/** k·G, uncompressed (04 || x || y): ECDH's public key is exactly that. */
function publicPoint(k: bigint): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(bytes32(k));
  return ecdh.getPublicKey();
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** ECDSA-SHA256 (SEC 1, 4.1.3) as a DER Ecdsa-Sig-Value. */
function sign(d: bigint, k: bigint, message: Buffer): Buffer {
  const h = BigInt(`0x${createHash('sha256').update(message).digest('hex')}`) % N;
  const r = BigInt(`0x${publicPoint(k).subarray(1, 33).toString('hex')}`) % N;
  const s = (modPow(k, N - 2n, N) * ((h + r * d) % N)) % N;
  // Either is zero with probability 2^-256; the nonce is fixed by the message, so no retry.
  if (r === 0n || s === 0n) throw new Error('cannot sign the viewer certificate with this secret');
  return seq(integer(bytes32(r)), integer(bytes32(s)));
}

// A DER writer for the one structure needed (X.509 v3, RFC 5280).

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const seq = (...content: Buffer[]): Buffer => tlv(0x30, ...content);

/** A non-negative INTEGER from big-endian bytes. */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const groups = [part & 0x7f];
    for (let rest = part >> 7; rest > 0; rest >>= 7) groups.unshift((rest & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

const bitString = (bytes: Buffer): Buffer => tlv(0x03, Buffer.from([0]), bytes);
const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function toBeSigned(spki: Buffer, serial: Buffer): Buffer {
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('vstream viewer')))));
  // Fixed dates, so that the certificate is the same at every start; 9999-12-31 is RFC 5280's "no end".
  const validity = seq(tlv(0x17, Buffer.from('250101000000Z')), tlv(0x18, Buffer.from('99991231235959Z')));
  // The names a viewer on this machine is reached by; on another address the browser warns once anyway.
  const altNames = seq(tlv(0x82, Buffer.from('localhost')), tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x87, Buffer.alloc(15), Buffer.from([1])));
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq())),
      seq(oid('2.5.29.17'), tlv(0x04, altNames)),
    ),
  );
  serial[0]! &= 0x7f;
  return seq(tlv(0xa0, integer(Buffer.from([2]))), integer(serial), ECDSA_WITH_SHA256, name, validity, name, spki, extensions);
}
