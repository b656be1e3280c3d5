// Turning the app's raw values (RFC 3339 times, byte counts, enum names) into words, for
// the lists (backups, activity, restore plan). The header's and progress's words are the
// app's own (lifeboat::view), sent in the status and progress payloads.
// Pure functions: no DOM, no commands, so the 30 s tick can call them freely.

/** A Date from an RFC 3339 string, or null for anything missing or unparsable. */
export function parseTime(iso) {
  if (!iso || typeof iso !== 'string') return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'always' });
const UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "2 hours ago", "in 10 hours", "just now". */
export function relativeTime(date, now = Date.now()) {
  if (!date) return '';
  const secs = (date.getTime() - now) / 1000;
  if (Math.abs(secs) < 45) return 'just now';
  // Pick the largest unit that gives at least 1 after rounding, so "in 9 h 40 min"
  // reads "in 10 hours" rather than "in 9 hours".
  for (const [unit, size] of UNITS) {
    if (Math.abs(secs) >= size * 0.95) return rtf.format(Math.round(secs / size), unit);
  }
  return rtf.format(Math.round(secs / 60) || Math.sign(secs), 'minute');
}

/** For a due time: a past due time means the scheduler will run it at once. */
export function dueTime(date, now = Date.now()) {
  if (!date || date.getTime() <= now + 30_000) return 'due now';
  return relativeTime(date, now);
}

/** The full local time for a tooltip: "Mon, 29 Dec 2025, 09:57:15". */
export function exactTime(date) {
  if (!date) return '';
  return date.toLocaleString(undefined, {
    weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** A compact local date and time for titles: "Mon, 29 Dec, 09:57". */
export function shortDateTime(date) {
  if (!date) return '—';
  return date.toLocaleString(undefined, {
    weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** Decimal units, as file managers show them: 1.48 MB. */
export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '—';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i += 1;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toLocaleString(undefined, { maximumFractionDigits: v < 10 ? 2 : 1 })} ${units[i]}`;
}

/** "4 s", "1 min 12 s", "1 h 3 min". */
export function duration(secs) {
  if (typeof secs !== 'number' || !Number.isFinite(secs) || secs < 0) return '—';
  if (secs < 10) return `${secs.toLocaleString(undefined, { maximumFractionDigits: 1 })} s`;
  const s = Math.round(secs);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 60)} h`;
}

/** Seconds between two RFC 3339 times, or null. */
export function secondsBetween(startIso, endIso) {
  const a = parseTime(startIso);
  const b = parseTime(endIso);
  return a && b ? Math.max(0, (b - a) / 1000) : null;
}

export function number(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—';
}

/** "1 file", "240 files". */
export function plural(n, one, many = `${one}s`) {
  return `${number(n)} ${n === 1 ? one : many}`;
}

export const TRIGGER_LABEL = {
  scheduled: 'Scheduled',
  startup: 'At startup',
  manual: 'Manual',
  'pre-restore': 'Before restore',
};

export const OUTCOME_LABEL = { success: 'Succeeded', skipped: 'Skipped', failed: 'Failed' };

/** A label for an enum value, falling back to the raw value made readable. */
export function label(map, value) {
  if (value == null) return '';
  return map[value] ?? String(value).replace(/[_-]/g, ' ');
}
