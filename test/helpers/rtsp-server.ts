/**
 * A small RTSP server for tests: what a camera serves, RTSP over TCP with the RTP packets
 * interleaved (`$`, channel, length), as `-rtsp_transport tcp` asks for. The RTP packets come
 * from a real ffmpeg (`-f rtp` to a UDP port of ours); this server only answers OPTIONS,
 * DESCRIBE, SETUP, PLAY (and keep-alives) and relays the packets to every playing client.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';

export interface RtspServer {
  /** `rtsp://127.0.0.1:PORT/stream` */
  url: string;
  /** Where the RTP packets are to be sent (`-f rtp rtp://127.0.0.1:PORT`). */
  rtpPort: number;
  /** Requests answered, by method, in order. */
  methods: string[];
  close(): Promise<void>;
}

/** SDP of one JPEG video stream (RTP/AVP payload type 26, static: no rtpmap needed). */
function sdp(): string {
  return ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=test camera', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=video 0 RTP/AVP 26', 'a=control:trackID=0', ''].join('\r\n');
}

export async function startRtspServer(): Promise<RtspServer> {
  const playing = new Set<Socket>();
  const clients = new Set<Socket>();
  const methods: string[] = [];
  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', (packet) => {
    const frame = Buffer.alloc(4);
    frame[0] = 0x24; // '$'
    frame[1] = 0; // channel 0: RTP of track 0
    frame.writeUInt16BE(packet.length, 2);
    for (const client of playing) client.write(Buffer.concat([frame, packet]));
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const server: Server = createServer((socket) => {
    let pending = Buffer.alloc(0);
    clients.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      playing.delete(socket);
      clients.delete(socket);
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        // The client's own interleaved packets (RTCP receiver reports): skipped.
        if (pending[0] === 0x24) {
          if (pending.length < 4 || pending.length < 4 + pending.readUInt16BE(2)) return;
          pending = pending.subarray(4 + pending.readUInt16BE(2));
          continue;
        }
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.subarray(0, end).toString('latin1');
        const lines = head.split('\r\n');
        const headers = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        const bodyLength = Number(headers.get('content-length') ?? 0);
        if (pending.length < end + 4 + bodyLength) return;
        pending = pending.subarray(end + 4 + bodyLength);
        const [method = '', uri = ''] = (lines[0] ?? '').split(' ');
        methods.push(method);
        const reply = (extra: string[], body = '') =>
          socket.write([`RTSP/1.0 200 OK`, `CSeq: ${headers.get('cseq') ?? '0'}`, ...extra, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), '', body].join('\r\n'));
        if (method === 'OPTIONS') reply(['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']);
        else if (method === 'DESCRIBE') reply(['Content-Type: application/sdp', `Content-Base: ${uri.replace(/\/?$/, '/')}`], sdp());
        else if (method === 'SETUP') reply([`Transport: ${headers.get('transport') ?? 'RTP/AVP/TCP;unicast;interleaved=0-1'}`, 'Session: 12345678;timeout=60']);
        else if (method === 'PLAY') {
          reply(['Session: 12345678', 'Range: npt=0.000-']);
          playing.add(socket);
        } else reply(['Session: 12345678']);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `rtsp://127.0.0.1:${port}/stream`,
    rtpPort: (udp.address() as { port: number }).port,
    methods,
    close: async () => {
      for (const client of clients) client.destroy();
      udp.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
