/** `--http PORT` and its limits, the same on `recv` and on `send`. */
import { parseIntInRange } from '../../options/parsers.js';
import { value, valueOr } from '../../options/schema.js';
import { DEFAULT_MAX_CLIENTS } from './viewer-server.js';

export const httpOptions = {
  http: value('--http <port>', 'serve the streams over HTTP on this port: a page at /, MJPEG at /stream/NAME (IPv4 and IPv6)', (text) =>
    parseIntInRange('--http', text, 0, 65535),
  ),
  httpMaxClients: valueOr(
    '--http-max-clients <n>',
    `with --http: connections open at once; one more gets a 503 (default ${DEFAULT_MAX_CLIENTS})`,
    (text) => parseIntInRange('--http-max-clients', text, 1, 10_000),
    DEFAULT_MAX_CLIENTS,
    { needs: '--http' },
  ),
};

/** `serving HTTP on port 8080 (IPv4 and IPv6): http://localhost:8080/`, said once it listens. */
export function servingLine(host: string | undefined, port: number): string {
  if (host) {
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return `serving HTTP on ${where}: http://${where}/`;
  }
  return `serving HTTP on port ${port} (IPv4 and IPv6): http://localhost:${port}/`;
}
