/**
 * A small MJPEG-over-HTTP server for tests, written the way cameras and µStreamer write it:
 * multipart/x-mixed-replace, one part per JPEG, at a steady rate, with or without
 * Content-Length and X-Timestamp. Or any other answer a test wants (`handler`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface MjpegServerOptions {
  jpegs: Buffer[];
  /** Frames a second; the JPEGs are sent in a loop. */
  fps?: number;
  contentLength?: boolean;
  timestamp?: boolean;
  boundary?: string;
  /** What the Content-Type says of the boundary (default: `boundary=<boundary>`). */
  contentType?: string;
  /** The port to listen on (0: any); for a restart on the same port. */
  port?: number;
}

export interface TestHttpServer {
  server: Server;
  port: number;
  url: string;
  /** Every byte of body written, over all clients. */
  written(): number;
  /** Closes the server and every connection at once, as a crashing camera does. */
  kill(): Promise<void>;
}

export async function startHttpServer(handler: (req: IncomingMessage, res: ServerResponse, count: (bytes: number) => void) => void, port = 0): Promise<TestHttpServer> {
  let written = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => handler(req, res, (bytes) => (written += bytes)));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as { port: number }).port;
  return {
    server,
    port: bound,
    url: `http://127.0.0.1:${bound}/stream`,
    written: () => written,
    kill: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Serves `jpegs` in a loop as multipart MJPEG to every client; `timestamps` are the X-Timestamps sent. */
export async function startMjpegServer({
  jpegs,
  fps = 25,
  contentLength = true,
  timestamp = true,
  boundary = 'boundarydonotcross',
  contentType,
  port = 0,
}: MjpegServerOptions): Promise<TestHttpServer & { timestamps: string[] }> {
  const timestamps: string[] = [];
  const server = await startHttpServer((req, res, count) => {
    res.writeHead(200, { 'Content-Type': contentType ?? `multipart/x-mixed-replace;boundary=${boundary}`, 'Cache-Control': 'no-store' });
    res.write(`--${boundary}\r\n`);
    let next = 0;
    const timer = setInterval(() => {
      const jpeg = jpegs[next++ % jpegs.length]!;
      const stamp = (Date.now() / 1000).toFixed(6);
      if (timestamp) timestamps.push(stamp);
      const headers = ['Content-Type: image/jpeg', ...(contentLength ? [`Content-Length: ${jpeg.length}`] : []), ...(timestamp ? [`X-Timestamp: ${stamp}`] : [])];
      const part = Buffer.concat([Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), jpeg, Buffer.from(`\r\n--${boundary}\r\n`)]);
      count(part.length);
      res.write(part);
    }, 1000 / fps);
    req.socket.on('close', () => clearInterval(timer));
  }, port);
  return Object.assign(server, { timestamps });
}
