// Shared by every bench module: the median of a run list, percentiles, and a markdown table.

/** Median; for an even count the mean of the two middle values. NaN for an empty list. */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in 0..100). NaN for an empty list. */
export function percentile(xs, p) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Rounds for display: integers above 100, else 3 significant digits; null/NaN as '-'. */
export function fmt(x) {
  if (x === null || x === undefined || (typeof x === 'number' && !Number.isFinite(x))) return '-';
  if (typeof x !== 'number') return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : String(Number(x.toPrecision(3)));
}

/**
 * A markdown table. `columns` is a list of [header, key or (row) => value, align?] with align
 * 'l' or 'r' (default: right for numbers); values are printed with fmt().
 */
export function markdownTable(columns, rows) {
  const cell = (row, get) => fmt(typeof get === 'function' ? get(row) : row[get]);
  const lines = [
    `| ${columns.map(([h]) => h).join(' | ')} |`,
    `|${columns.map(([, , a]) => (a === 'l' ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${columns.map(([, get]) => cell(row, get).replace(/\|/g, '\\|')).join(' | ')} |`),
  ];
  return lines.join('\n');
}
