// Activity: the recent runs from the history, newest first, and the log file.

import { fill, h, timeEl } from '../dom.js';
import { OUTCOME_LABEL, TRIGGER_LABEL, bytes, duration, label, plural, secondsBetween } from '../format.js';

export function activityView({ onOpenLog }) {
  const list = h('ol', { id: 'activity', class: 'runs', 'aria-labelledby': 'activity-title' });
  const error = h('p', { id: 'activity-error', class: 'alert', role: 'alert' });
  const empty = h('p', { class: 'empty', hidden: true }, 'Nothing has run yet.');
  const el = h('section', { id: 'activity-section', class: 'section', 'aria-labelledby': 'activity-title' },
    h('div', { class: 'section-head' },
      h('h2', { id: 'activity-title' }, 'Activity'),
      h('button', { id: 'open-log', type: 'button', class: 'link', onclick: onOpenLog }, 'Open log file')),
    error, empty, list);

  return {
    el,
    setRuns(runs) {
      const rows = Array.isArray(runs) ? runs : [];
      error.textContent = '';
      fill(list, rows.map(run));
      empty.hidden = rows.length > 0;
    },
    setError(err) {
      error.textContent = `History can't be read: ${err?.message ?? err}`;
    },
  };
}

function run(r) {
  const outcome = r?.outcome ?? 'unknown';
  const secs = secondsBetween(r?.started_at, r?.finished_at);
  const what = `${r?.action === 'restore' ? 'Restore' : 'Backup'} · ${label(TRIGGER_LABEL, r?.trigger).toLowerCase()}`;
  const stats = [
    secs != null && `took ${duration(secs)}`,
    r?.files != null && r.files > 0 && plural(r.files, 'file'),
    r?.bytes != null && r.bytes > 0 && bytes(r.bytes),
  ].filter(Boolean).join(' · ');
  // A skip is not a failure: say why nothing was written.
  const note = r?.error || (outcome === 'skipped' ? 'Nothing changed since the last backup.' : '');
  return h('li', { class: 'run', dataset: { outcome, id: r?.id ?? '' } },
    h('div', { class: 'run-head' },
      h('span', { class: `outcome ${outcome}` }, label(OUTCOME_LABEL, outcome)),
      h('span', { class: 'run-what' }, what),
      timeEl(r?.started_at, { class: 'run-time' })),
    stats && h('p', { class: 'run-meta' }, stats),
    note && h('p', { class: `run-note ${outcome === 'failed' ? 'error-text' : ''}` }, note));
}
