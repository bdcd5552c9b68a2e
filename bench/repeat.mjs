// Running measurements more than once (rounds, for error bars) or side by side
// (in groups, for measurements that mostly wait), and summarising the repeats.

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** { median, min, max } of the numbers in xs (nulls dropped); null when there are none. */
export function spread(xs) {
  const v = xs.filter((x) => typeof x === 'number');
  return v.length ? { median: median(v), min: Math.min(...v), max: Math.max(...v) } : null;
}

/** items cut into consecutive groups of at most `size`. */
export function groupsOf(items, size) {
  const n = Math.max(1, size);
  const out = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
