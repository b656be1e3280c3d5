// The backups: a card per complete backup (its manifest summary, what changed since it,
// what it could not back up, verify result and actions), and the pre-restore safety
// snapshot in its own section.

import { fill, h, timeEl } from '../dom.js';
import {
  TRIGGER_LABEL, bytes, duration, exactTime, label, number, parseTime, plural, shortDateTime,
} from '../format.js';

const PROBLEM_LABEL = {
  missing: 'missing', changed: 'changed', size: 'wrong size', extra: 'unexpected file',
  corrupt: 'corrupt', manifest: 'manifest problem', unreadable: 'unreadable',
};
const MAX_PROBLEMS_SHOWN = 5;
const EMPTY_TEXT = 'No backups yet. “Back up now” makes the first one; after that Lifeboat keeps them coming.';

export function backupsView({ onRestore, onBrowse, onSince, onVerify, onShowFolder, onOffsiteRestore }) {
  const list = h('ol', { id: 'backup-list', class: 'cards' });
  const offsiteOpen = h('button', {
    id: 'offsite-restore-open', type: 'button', hidden: true, onclick: () => onOffsiteRestore?.(offsite?.repository),
  }, 'Restore from offsite…');
  const listError = h('p', { id: 'backups-error', class: 'alert', role: 'alert' });
  const empty = h('p', { class: 'empty', hidden: true }, EMPTY_TEXT);
  const safetyList = h('ol', { class: 'cards' });
  const safety = h('section', { id: 'safety-section', class: 'section', hidden: true, 'aria-labelledby': 'safety-title' },
    h('h2', { id: 'safety-title' }, 'Safety snapshot'),
    h('p', { class: 'hint' },
      'Your data as it was just before the last restore. Restore it to undo that restore.'),
    safetyList);
  const el = h('div', null,
    h('section', { id: 'backups-section', class: 'section', 'aria-labelledby': 'backups-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'backups-title' }, 'Recent backups'), offsiteOpen),
      listError, empty, list),
    safety);

  // Verify results outlive re-renders of the list: name -> { running } | { report, at } | { error }.
  const verifies = new Map();
  // "since then: …" per backup, loaded when its card first shows: name -> line | Promise | { error }.
  const since = new Map();
  const seen = 'IntersectionObserver' in window
    ? new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting) {
          seen.unobserve(e.target);
          loadSince(e.target.dataset.name);
        }
      }
    })
    : null;
  let backups = [];
  let busy = false;
  let offsite = null; // the status's offsite block: { repository, pushed: [names], pending, ... }
  let offsiteKey = '';

  function render() {
    const refocus = focusedAction();
    const regular = backups.filter((b) => b.kind !== 'pre-restore');
    const snapshots = backups.filter((b) => b.kind === 'pre-restore');
    fill(list, regular.map((b, i) => card(b, `bk-${i}`)));
    fill(safetyList, snapshots.map((b, i) => card(b, `safety-${i}`)));
    empty.hidden = regular.length > 0 || listError.textContent !== '';
    safety.hidden = snapshots.length === 0;
    refocus?.();
  }

  function card(b, key) {
    const started = parseTime(b?.started_at);
    const isSafety = b.kind === 'pre-restore';
    const titleId = `${key}-title`;
    const v = verifies.get(b.name);
    const button = (cls, text, onclick, disabled = busy) =>
      h('button', { type: 'button', class: cls, 'aria-describedby': titleId, disabled, onclick }, text);
    const li = h('li', { class: 'backup-card', dataset: { name: b.name, kind: b.kind ?? 'backup' } },
      h('div', { class: 'card-head' },
        h('h3', { id: titleId, class: 'card-title' },
          h('time', { datetime: b.started_at ?? '', title: exactTime(started) }, shortDateTime(started))),
        h('span', { class: 'chips-row' },
          !isSafety && offsite?.pushed?.includes(b.name)
            && h('span', { class: 'chip offsite-badge', title: `Also offsite: ${offsite.repository}` }, 'offsite'),
          h('span', { class: `chip trigger-${b.trigger ?? 'unknown'}` }, label(TRIGGER_LABEL, b.trigger)))),
      h('p', { class: 'card-meta' },
        timeEl(b.started_at), ' · took ', duration(b.duration_secs), ' · ',
        h('span', { class: 'total-size' }, bytes(b.totals?.bytes)), ' (',
        h('span', { class: 'written-size' }, bytes(b.totals?.bytes_written)), ' new)'),
      sinceLine(b.name),
      partial(b),
      contents(b),
      b.warnings?.length > 0 && h('ul', { class: 'warnings' }, b.warnings.map((w) => h('li', null, w))),
      verifyResult(v),
      h('div', { class: 'card-actions' },
        button('restore-btn', 'Restore…', () => onRestore(b)),
        button('browse-btn', 'Browse…', () => onBrowse(b)),
        !isSafety && button('verify-btn', v?.running ? 'Verifying…' : 'Verify', () => verify(b.name),
          busy || Boolean(v?.running)),
        button('folder-btn', 'Show in folder', () => onShowFolder(b.name), false)));
    // "since then" is worked out when the card first shows (the empty line has no box to watch).
    if (!since.has(b.name)) {
      if (seen) seen.observe(li);
      else loadSince(b.name);
    }
    return li;
  }

  function sinceLine(name) {
    const v = since.get(name);
    const loaded = typeof v === 'string';
    return h('p', {
      class: 'since-line', dataset: loaded ? { since: name, loaded: 'true' } : { since: name },
    }, loaded ? v : v?.error ? `Can't compare with now: ${v.error.message}` : '');
  }

  async function loadSince(name) {
    if (!name || since.has(name)) return;
    const pending = onSince(name);
    since.set(name, pending);
    try {
      const r = await pending;
      if (since.get(name) === pending) since.set(name, r?.line ?? '');
    } catch (error) {
      if (since.get(name) === pending) since.set(name, { error });
    }
    const el = [...list.querySelectorAll('.since-line'), ...safetyList.querySelectorAll('.since-line')]
      .find((x) => x.dataset.since === name);
    if (el) el.replaceWith(sinceLine(name));
  }

  async function verify(name) {
    verifies.set(name, { running: true });
    render();
    try {
      verifies.set(name, { report: await onVerify(name), at: new Date().toISOString() });
    } catch (error) {
      verifies.set(name, { error });
    }
    render();
  }

  // Re-rendering replaces the buttons; put keyboard focus back where it was.
  function focusedAction() {
    const active = document.activeElement;
    const cardEl = active?.closest?.('.backup-card');
    if (!cardEl || !el.contains(cardEl)) return null;
    const cls = active.classList[0];
    const name = cardEl.dataset.name;
    return () => {
      const again = [...el.querySelectorAll('.backup-card')].find((c) => c.dataset.name === name);
      again?.querySelector(`.${cls}`)?.focus();
    };
  }

  return {
    el,
    setBackups(items) {
      backups = Array.isArray(items) ? items : [];
      // The live data may have moved on since the lines were worked out: work them out again.
      since.clear();
      seen?.disconnect();
      listError.textContent = '';
      empty.textContent = EMPTY_TEXT;
      render();
    },
    setError(err) {
      backups = [];
      if (err?.kind === 'destination_unavailable') {
        // The header already says why; don't raise a second alarm for the same cause.
        listError.textContent = '';
        empty.textContent = 'Your backups will show here again once the backup folder is available.';
      } else {
        listError.textContent = `Backups can't be listed: ${err?.message ?? err}`;
      }
      render();
    },
    setBusy(value) {
      if (busy === value) return;
      busy = value;
      render();
    },
    /** The status's offsite block (null: no offsite copy): badges and "Restore from offsite…". */
    setOffsite(o) {
      offsite = o ?? null;
      offsiteOpen.hidden = !offsite;
      const key = offsite ? `${offsite.repository}|${(offsite.pushed ?? []).join(',')}` : '';
      if (key === offsiteKey) return;
      offsiteKey = key;
      render();
    },
  };
}

