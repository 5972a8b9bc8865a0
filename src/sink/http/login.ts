/**
 * The viewer's login when it has a shared secret: `/login` asks for the secret (or the token),
 * and answers with a cookie holding the token, which the browser then sends with every request
 * (the page, `/streams.json`, each `<img>` of a stream). Clients that keep no cookies (ffmpeg,
 * OpenCV, Home Assistant) put the token in the URL (`?token=...`) or in
 * `Authorization: Bearer ...`. Every other request gets a 401. `/logout` forgets the cookie.
 * Wrong logins are counted (login-attempts.ts): past the limit a login gets a 429 unchecked.
 *
 * The token is derived from the secret, so it is the same at every start and on both ends,
 * and it is not the secret: a URL that leaks (a shell history, a proxy's log) gives the viewer,
 * never the TCP or UDP keys.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProblemReporter } from '../../problems.js';
import { Secret } from '../../secret/secret.js';
import { clientAddress, LoginAttempts } from './login-attempts.js';
import { splitTarget } from './routes.js';

export const TOKEN_COOKIE = 'vstream_token';
/** A login form is one field; a body larger than this is not one. */
export const MAX_LOGIN_BODY_BYTES = 4096;
/** Chrome keeps a cookie at most 400 days, whatever it is asked. */
const COOKIE_MAX_AGE_S = 400 * 24 * 3600;
const NO_CACHE = 'no-store, no-cache, must-revalidate, max-age=0';

/** The viewer's token for this secret: what `?token=` and the cookie carry. */
export function viewerToken(secret: Secret): string {
  return secret.derive('http-token', 16).toString('base64url');
}

