// A progress bar for a running backup or restore, fed by `progress` events.
// Used by the header and by the restore dialog, so both read the same way.

import { h } from '../dom.js';
import { PHASE_LABEL, bytes, label, number } from '../format.js';

/** 0–100, by bytes when known, else by files (the engine's ProgressUpdate::percent). */
export function percent(p) {
  const byBytes = p?.bytes_total > 0;
  const done = byBytes ? p.bytes_done : p?.files_done;
  const total = byBytes ? p.bytes_total : p?.files_total;
  if (!(total > 0)) return 0;
  return Math.floor((Math.min(done ?? 0, total) * 100) / total);
}

export function progressView({ id, name }) {
  const phase = h('span', { class: 'progress-phase' }, 'Starting…');
  const pct = h('span', { class: 'progress-pct' });
  const bar = h('progress', { max: 100, 'aria-label': name });
  const detail = h('div', { class: 'progress-detail' });
  const el = h('div', { id, class: 'progress', hidden: true },
    h('div', { class: 'progress-head' }, phase, pct), bar, detail);

  return {
    el,
    /** Show `p`; null shows an indeterminate bar (started, no numbers yet). */
    update(p) {
      el.hidden = false;
      el.dataset.phase = p?.phase ?? '';
      phase.textContent = p ? label(PHASE_LABEL, p.phase) : 'Starting…';
      if (!p) {
        bar.removeAttribute('value');
        pct.textContent = '';
        detail.textContent = '';
        return;
      }
      const value = percent(p);
      bar.value = value;
      pct.textContent = `${value}%`;
      const files = p.files_total > 0 ? `${number(p.files_done)} of ${number(p.files_total)} files` : '';
      const size = p.bytes_total > 0 ? `${bytes(p.bytes_done)} of ${bytes(p.bytes_total)}` : '';
      detail.textContent = [files, size].filter(Boolean).join(' · ');
    },
    hide() {
      el.hidden = true;
    },
  };
}
