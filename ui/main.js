// Lifeboat's window: wires the views to the app's commands and events (docs/app-api.md).
// State lives here; views only render what they are given and report clicks.
//
// Stable hooks for end-to-end tests (WebDriver). Keep them when changing the markup.
//   Header      #state (state words: Protected | Backing up | Restoring | Verifying |
//               Needs attention | Paused | Set up Lifeboat), #health[data-state=STATE],
//               #last-backup (<time datetime=ISO title=exact local time>), #next-backup,
//               #last-error (role=alert, empty when fine), #backup-now, #progress
//               (hidden unless running; [data-phase], <progress value=0..100>),
//               #pause-menu > #pause-1h | #pause-indef, #resume,
//               #action-error (role=alert), #action-status (role=status)
//   Tabs        #tab-backups #tab-activity #tab-settings -> #panel-backups ...
//   Backups     #backups-section, #backup-list > .backup-card[data-name=NAME][data-kind=backup]
//               .files-count[data-item=ITEM][data-count=N]  (text: the count)
//               .db[data-db=PATH] .integrity.ok|.bad
//               .db-rows[data-db=PATH][data-table=NAME][data-rows=N]  (text: the count)
//               .total-size .written-size .restore-btn .browse-btn .verify-btn .folder-btn
//               .verify-result[data-ok=true|false] (after Verify), #backups-error
//               .since-line[data-loaded=true] (text: diff_backup's line),
//               details.partial[data-count=N] > li.skipped[data-path=PATH]
//   Browse      #browse-dialog[data-name=BACKUP], #browse-filter, #browse-tree
//               li.entry[data-path=PATH][data-kind=file|dir|symlink|database]
//               [data-state=same|changed|deleted|new][data-loaded=true when expanded]
//               > .entry-row > .entry-toggle (folders) .entry-check .entry-name
//               .entry-state (the engine's words), .entry-tables li (rows then/now),
//               #browse-count, #browse-restore (Restore selected…), #browse-save
//               (Save a copy to…), #browse-close, #browse-error
//   Safety      #safety-section .backup-card[data-kind=pre-restore] .restore-btn
//   Restore     #restore-dialog[data-phase=preview|confirm|running|done|failed], #restore-scope,
//               #restore-summary li[data-change=put_back|bring_back|remove|databases][data-count=N],
//               #restore-confirm, #restore-cancel (Cancel/Close), #restore-progress,
//               #restore-result (#restore-to after a copy), #restore-error
//   Settings    form#settings: #source #source-choose #include (type, comma-separated;
//               pending text counts on save) #include-add #include-choose
//               .chips .chip[data-item] .chip-remove, #destination #destination-choose,
//               #every-hours #keep #launch-at-login #notify-on-success #exclude
//               #before-backup #after-backup #before-restore #after-restore
//               #hook-timeout-secs, #save-settings, #settings-error (form top),
//               #settings-saved, #FIELD-error beside each field
//   First run   form#setup-form with the same field ids (#source #include #destination
//               #every-hours #keep #launch-at-login), #setup-save, #setup-error
//               (setup and settings are never in the page at the same time)
//   Notice      #background-notice (shown once when no tray icon can show; ?notice=background
//               or window.lifeboatShowNotice()), #background-notice-ok
//   Activity    #activity > li.run[data-outcome=success|skipped|failed][data-id],
//               #open-log, #activity-error

import { api, events } from './api.js';
import { fill, h, refreshTimes } from './dom.js';
import { activityView } from './views/activity.js';
import { backupsView } from './views/backups.js';
import { browseDialog } from './views/browse.js';
import { headerView } from './views/header.js';
import { restoreDialog } from './views/restore.js';
import { settingsView } from './views/settings.js';
import { setupView } from './views/setup.js';
import { tabsView } from './views/tabs.js';

const HISTORY_LIMIT = 20;
const TICK_MS = 30_000;

let status = null; // the latest AppStatus
let mounted = null; // 'setup' | 'main'
let pending = false; // a backup_now from this window has not returned yet
let lastSuccess = null; // finish time of the newest successful backup run in the history
let refreshSeq = 0;

const showError = (err) => header.notify('error', err?.message ?? String(err));

