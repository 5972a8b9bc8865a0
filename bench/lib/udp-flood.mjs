// A UDP flood of its own process, so that the benchmark's process, which reads recv's output and
// times the good frames, is not the one kept busy sending: `node udp-flood.mjs PORT SECONDS KIND`
// sends from 4 sockets as fast as they go and prints `sent N`. KIND `stream-ids`: first pieces
// of frames that never complete, each under a new stream id; `sealed`: made-up sealed datagrams,
// each with a new salt (a key to derive and a tag that fails at a receiver with a secret).
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

const [port, seconds, kind] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];

function datagram() {
  if (kind === 'sealed') {
    // "VS", version 2 (sealed), then a random salt, nonce, ciphertext and tag.
    const d = randomBytes(32 + 100 + 16);
    d.writeUInt16BE(0x5653, 0);
    d[2] = 2;
    d[3] = 0;
    return d;
  }
  // "VS", version 1, PIECE, random stream id and seq, piece 0 of 2, 200 bytes, offset 0.
  const d = Buffer.alloc(24 + 100);
  d.writeUInt16BE(0x5653, 0);
  d[2] = 1;
  d.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, 4);
  d.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, 8);
  d.writeUInt16BE(2, 14);
  d.writeUInt32BE(200, 16);
  return d;
}

const sockets = await Promise.all(
  Array.from({ length: 4 }, () => new Promise((resolve) => {
    const s = createSocket('udp4');
    s.on('error', () => {});
    s.bind(0, '127.0.0.1', () => resolve(s));
  })),
);
let sent = 0;
const stopAt = performance.now() + seconds * 1000;
await Promise.all(sockets.map(async (s) => {
  while (performance.now() < stopAt) {
    await new Promise((resolve) => s.send(datagram(), port, '127.0.0.1', resolve));
    sent++;
  }
}));
sockets.forEach((s) => s.close());
console.log(`sent ${sent}`);