/** Whether two texts are equal, in a time that does not tell how much of them matched. */
function sameText(a: string, b: string): boolean {
  // Hashed first so that both sides have one length: timingSafeEqual wants it, and the length
  // of what was typed then tells nothing either.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

const COOKIE_FLAGS = 'HttpOnly; Secure; SameSite=Strict';

export interface ViewerLoginOptions {
  /** Told of wrong logins and of addresses made to wait, naming the address; the caller rate-limits. */
  report?: ProblemReporter;
  attempts?: LoginAttempts;
}

export class ViewerLogin {
  readonly token: string;
  private readonly report: ProblemReporter;
  private readonly attempts: LoginAttempts;

  constructor(secret: Secret, options: ViewerLoginOptions = {}) {
    this.token = viewerToken(secret);
    this.report = options.report ?? (() => {});
    this.attempts = options.attempts ?? new LoginAttempts();
  }

  /**
   * True when the request may go on to the viewer; otherwise it has been answered here (the
   * login page, its form, or a 401).
   */
  admits(request: IncomingMessage, response: ServerResponse): boolean {
    const { path, query } = splitTarget(request.url ?? '/');
    if (path === '/login') {
      if (request.method === 'POST') this.submit(request, response);
      else if (request.method === 'GET' || request.method === 'HEAD') loginPage(response, 200, '', request.method === 'HEAD');
      else {
        response.setHeader('Allow', 'GET, HEAD, POST');
        plain(response, 405, 'only GET, HEAD and POST\n');
      }
      return false;
    }
    if (path === '/logout') {
      // GET too, so that a typed URL or a bookmark logs out: a logout needs no login, and a
      // site that makes a browser log out costs that browser one login, nothing more.
      if (request.method === 'POST' || request.method === 'GET' || request.method === 'HEAD') logout(response);
      else {
        response.setHeader('Allow', 'GET, HEAD, POST');
        plain(response, 405, 'only GET, HEAD and POST\n');
      }
      return false;
    }
    if (this.presented(request, query).some((candidate) => sameText(candidate, this.token))) return true;
    response.setHeader('WWW-Authenticate', 'Bearer realm="vstream"');
    // A browser is shown the form (and stays on the URL it asked for); any other client a line.
    if (wantsHtml(request)) loginPage(response, 401, '', request.method === 'HEAD');
    else plain(response, 401, 'log in at /login, or add ?token=TOKEN to the URL (the token is printed when the viewer starts)\n');
    return false;
  }

  /** The tokens a request carries: in the query, a cookie, or an Authorization header. */
  private presented(request: IncomingMessage, query: URLSearchParams): string[] {
    const found = query.getAll('token');
    for (const pair of (request.headers.cookie ?? '').split(';')) {
      const [name, value] = pair.trim().split('=', 2);
      if (name === TOKEN_COOKIE && value !== undefined) found.push(value);
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) found.push(bearer);
    // Bounded: a request cannot make us compare more than a few.
    return found.slice(0, 4);
  }

  private submit(request: IncomingMessage, response: ServerResponse): void {
    // Read now: once the client has gone, its socket no longer says who it was.
    const address = clientAddress(request.socket.remoteAddress);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    request.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_LOGIN_BODY_BYTES) {
        done = true;
        response.setHeader('Connection', 'close');
        plain(response, 413, 'a login is one field\n');
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (done) return;
      done = true;
      const verdict = this.attempts.verdict(address);
      if (!verdict.allowed) {
        // Not checked at all: an answer, even a slow one, would be one more guess.
        const from = verdict.why === 'address' ? 'this address' : 'all addresses together';
        this.report({
          code: 'ERR_AUTH',
          message: `viewer login from ${address} not checked: too many wrong secrets from ${verdict.why === 'address' ? 'it' : from} in a minute, answered 429 (retry in ${verdict.retryAfterS} s)`,
        });
        response.setHeader('Retry-After', String(verdict.retryAfterS));
        const text = `Too many wrong secrets from ${from}: try again in ${verdict.retryAfterS} s.`;
        if (wantsHtml(request)) loginPage(response, 429, text, false);
        else plain(response, 429, `${text}\n`);
        return;
      }
      const typed = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('secret') ?? '';
      if (!this.accepts(typed)) {
        const count = this.attempts.wrong(address);
        this.report({ code: 'ERR_AUTH', message: `viewer login from ${address}: wrong secret (${count} in the last minute)` });
        loginPage(response, 401, 'That is not the secret.', false);
        return;
      }
      this.attempts.right(address);
      response.writeHead(303, {
        Location: '/',
        'Set-Cookie': `${TOKEN_COOKIE}=${this.token}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}; ${COOKIE_FLAGS}`,
        'Cache-Control': NO_CACHE,
        'Content-Length': 0,
      });
      response.end();
    });
    request.on('error', () => {});
  }

  /** The secret itself (its token is compared, never the text) or the token. */
  private accepts(typed: string): boolean {
    const text = typed.trim();
    let fromSecret = '';
    try {
      fromSecret = viewerToken(Secret.fromText(text, '--secret'));
    } catch {
      // Too short or more than one line: not the secret, perhaps the token.
    }
    // Both compared whatever the first gives, so that the time tells nothing either.
    const isSecret = sameText(fromSecret, this.token);
    const isToken = sameText(text, this.token);
    return isSecret || isToken;
  }
}

function wantsHtml(request: IncomingMessage): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

/** The cookie replaced by an expired one (browsers then drop it), and off to the login. */
function logout(response: ServerResponse): void {
  response.writeHead(303, {
    Location: '/login',
    'Set-Cookie': `${TOKEN_COOKIE}=; Path=/; Max-Age=0; ${COOKIE_FLAGS}`,
    'Cache-Control': NO_CACHE,
    'Content-Length': 0,
  });
  response.end();
}

function plain(response: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text);
  response.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length, 'Cache-Control': NO_CACHE });
  response.end(body);
}

function loginPage(response: ServerResponse, status: number, problem: string, head: boolean): void {
  const body = Buffer.from(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>vstream: log in</title>
<style>body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#eee;display:grid;place-items:center;min-height:100vh}
form{display:grid;gap:8px;min-width:min(90vw,360px)}input,button{font:inherit;padding:6px}.problem{color:#f88}</style></head>
<body><form method="post" action="/login">
<h1>vstream</h1>
<label for="secret">Shared secret (or the viewer's token)</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" autofocus required>
${problem ? `<p class="problem" id="problem">${problem}</p>` : ''}
<button type="submit">Log in</button>
</form></body></html>
`);
  response.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': NO_CACHE,
    // The form is the one thing that takes the secret: no other site may frame it.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
  });
  response.end(head ? undefined : body);
}