/** "partial: N not backed up", with what and why on expand, for a partial backup. */
function partial(b) {
  const skipped = (b.skipped ?? []).filter((s) => s.kind !== 'special');
  if (!b.partial || skipped.length === 0) return null;
  return h('details', { class: 'partial', dataset: { count: skipped.length } },
    h('summary', null, `partial: ${number(skipped.length)} not backed up`),
    h('ul', { class: 'skipped-list' }, skipped.map((s) => h('li', { class: 'skipped', dataset: { path: s.path } },
      h('span', { class: 'path' }, s.path), ` — ${s.reason}`))));
}

/** Files per included item; each database nested under the item that holds it. */
function contents(b) {
  const items = b.items ?? [];
  const dbs = b.databases ?? [];
  const under = (item) => dbs.filter((d) => d.path === item || d.path?.startsWith(`${item}/`));
  const claimed = new Set(items.flatMap((i) => under(i.item)));
  const loose = dbs.filter((d) => !claimed.has(d));
  if (items.length === 0 && loose.length === 0) {
    return h('p', { class: 'hint' }, plural(b.totals?.files ?? 0, 'file'));
  }
  return h('ul', { class: 'items' },
    items.map((i) => h('li', { class: 'item' },
      h('div', { class: 'item-row' },
        h('span', { class: 'item-name' }, i.item),
        h('span', { class: 'item-stats' },
          h('span', { class: 'files-count', dataset: { item: i.item, count: i.files ?? 0 } }, number(i.files ?? 0)),
          i.files === 1 ? ' file · ' : ' files · ', bytes(i.bytes))),
      under(i.item).map((d) => database(d, d.path === i.item)))),
    loose.map((d) => h('li', { class: 'item' }, database(d, false))));
}

