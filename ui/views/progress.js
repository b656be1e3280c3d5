// A progress bar for a running backup or restore, fed by `progress` events.
// Used by the header and by the restore dialog, so both read the same way. The words
// (phase label, percent, files and sizes) are the app's ProgressView, shown as sent.

import { h } from '../dom.js';

export function progressView({ id, name }) {
  const phase = h('span', { class: 'progress-phase' }, 'Starting…');
  const pct = h('span', { class: 'progress-pct' });
  const bar = h('progress', { max: 100, 'aria-label': name });
  const detail = h('div', { class: 'progress-detail' });
  const el = h('div', { id, class: 'progress', hidden: true },
    h('div', { class: 'progress-head' }, phase, pct), bar, detail);

  return {
    el,
    /** Show the ProgressView `p`; null shows an indeterminate bar (started, nothing sent yet). */
    update(p) {
      el.hidden = false;
      el.dataset.phase = p?.phase ?? '';
      phase.textContent = p?.label ?? 'Starting…';
      if (!p) {
        bar.removeAttribute('value');
        pct.textContent = '';
        detail.textContent = '';
        return;
      }
      bar.value = p.percent;
      pct.textContent = `${p.percent}%`;
      detail.textContent = p.detail;
    },
    hide() {
      el.hidden = true;
    },
  };
}
