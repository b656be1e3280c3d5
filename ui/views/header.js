// The health header: the state at a glance, last and next backup, the last error,
// "Back up now", pause/resume and the progress of whatever is running. Its words (title,
// alert, next backup, progress) are the app's, from the AppStatus, shown as sent.

import { fill, h, icon, timeEl } from '../dom.js';
import { exactTime, parseTime } from '../format.js';
import { progressView } from './progress.js';

const STATE_ICON = {
  setup: 'plus', protected: 'check', backing_up: 'sync', needs_attention: 'alert', paused: 'pause',
};

export function headerView({ onBackupNow, onPause, onResume }) {
  const badge = h('span', { class: 'state-badge' });
  const state = h('h1', { id: 'state' });
  const profile = h('p', { id: 'profile-name', class: 'profile-name' });
  const lastBackup = h('dd', { id: 'last-backup' });
  const nextBackup = h('dd', { id: 'next-backup' });
  const offsite = h('dd', { id: 'offsite-state' });
  const offsiteFact = h('div', { class: 'offsite-fact', hidden: true }, h('dt', null, 'Offsite'), offsite);
  const facts = h('dl', { class: 'facts' },
    h('div', null, h('dt', null, 'Last backup'), lastBackup),
    h('div', null, h('dt', null, 'Next backup'), nextBackup),
    offsiteFact);
  const lastError = h('p', { id: 'last-error', class: 'alert', role: 'alert' });
  const offsiteAlert = h('p', { id: 'offsite-alert', class: 'alert', role: 'alert' });
  const offsiteProgress = h('p', { id: 'offsite-progress', class: 'hint', role: 'status' });

  const backupNow = h('button', { id: 'backup-now', type: 'button', class: 'primary', onclick: onBackupNow },
    'Back up now');
  const pauseMenu = h('details', { id: 'pause-menu', class: 'menu' },
    h('summary', { class: 'button' }, icon('pause'), 'Pause'),
    h('div', { class: 'menu-items', role: 'group', 'aria-label': 'Pause backups' },
      h('button', { id: 'pause-1h', type: 'button', onclick: () => choose(1) }, 'Pause for 1 hour'),
      h('button', { id: 'pause-indef', type: 'button', onclick: () => choose(null) }, 'Pause until resumed')));
  const resume = h('button', { id: 'resume', type: 'button', hidden: true, onclick: onResume }, 'Resume backups');
  const progress = progressView({ id: 'progress', name: 'Progress' });
  const actionError = h('p', { id: 'action-error', class: 'alert', role: 'alert' });
  const actionStatus = h('p', { id: 'action-status', class: 'note', role: 'status' });

  function choose(hours) {
    pauseMenu.open = false;
    onPause(hours);
  }
  // A disclosure used as a menu should close when focus or a click goes elsewhere.
  document.addEventListener('click', (e) => {
    if (pauseMenu.open && !pauseMenu.contains(e.target)) pauseMenu.open = false;
  });
  pauseMenu.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && pauseMenu.open) {
      pauseMenu.open = false;
      pauseMenu.querySelector('summary').focus();
    }
  });

  const actions = h('div', { class: 'actions' }, backupNow, pauseMenu, resume);
  const el = h('header', { class: 'health', id: 'health' },
    h('div', { class: 'health-top' }, badge, h('div', { class: 'health-title' }, state, profile)),
    facts, lastError, offsiteAlert, offsiteProgress, actions, progress.el, actionError, actionStatus);

  return {
    el,
    /**
     * Render an AppStatus. `pending`: this window waits on backup_now. `lastSuccess`: the
     * finish time of the last successful backup run from the history, shown when the
     * status has no last_backup (the engine lists nothing while the drive is away).
     */
    render(app, { pending = false, lastSuccess = null } = {}) {
      // No status at all means the app could not be reached: say nothing about safety.
      const st = app ? app.state : 'offline';
      const s = app?.status ?? null;
      const running = app?.running ?? null;
      el.dataset.state = st;
      fill(badge, icon(STATE_ICON[st] ?? 'alert'));
      state.textContent = app?.title ?? 'Lifeboat';
      document.title = `Lifeboat — ${state.textContent}`;
      profile.textContent = s?.profile ?? '';

      const setup = st === 'setup' || !app;
      facts.hidden = setup;
      actions.hidden = setup;
      const last = s?.last_backup ? s.last_backup.finished_at ?? s.last_backup.started_at : lastSuccess;
      fill(lastBackup, last ? timeEl(last) : 'None yet');
      fill(nextBackup, nextText(app, s));
      lastError.textContent = app?.alert ?? '';
      // The offsite copy, in the app's words: short in the facts, the whole line when it failed.
      const o = app?.offsite ?? null;
      offsiteFact.hidden = setup || !o;
      offsite.textContent = o?.short ?? '';
      offsite.title = o?.line ?? '';
      offsite.dataset.state = o?.state ?? 'off';
      offsiteAlert.textContent = o?.state === 'failed' ? o.line : '';
      offsiteProgress.textContent = o?.state === 'uploading' && !setup ? o.line : '';
      // A failed click whose cause the header already shows is not said twice.
      if (repeats(lastError.textContent, actionError.textContent)) actionError.textContent = '';

      backupNow.disabled = pending || running != null;
      backupNow.textContent = running === 'backup' ? 'Backing up…' : 'Back up now';
      const paused = st === 'paused' || app?.paused_until != null;
      pauseMenu.hidden = paused;
      resume.hidden = !paused;

      if (running) progress.update(app.progress ?? null);
      else progress.hide();
    },
    progress: (p) => progress.update(p),
    /** A transient outcome of a click: an error (alert) or a confirmation (status). */
    notify(kind, message) {
      actionError.textContent = kind === 'error' && !repeats(lastError.textContent, message) ? message : '';
      actionStatus.textContent = kind === 'error' ? '' : message;
    },
  };
}

/** The app's words for the next backup, else its due time (ticking) or nothing known. */
function nextText(app, s) {
  const until = parseTime(app?.paused_until);
  if (app?.next_backup) return until ? h('span', { title: exactTime(until) }, app.next_backup) : app.next_backup;
  if (!s) return '—';
  return timeEl(s.next_due ?? new Date().toISOString(), { kind: 'due' });
}

/** Whether `message` only repeats `shown` (ignoring a "Backup failed:"-style lead-in). */
function repeats(shown, message) {
  if (!shown || !message) return false;
  const cause = message.replace(/^[^:]*failed:\s*/i, '');
  return shown.endsWith(`: ${cause}`);
}
