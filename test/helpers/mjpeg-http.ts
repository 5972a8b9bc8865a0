/**
 * A plain client of an HTTP MJPEG stream for tests: GET a URL, then read its parts one by one
 * (headers, the image by its Content-Length, the boundary that must follow it).
 */
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { startReceiver, type TestProcess } from './process.js';

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
  /** The bytes right after the image: the next boundary, when the server puts it there at once. */
  after: string;
}

export interface HttpResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A whole response (not for streams). */
export async function fetchBody(url: string, method = 'GET'): Promise<HttpResult> {
  const response = await open(url, method);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) };
}

export function open(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Reads the multipart parts of an open MJPEG response, as they come. */
export class PartReader {
  private buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly response: IncomingMessage,
    private readonly boundary = /boundary=([^;\s]+)/.exec(String(response.headers['content-type']))?.[1] ?? '',
  ) {
    response.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    response.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    response.on('error', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** True once the server ended the response. */
  get done(): boolean {
    return this.ended;
  }

  /** The next part, or undefined when the response ended first. */
  async next(): Promise<Part | undefined> {
    const delimiter = `--${this.boundary}\r\n`;
    for (;;) {
      const text = this.buffer.toString('latin1');
      const start = text.indexOf(delimiter);
      const headEnd = start === -1 ? -1 : text.indexOf('\r\n\r\n', start);
      if (headEnd !== -1) {
        const headers: Record<string, string> = {};
        for (const line of text.slice(start + delimiter.length, headEnd).split('\r\n')) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length']);
        const bodyStart = headEnd + 4;
        const tail = `\r\n${delimiter}`.length;
        if (this.buffer.length >= bodyStart + length + tail) {
          const body = Buffer.from(this.buffer.subarray(bodyStart, bodyStart + length));
          const after = this.buffer.subarray(bodyStart + length, bodyStart + length + tail).toString('latin1');
          // The boundary after the image opens the next part.
          this.buffer = this.buffer.subarray(bodyStart + length + 2);
          return { headers, body, after };
        }
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  close(): void {
    this.response.destroy();
  }
}

/** Resolves when the response has ended (or was cut). */
export async function ended(response: IncomingMessage): Promise<void> {
  if (response.complete || response.destroyed) return;
  await Promise.race([once(response, 'end'), once(response, 'close')]);
}

/** Sends `bytes` exactly as given (no URL normalising) and returns what came back until the server closed. */
export async function rawExchange(port: number, bytes: string | Buffer, host = '127.0.0.1'): Promise<string> {
  const { connect } = await import('node:net');
  const socket = connect(port, host);
  // A server that answers before reading all of a request (431) may reset the connection
  // after its answer: the answer read so far is what counts, not the reset.
  socket.on('error', () => {});
  socket.end(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => socket.once('close', resolve));
  return Buffer.concat(chunks).toString('latin1');
}

/** A headless `recv --http` on a free port of 127.0.0.1 (and its frame port): its HTTP base URL and port. */
export async function startHttpViewer(args: readonly string[] = []): Promise<{ recv: TestProcess & { port: number }; base: string; httpPort: number }> {
  const recv = await startReceiver(['--bind', '127.0.0.1', '--http', '0', ...args]);
  const [, port] = await recv.waitForLine(/serving HTTP on 127\.0\.0\.1:(\d+)/, 'stderr');
  return { recv, base: `http://127.0.0.1:${port}`, httpPort: Number(port) };
}
