// The restore flow in one <dialog>: what will change (preview_restore, with the plan's
// scope sentence) -> confirm -> progress -> result or error. The same dialog restores a
// whole backup, only some paths (from the browser), or a copy into another folder (`to`).
// The dialog cannot be dismissed while the restore runs.

import { fill, h, timeEl } from '../dom.js';
import { parseTime, plural, shortDateTime } from '../format.js';
import { progressView } from './progress.js';

export function restoreDialog({ preview, restore, onFinished }) {
  const title = h('h2', { id: 'restore-title' }, 'Restore this backup?');
  const sub = h('p', { class: 'dialog-sub' });
  const scope = h('p', { id: 'restore-scope', class: 'scope' });
  const summary = h('div', { id: 'restore-summary', 'aria-live': 'polite' });
  const safetyNote = h('p', { class: 'note safety-note' },
    'Lifeboat first saves your current data as a safety snapshot, so you can undo this restore.');
  const progress = progressView({ id: 'restore-progress', name: 'Restore progress' });
  const result = h('div', { id: 'restore-result', role: 'status' });
  const error = h('p', { id: 'restore-error', class: 'alert', role: 'alert' });
  const cancel = h('button', { id: 'restore-cancel', type: 'button', onclick: () => close() }, 'Cancel');
  const confirm = h('button', { id: 'restore-confirm', type: 'button', class: 'primary', onclick: () => run() },
    'Restore');
  const el = h('dialog', {
    id: 'restore-dialog', tabindex: -1, 'aria-labelledby': 'restore-title', 'aria-describedby': 'restore-summary',
  },
    title, sub, scope, summary, safetyNote, progress.el, result, error,
    h('div', { class: 'dialog-actions' }, cancel, confirm));

  let backup = null;
  let request = null;
  let opener = null;

  // Escape would close the dialog while files are being swapped: not then. Stopping the
  // keydown as well as `cancel`, since browsers may refuse to cancel a repeated close request.
  const holdOpen = (e) => {
    if (el.dataset.phase === 'running' && (e.type === 'cancel' || e.key === 'Escape')) e.preventDefault();
  };
  document.addEventListener('keydown', holdOpen, true);
  el.addEventListener('cancel', holdOpen);
  el.addEventListener('close', () => {
    // The list was re-rendered meanwhile: return focus to the same backup's button.
    const target = opener?.isConnected && opener !== document.body ? opener
      : document.querySelector(`.backup-card[data-name="${CSS.escape(backup?.name ?? '')}"] .restore-btn`)
        ?? document.getElementById('backup-now');
    backup = null;
    request = null;
    target?.focus();
  });

  function setPhase(phase) {
    el.dataset.phase = phase;
    const running = phase === 'running';
    const finished = phase === 'done' || phase === 'failed';
    confirm.hidden = finished;
    confirm.disabled = phase !== 'confirm';
    const copy = Boolean(request?.to);
    confirm.textContent = running ? (copy ? 'Saving…' : 'Restoring…') : (copy ? 'Save copy' : 'Restore');
    cancel.disabled = running;
    cancel.textContent = finished ? 'Close' : 'Cancel';
    // A copy into another folder leaves the live data alone: no safety snapshot then.
    safetyNote.hidden = finished || copy;
    scope.hidden = finished || scope.textContent === '';
    summary.hidden = running || finished;
    if (running) progress.update(null);
    else progress.hide();
    // Disabling the focused button would drop focus to <body>, outside the modal.
    if (running) el.focus();
  }

  /** Opens on backup `b`; `req` ({ name, paths, to }) restores only some paths or into `to`. */
  async function open(b, req = null) {
    backup = b;
    request = { name: b.name, paths: req?.paths ?? [], to: req?.to ?? null };
    opener = req?.opener ?? document.activeElement;
    const when = parseTime(b.started_at);
    title.textContent = request.to ? 'Save a copy?'
      : request.paths.length > 0 ? 'Restore the selected items?'
        : b.kind === 'pre-restore' ? 'Restore the safety snapshot?' : 'Restore this backup?';
    scope.textContent = '';
    fill(sub, 'From ', shortDateTime(when), ' (', timeEl(b.started_at), ')');
    fill(summary, h('p', { class: 'hint' }, 'Checking what will change…'));
    fill(result);
    error.textContent = '';
    setPhase('preview');
    if (!el.open) el.showModal();
    cancel.focus();
    try {
      const plan = await preview(request);
      if (backup !== b) return; // closed and reopened on another backup meanwhile
      scope.textContent = plan?.scope ? `Restores ${plan.scope}.` : '';
      fill(summary, planList(plan));
      setPhase('confirm');
      confirm.focus();
    } catch (err) {
      if (backup !== b) return;
      error.textContent = `Can't prepare the restore: ${err.message}`;
      setPhase('failed');
    }
  }

  async function run() {
    const req = request;
    setPhase('running');
    try {
      const report = await restore(req);
      title.textContent = req.to ? 'Copy saved' : 'Restored';
      fill(result, reportView(report));
      setPhase('done');
    } catch (err) {
      title.textContent = 'Restore failed';
      error.textContent = `${err.message}. If a safety snapshot was taken, it holds your data as it was before.`;
      setPhase('failed');
    }
    cancel.focus();
    onFinished?.();
  }

  function close() {
    if (el.dataset.phase !== 'running') el.close();
  }

  return {
    el,
    open,
    progress(p) {
      if (el.open && el.dataset.phase === 'running') progress.update(p);
    },
  };
}

