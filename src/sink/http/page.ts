/**
 * The viewer's page at `/`: every live stream tiled, each with its name and figures, kept up
 * to date from `/streams.json` once a second, without a reload. Plain HTML, CSS and JS, no
 * build step and nothing fetched from elsewhere, so it works on a machine without internet.
 *
 * A browser opens at most six connections to one server, and an MJPEG image holds one for
 * as long as it shows: past MAX_LIVE_TILES, tiles show snapshots, each fetched when the last
 * has loaded, so that `/streams.json` always has a connection left.
 */

export const MAX_LIVE_TILES = 4;
/** How often the page asks for `/streams.json`. */
export const REFRESH_MS = 1000;

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#eee}
header{padding:8px 12px;display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
h1{font-size:16px;margin:0}
#status{color:#aaa}
main{display:grid;gap:8px;padding:8px;grid-template-columns:repeat(auto-fill,minmax(min(100%,360px),1fr))}
figure{margin:0;background:#000;border-radius:4px;overflow:hidden}
figure img{display:block;width:100%;height:auto;aspect-ratio:4/3;object-fit:contain;background:#000}
figcaption{padding:4px 8px;display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
figcaption .name{font-weight:600;overflow-wrap:anywhere}
figcaption .figures{color:#bbb;font-variant-numeric:tabular-nums}
figcaption a{color:inherit}
#empty{padding:24px 12px;color:#aaa}
#logout{margin-left:auto}
#logout button{font:inherit;padding:2px 8px}
`;

const SCRIPT = `
const main = document.querySelector('main');
const empty = document.getElementById('empty');
const status = document.getElementById('status');
const tiles = new Map();

function figures(s) {
  const parts = [s.fps + ' fps'];
  if (s.latencyMs !== null) parts.push(s.latencyMs + ' ms');
  parts.push(s.dropped + ' dropped');
  if (s.width !== null) parts.push(s.width + 'x' + s.height);
  return parts.join(' \\u00b7 ');
}

function snapshotLoop(tile) {
  const img = tile.img;
  const next = () => { if (tile.alive) setTimeout(() => { img.src = tile.stream.urls.snapshot + '?t=' + Date.now(); }, 100); };
  img.onload = next;
  img.onerror = next;
  img.src = tile.stream.urls.snapshot + '?t=' + Date.now();
}

function addTile(s, live) {
  const figure = document.createElement('figure');
  figure.dataset.name = s.name;
  const img = document.createElement('img');
  img.alt = s.sender;
  const caption = document.createElement('figcaption');
  const name = document.createElement('a');
  name.className = 'name';
  name.href = s.urls.stream;
  name.textContent = s.sender;
  const fig = document.createElement('span');
  fig.className = 'figures';
  caption.append(name, fig);
  figure.append(img, caption);
  main.append(figure);
  const tile = { figure, img, fig, stream: s, since: s.since, alive: true };
  if (live) img.src = s.urls.stream;
  else snapshotLoop(tile);
  return tile;
}

function removeTile(tile) {
  tile.alive = false;
  // An image that is gone must let its connection go too.
  tile.img.src = '';
  tile.figure.remove();
}

function show(list) {
  const seen = new Set();
  list.streams.forEach((s, index) => {
    seen.add(s.name);
    let tile = tiles.get(s.name);
    // A stream that ended and came back under the same name is a new stream.
    if (tile && tile.since !== s.since) { removeTile(tile); tile = undefined; }
    if (!tile) { tile = addTile(s, index < ${MAX_LIVE_TILES}); tiles.set(s.name, tile); }
    tile.stream = s;
    tile.fig.textContent = figures(s);
    if (s.width !== null) tile.img.style.aspectRatio = s.width + '/' + s.height;
  });
  for (const [name, tile] of tiles) {
    if (!seen.has(name)) { removeTile(tile); tiles.delete(name); }
  }
  empty.hidden = tiles.size > 0;
  status.textContent = tiles.size + (tiles.size === 1 ? ' stream' : ' streams');
}

async function refresh() {
  try {
    const response = await fetch('/streams.json', { cache: 'no-store' });
    show(await response.json());
  } catch (err) {
    status.textContent = 'viewer unreachable';
  }
  setTimeout(refresh, ${REFRESH_MS});
}
refresh();
`;

/**
 * The page, with `title` (already plain text) as its title and heading; `logout` when a secret
 * is in use (without one there is no login to leave).
 */
export function viewerPage(title: string, options: { logout?: boolean } = {}): string {
  // A form, not a link: a POST is not fetched ahead by a browser that prefetches links.
  const logout = options.logout ? '<form id="logout" method="post" action="/logout"><button type="submit">Log out</button></form>' : '';
  const safe = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safe}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${safe}</h1><span id="status">connecting</span>${logout}</header>
<div id="empty">No stream yet: waiting for a sender.</div>
<main></main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
