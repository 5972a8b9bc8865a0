/**
 * One GET of a stream URL with node:http(s): redirects followed (a few), the status turned
 * into a typed one-line error, socket errors named as the rest of vstream names them. The user
 * and password of the URL go as Basic authorization, as browsers and cameras expect; they are
 * never printed.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { NetworkError, SourceError, type VstreamError } from '../../errors.js';
import { wireText } from '../../text/wire-text.js';

/** Cameras redirect to a login or a stream path once, sometimes twice. */
const MAX_REDIRECTS = 5;

export interface HttpGetOptions {
  /** No answer (headers) within this long, or a silent socket this long, fails with ERR_TIMEOUT. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The URL as messages show it: without user and password. */
export function displayUrl(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  return shown.href;
}

/** The response of a GET whose status is 2xx; its body is still to be read (and destroyed when done). */
export async function httpGet(url: URL, options: HttpGetOptions): Promise<IncomingMessage> {
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const response = await getOnce(current, options);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      response.destroy();
      if (redirects >= MAX_REDIRECTS) throw new SourceError(`${displayUrl(url)}: more than ${MAX_REDIRECTS} redirects`, 'ERR_URL_HTTP_STATUS');
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new SourceError(`${displayUrl(url)} redirects to ${next.protocol} which is not HTTP`, 'ERR_URL_HTTP_STATUS');
      // The credentials go along to the same host only, as browsers do.
      if (next.host === current.host && next.username === '' && current.username !== '') {
        next.username = current.username;
        next.password = current.password;
      }
      current = next;
      continue;
    }
    if (status >= 200 && status < 300) return response;
    response.destroy();
    throw statusError(url, status, response.statusMessage);
  }
}

function getOnce(url: URL, { timeoutMs, signal }: HttpGetOptions): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  const display = displayUrl(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'User-Agent': 'vstream',
      Accept: 'multipart/x-mixed-replace, image/jpeg, */*',
    };
    if (url.username !== '' || url.password !== '') {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      headers.Authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const request = client.get(
      { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: `${url.pathname}${url.search}`, headers, ...(signal && { signal }) },
      (response) => {
        // From here the body's own reader watches for silence; the socket keeps the timeout.
        resolve(response);
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(new NetworkError(`${display} did not answer within ${timeoutMs / 1000} s`, 'ERR_TIMEOUT')));
    request.once('error', (error) => reject(error instanceof NetworkError || error instanceof SourceError ? error : socketError(display, error)));
  });
}

function statusError(url: URL, status: number, message: string | undefined): VstreamError {
  const what = `${displayUrl(url)} answered ${status}${message ? ` ${wireText(message)}` : ''}`;
  if (status === 401 || status === 403) {
    const hint = url.username === '' ? ' (give the user and password in the URL: http://USER:PASSWORD@host/...)' : ' (wrong user or password?)';
    return new SourceError(`${what}${hint}`, 'ERR_URL_UNAUTHORIZED');
  }
  if (status === 404 || status === 410) return new SourceError(`${what}: no stream at that address`, 'ERR_URL_NOT_FOUND');
  return new SourceError(what, 'ERR_URL_HTTP_STATUS');
}

/** A socket's failure in the words and codes `send --to` uses for the same failures. */
export function socketError(display: string, error: Error): VstreamError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (error.name === 'AbortError') return new NetworkError(`${display}: stopped`, 'ERR_CONNECTION_CLOSED', { cause: error });
  const known: Record<string, [string, ConstructorParameters<typeof NetworkError>[1]]> = {
    ECONNREFUSED: ['connection refused (nothing listening there?)', 'ERR_CONNECTION_REFUSED'],
    ENOTFOUND: ['host not found', 'ERR_HOST_NOT_FOUND'],
    EAI_AGAIN: ['host not found (name lookup failed)', 'ERR_HOST_NOT_FOUND'],
    EHOSTUNREACH: ['host unreachable', 'ERR_HOST_UNREACHABLE'],
    ENETUNREACH: ['network unreachable', 'ERR_HOST_UNREACHABLE'],
    ETIMEDOUT: ['timed out (host down or a firewall dropping packets?)', 'ERR_TIMEOUT'],
    ECONNRESET: ['the server closed the connection', 'ERR_CONNECTION_CLOSED'],
    EPIPE: ['the server closed the connection', 'ERR_CONNECTION_CLOSED'],
    HPE_HEADER_OVERFLOW: ['the answer has headers over 16 KiB: not a stream server', 'ERR_NETWORK'],
  };
  if (code.startsWith('HPE_') && code !== 'HPE_HEADER_OVERFLOW') {
    return new SourceError(`${display} does not answer in HTTP (${wireText(error.message)})`, 'ERR_URL_NOT_A_STREAM', { cause: error });
  }
  const [text, errorCode] = known[code] ?? [error.message, 'ERR_NETWORK'];
  return new NetworkError(`cannot read ${display}: ${text}`, errorCode, { cause: error });
}
