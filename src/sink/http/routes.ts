/**
 * What a request asks for, from its method and target alone. The URLs of the tools people
 * already point their clients at are kept: mjpg-streamer's `/?action=stream` and
 * `/?action=snapshot`, µStreamer's `/stream` and `/snapshot`; both mean the first stream.
 */

/** A stream by its URL name, or the first (oldest) live stream. */
export type StreamRef = { name: string } | { first: true };

export type Route =
  | { kind: 'page' }
  | { kind: 'streams' }
  /** `advanceHeaders` unset: the client did not say (the server decides by who asks). */
  | { kind: 'stream'; stream: StreamRef; advanceHeaders?: boolean }
  | { kind: 'snapshot'; stream: StreamRef }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed' };

const NAME = /^[a-z0-9._-]{1,64}$/;

/** `?advance_headers=1` (or `0`), as µStreamer spells it: the next part's headers right after each frame. */
function yesNo(value: string | null): boolean | undefined {
  if (value === null) return undefined;
  return ['1', 'true', 'yes'].includes(value.toLowerCase());
}

/**
 * A request target's path and query, split by hand: new URL() throws on some targets a client
 * may send, and a viewer must answer those too.
 */
export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const question = target.indexOf('?');
  return {
    path: question === -1 ? target : target.slice(0, question),
    query: new URLSearchParams(question === -1 ? '' : target.slice(question + 1)),
  };
}

export function route(method: string | undefined, target: string | undefined): Route {
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'method-not-allowed' };
  // Only origin-form targets: an absolute URL or `*` is not something a viewer serves.
  if (target === undefined || !target.startsWith('/')) return { kind: 'not-found' };
  const { path, query } = splitTarget(target);
  const advance = yesNo(query.get('advance_headers'));
  const advanceHeaders = advance === undefined ? {} : { advanceHeaders: advance };
  const first = { first: true } as const;
  if (path === '/' || path === '/index.html') {
    // Any other query is ignored: the page it was.
    const action = query.get('action');
    if (action === 'stream') return { kind: 'stream', stream: first, ...advanceHeaders };
    if (action === 'snapshot') return { kind: 'snapshot', stream: first };
    return { kind: 'page' };
  }
  if (path === '/streams.json') return { kind: 'streams' };
  if (path === '/stream') return { kind: 'stream', stream: first, ...advanceHeaders };
  if (path === '/snapshot' || path === '/snapshot.jpg') return { kind: 'snapshot', stream: first };
  const streamName = /^\/stream\/([^/]+)$/.exec(path)?.[1];
  if (streamName !== undefined && isName(streamName)) return { kind: 'stream', stream: { name: streamName }, ...advanceHeaders };
  const snapshotName = /^\/snapshot\/([^/]+?)(?:\.jpg)?$/.exec(path)?.[1];
  if (snapshotName !== undefined && isName(snapshotName)) return { kind: 'snapshot', stream: { name: snapshotName } };
  return { kind: 'not-found' };
}

/** A name as StreamNames makes them: nothing else can name a stream, `.` and `..` never do. */
function isName(text: string): boolean {
  return NAME.test(text) && text !== '.' && text !== '..';
}