function planList(plan) {
  // Only what will happen: a line with nothing to do is left out.
  const line = (key, n, text) => (n ?? 0) > 0 && h('li', { dataset: { change: key, count: n } }, text);
  const dbs = plan?.databases ?? [];
  if (plan?.to) {
    const n = (plan.put_back ?? 0) + (plan.bring_back ?? 0);
    return h('ul', { class: 'plan' }, line('copy', n, `${plural(n, 'file')} copied into the folder`));
  }
  return [
    h('p', null, 'Your data will be put back as it was then:'),
    h('ul', { class: 'plan' },
      line('put_back', plan?.put_back, `${plural(plan?.put_back ?? 0, 'changed file')} put back`),
      line('bring_back', plan?.bring_back, `${plural(plan?.bring_back ?? 0, 'deleted file')} brought back`),
      line('remove', plan?.remove, `${plural(plan?.remove ?? 0, 'file')} added since then removed`),
      dbs.length > 0 && h('li', { dataset: { change: 'databases', count: dbs.length } },
        `${dbs.length === 1 ? 'Database' : 'Databases'} replaced: ${dbs.join(', ')}`)),
    plan?.unchanged > 0 && h('p', { class: 'hint' }, `${plural(plan.unchanged, 'file')} unchanged.`),
  ];
}

function reportView(r) {
  const dbs = r?.databases_restored ?? [];
  if (r?.to) {
    return h('p', { class: 'hint' }, `${plural(r.files_restored ?? 0, 'file')} saved into `,
      h('span', { class: 'path', id: 'restore-to' }, r.to), '. Your live data was not touched.');
  }
  return [
    h('ul', { class: 'plan' },
      h('li', { dataset: { change: 'put_back', count: r?.put_back ?? 0 } },
        `${plural(r?.put_back ?? 0, 'changed file')} put back`),
      h('li', { dataset: { change: 'bring_back', count: r?.brought_back ?? 0 } },
        `${plural(r?.brought_back ?? 0, 'deleted file')} brought back`),
      h('li', { dataset: { change: 'remove', count: r?.files_removed ?? 0 } },
        `${plural(r?.files_removed ?? 0, 'file')} added since then removed`),
      dbs.length > 0 && h('li', null, `${dbs.length === 1 ? 'Database' : 'Databases'} restored: ${dbs.join(', ')}`)),
    r?.safety_snapshot && h('p', { class: 'hint' },
      'Your data from before is kept as the safety snapshot ', h('span', { class: 'path' }, r.safety_snapshot),
      '; restore it to undo.'),
  ];
}