function database(d, isItem) {
  const ok = d.integrity === 'ok';
  return h('div', { class: 'db', dataset: { db: d.path } },
    h('div', { class: 'db-head' },
      h('span', { class: 'db-name' }, isItem ? 'SQLite database' : d.path),
      h('span', { class: `integrity ${ok ? 'ok' : 'bad'}`, title: ok ? null : d.integrity },
        ok ? '✓ integrity ok' : `✗ integrity: ${d.integrity ?? 'unknown'}`)),
    (d.tables?.length ?? 0) > 0 && h('ul', { class: 'tables', 'aria-label': `Tables in ${d.path}` },
      d.tables.map((t) => h('li', null,
        h('span', { class: 'table-name' }, t.name),
        h('span', { class: 'rows' },
          h('span', { class: 'db-rows', dataset: { db: d.path, table: t.name, rows: t.rows ?? 0 } }, number(t.rows ?? 0)),
          t.rows === 1 ? ' row' : ' rows')))));
}

function verifyResult(v) {
  if (!v || v.running) return null;
  if (v.error) {
    return h('div', { class: 'verify-result bad', role: 'alert', dataset: { ok: 'false' } },
      `Could not verify: ${v.error.message ?? v.error}`);
  }
  const r = v.report ?? {};
  if (r.ok) {
    return h('div', { class: 'verify-result ok', role: 'status', dataset: { ok: 'true' } },
      '✓ Verified ', timeEl(v.at), `: ${plural(r.files_checked ?? 0, 'file')}, ${bytes(r.bytes_checked)} intact`);
  }
  const problems = r.problems ?? [];
  return h('div', { class: 'verify-result bad', role: 'alert', dataset: { ok: 'false' } },
    h('p', null, `✗ Damaged: ${plural(problems.length, 'problem')} found`),
    h('ul', { class: 'problems' }, problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) =>
      h('li', null, h('span', { class: 'path' }, p.path ?? ''), ` — ${label(PROBLEM_LABEL, p.problem)}`,
        p.detail ? ` (${p.detail})` : ''))),
    problems.length > MAX_PROBLEMS_SHOWN && h('p', null, `…and ${number(problems.length - MAX_PROBLEMS_SHOWN)} more`));
}