const header = headerView({ onBackupNow: backupNow, onPause: pause, onResume: resume });
const restore = restoreDialog({
  preview: api.previewRestore,
  restore: api.restoreRequest,
  onFinished: afterAction,
});
const browse = browseDialog({
  listEntries: api.listEntries,
  pickFolder: api.pickFolder,
  onRestore: (b, request) => restore.open(b, request),
});
const backups = backupsView({
  onRestore: (b) => restore.open(b),
  onBrowse: (b) => browse.open(b),
  onSince: api.diffBackup,
  onVerify: api.verifyBackup,
  onShowFolder: (name) => api.openBackupFolder(name).catch(showError),
});
const activity = activityView({ onOpenLog: () => api.openLogFile().catch(showError) });
const settings = settingsView({ api, onSaved: () => afterAction() });
const setup = setupView({
  api,
  onDone: async (saved) => {
    settings.fill(saved);
    applyStatus(await api.getStatus());
  },
});
const tabs = tabsView([
  { id: 'backups', label: 'Backups', panel: backups.el },
  { id: 'activity', label: 'Activity', panel: activity.el },
  { id: 'settings', label: 'Settings', panel: settings.el },
]);
const content = h('main', { id: 'content' });

/** Show the setup form or the tabs; the two share field ids, so only one is ever in the page. */
function mount(which) {
  mounted = which;
  if (which === 'setup') {
    fill(content, setup.el);
    api.getSettings().then((s) => setup.fill(s), showError);
    return;
  }
  fill(content, tabs.el);
  refreshLists();
  Promise.all([api.getSettings(), api.getAutostart().catch(() => null)])
    .then(([s, autostart]) => settings.fill(s, autostart), showError);
}

/** What, when it changes, means the backup list or the history changed too. */
function fingerprint(s) {
  const st = s?.status;
  return [s?.running, st?.last_backup?.name, st?.backups, st?.last_attempt?.id, st?.destination_available].join('|');
}

function applyStatus(next) {
  if (!next) return;
  const before = status;
  status = next;
  const want = next.state === 'setup' ? 'setup' : 'main';
  if (want !== mounted) mount(want);
  else if (mounted === 'main' && fingerprint(before) !== fingerprint(next)) refreshLists();
  renderHeader();
}

function renderHeader() {
  header.render(status, { pending, lastSuccess });
  backups.setBusy(pending || status?.running != null);
}

/** Reload the backups and the history; a slower older reload never overwrites a newer one. */
async function refreshLists() {
  const seq = ++refreshSeq;
  const [list, runs] = await Promise.allSettled([api.listBackups(), api.getHistory(HISTORY_LIMIT)]);
  if (seq !== refreshSeq) return;
  if (list.status === 'fulfilled') backups.setBackups(list.value);
  else backups.setError(list.reason);
  if (runs.status === 'fulfilled') {
    activity.setRuns(runs.value);
    const ok = (runs.value ?? []).find((r) => r?.action === 'backup' && r?.outcome === 'success');
    lastSuccess = ok?.finished_at ?? null;
    renderHeader();
  } else {
    activity.setError(runs.reason);
  }
}

/** After a backup, restore or save: the status event may lag the command's reply. */
async function afterAction() {
  try {
    applyStatus(await api.getStatus());
  } catch (err) {
    showError(err);
  }
  refreshLists();
}

async function backupNow() {
  pending = true;
  header.notify('', '');
  renderHeader();
  header.progress(status?.progress ?? null);
  try {
    const outcome = await api.backupNow();
    header.notify('ok', outcome?.result === 'skipped'
      ? `Nothing new to back up: ${outcome.reason ?? 'no changes'}`
      : 'Backup complete.');
  } catch (err) {
    header.notify('error', `Backup failed: ${err.message}`);
  } finally {
    pending = false;
    await afterAction();
  }
}

async function pause(hours) {
  try {
    applyStatus(await api.pauseBackups(hours));
    header.notify('ok', hours ? `Backups paused for ${hours} hour.` : 'Backups paused until you resume them.');
  } catch (err) {
    showError(err);
  }
}

async function resume() {
  try {
    applyStatus(await api.resumeBackups());
    header.notify('ok', 'Backups resumed.');
  } catch (err) {
    showError(err);
  }
}

async function start() {
  const app = document.getElementById('app');
  fill(app, header.el, content);
  document.body.append(browse.el, restore.el);
  try {
    // Listen before the first read so no change between the two is missed.
    await events.onStatusChanged(applyStatus);
    await events.onProgress((p) => {
      if (pending || status?.running) header.progress(p);
      restore.progress(p);
    });
    applyStatus(await api.getStatus());
  } catch (err) {
    header.render(null);
    fill(content, h('p', { class: 'alert', role: 'alert' }, `Lifeboat can't be reached: ${err?.message ?? err}`));
  }
  // Only the wording of relative times changes with the clock; no commands here.
  setInterval(() => refreshTimes(document), TICK_MS);
}

/** The once-only "runs in the background" notice, for a desktop with no tray (the app decides). */
function showNotice() {
  const notice = document.getElementById('background-notice');
  notice.hidden = false;
  document.getElementById('background-notice-ok').onclick = () => { notice.hidden = true; };
}
window.lifeboatShowNotice = showNotice;
if (new URLSearchParams(location.search).get('notice') === 'background') showNotice();

start();
