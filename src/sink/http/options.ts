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
export function servingLine(host: string | undefined, port: number, scheme: 'http' | 'https' = 'http'): string {
  const name = scheme.toUpperCase();
  if (host) return `serving ${name} on ${hostPort(host, port)}: ${viewerUrl(host, port, scheme)}`;
  return `serving ${name} on port ${port} (IPv4 and IPv6): ${viewerUrl(host, port, scheme)}`;
}

/** The viewer's root URL, as a user on this machine reaches it. */
export function viewerUrl(host: string | undefined, port: number, scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://${host ? hostPort(host, port) : `localhost:${port}`}/`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
