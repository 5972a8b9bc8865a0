/**
 * The viewer with a shared secret: HTTPS under the certificate derived from it, and the login.
 * Without a secret it stays plain HTTP, as before. The lines said at start give the user what
 * they need to trust the certificate (its fingerprint) and to reach the streams from clients
 * that cannot log in (the token URL).
 */
import type { ProblemReporter } from '../../problems.js';
import { openNetworkNote } from '../../secret/open-network.js';
import { loadSecret } from '../../secret/secret.js';
import { viewerCertificate } from './certificate.js';
import { ViewerLogin } from './login.js';
import { servingLine, viewerUrl } from './options.js';
import { HttpViewer, type HttpViewerOptions } from './viewer-server.js';

export async function listenViewer(
  options: Omit<HttpViewerOptions, 'secure'>,
  settings: { secretFile?: string | undefined; secret?: string | undefined },
  say: (line: string) => void,
  /** Wrong logins, naming the client: problems, rate-limited by the caller, shown even with --quiet. */
  report?: ProblemReporter,
): Promise<HttpViewer> {
  const secret = await loadSecret({ secretFile: settings.secretFile, secret: settings.secret, warn: say });
  if (!secret) {
    const viewer = await HttpViewer.listen(options);
    say(servingLine(options.host, viewer.port));
    for (const note of openNetworkNote(options.host, secret, 'watch the streams')) say(note);
    return viewer;
  }
  const certificate = viewerCertificate(secret);
  const login = new ViewerLogin(secret, { report });
  const viewer = await HttpViewer.listen({ ...options, secure: { key: certificate.key, cert: certificate.cert, login } });
  const root = viewerUrl(options.host, viewer.port, 'https');
  say(servingLine(options.host, viewer.port, 'https'));
  say(`HTTPS certificate (from the secret, the same at every start) SHA-256 ${certificate.fingerprint256}`);
  say(`log in at ${root}login with the secret; players and scripts: ${root}stream?token=${login.token}`);
  return viewer;
}
