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
//   Profiles    nav#profiles[data-count=N] > select#profile-select (option[value=NAME]
//               [data-state=STATE]), #add-profile; adding: form#setup-form with #name and
//               #setup-cancel (the header, backups, activity and settings are the selected
//               profile's)
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
//   Offsite     header: .offsite-fact > #offsite-state[data-state=up_to_date|uploading|waiting|failed]
//               (text: the app's short words, title: its line), #offsite-alert (when failed),
//               #offsite-progress (while uploading: the line with the bytes sent);
//               cards: .offsite-badge (the backup is also offsite); #offsite-restore-open;
//               settings: form#offsite: #offsite-repository #offsite-access-key-id
//               #offsite-secret-access-key #offsite-password #offsite-keep, #offsite-test,
//               #offsite-save, #offsite-remove, #offsite-on, #offsite-error (form top),
//               #offsite-result[data-ok=true|false] (.problem-headline .problem-detail),
//               #offsite-result[data-running=test|save|remove] while it runs
//   Offsite restore  #offsite-dialog[data-phase=loading|list|running|done|failed],
//               #offsite-snapshots li.offsite-snapshot[data-id=ID][data-backup=NAME]
//               > input.offsite-pick, #offsite-restore (Restore into folder…), #offsite-close,
//               #offsite-restore-result (#offsite-restore-to), #offsite-restore-error
//   Notice      #background-notice (shown once when no tray icon can show; ?notice=background
//               or window.lifeboatShowNotice()), #background-notice-ok
//   Activity    #activity > li.run[data-outcome=success|skipped|failed][data-id],
//               #open-log, #activity-error

import { api, events, forProfile } from './api.js';
import { fill, h, refreshTimes } from './dom.js';
import { activityView } from './views/activity.js';
import { backupsView } from './views/backups.js';
import { browseDialog } from './views/browse.js';
import { headerView } from './views/header.js';
import { profilesView } from './views/profiles.js';
import { offsiteRestoreDialog } from './views/offsite.js';
import { restoreDialog } from './views/restore.js';
import { settingsView } from './views/settings.js';
import { setupView } from './views/setup.js';
import { tabsView } from './views/tabs.js';

const HISTORY_LIMIT = 20;
const TICK_MS = 30_000;

let status = null; // the latest AppStatus
let selected = null; // the name of the profile the window shows
let listedFor = null; // the profile whose backups and runs the lists hold
let adding = false; // the form for a new profile is open
let mounted = null; // 'setup' | 'add' | 'main'
let pending = false; // a backup_now from this window has not returned yet
let lastSuccess = null; // finish time of the newest successful backup run in the history
let refreshSeq = 0;

const showError = (err) => header.notify('error', err?.message ?? String(err));
// The commands with the selected profile filled in.
const app = forProfile(() => selected);

/** The selected profile's status, with the app-wide facts; the top one before setup. */
function shown(s = status) {
  const p = s?.profiles?.find((x) => x.profile === selected) ?? s?.profiles?.[0];
  return p ? { ...p, autostart: s.autostart, log_file: s.log_file } : s;
}

const header = headerView({ onBackupNow: backupNow, onPause: pause, onResume: resume });
const profiles = profilesView({ onSwitch: switchTo, onAdd: () => setAdding(true) });
const restore = restoreDialog({
  preview: app.previewRestore,
  restore: app.restoreRequest,
  onFinished: afterAction,
});
const browse = browseDialog({
  listEntries: app.listEntries,
  pickFolder: api.pickFolder,
  onRestore: (b, request) => restore.open(b, request),
});
const offsiteRestore = offsiteRestoreDialog({
  api: app,
  pickFolder: () => api.pickFolder().catch((err) => {
    showError(err);
    return null;
  }),
  onFinished: afterAction,
});
const backups = backupsView({
  onOffsiteRestore: (repository) => offsiteRestore.open(repository),
  onRestore: (b) => restore.open(b),
  onBrowse: (b) => browse.open(b),
  onSince: app.diffBackup,
  onVerify: app.verifyBackup,
  onShowFolder: (name) => app.openBackupFolder(name).catch(showError),
});
const activity = activityView({ onOpenLog: () => api.openLogFile().catch(showError) });
const settings = settingsView({
  api: app,
  onSaved: (saved) => {
    // A renamed profile stays the one shown.
    if (saved?.profile?.name) selected = saved.profile.name;
    afterAction();
  },
});
const setup = setupView({
  api,
  onDone: async (saved) => {
    if (saved?.profile?.name) selected = saved.profile.name;
    adding = false;
    profiles.setAdding(false);
    applyStatus(await api.getStatus());
  },
  onCancel: () => setAdding(false),
});
const tabs = tabsView([
  { id: 'backups', label: 'Backups', panel: backups.el },
  { id: 'activity', label: 'Activity', panel: activity.el },
  { id: 'settings', label: 'Settings', panel: settings.el },
]);
const content = h('main', { id: 'content' });

/**
 * Show the setup form (first run, or `add`: a new profile) or the tabs of the selected
 * profile; the form and the settings share field ids, so only one is ever in the page.
 */
function mount(which) {
  mounted = which;
  if (which === 'setup' || which === 'add') {
    setup.mode(which === 'add');
    fill(content, setup.el);
    app.getSettings().then((s) => setup.fill(s), showError);
    return;
  }
  fill(content, tabs.el);
  if (listedFor !== selected) {
    // Never another profile's cards under this one's header, not even while loading.
    listedFor = selected;
    lastSuccess = null;
    backups.setBackups([]);
    activity.setRuns([]);
  }
  refreshLists();
  const profile = selected;
  Promise.all([app.getSettings(), api.getAutostart().catch(() => null)])
    .then(([s, autostart]) => profile === selected && settings.fill(s, autostart), showError);
}

/** Show another profile: its header, backups, activity and settings. */
function switchTo(name) {
  if (name === selected) return;
  selected = name;
  header.notify('', '');
  mounted = null;
  applyStatus(status);
}

/** Open or close the form for a new profile. */
function setAdding(on) {
  adding = on;
  profiles.setAdding(on);
  mounted = null;
  applyStatus(status);
}

/** What, when it changes, means the backup list or the history changed too. */
function fingerprint(s) {
  const st = s?.status;
  return [s?.running, st?.last_backup?.name, st?.backups, st?.last_attempt?.id, st?.destination_available].join('|');
}

function applyStatus(next) {
  if (!next) return;
  const before = shown();
  status = next;
  const names = (next.profiles ?? []).map((p) => p.profile);
  if (!names.includes(selected)) selected = names[0] ?? null;
  profiles.render(next.profiles, selected);
  const view = shown();
  const want = adding ? 'add' : view?.state === 'setup' ? 'setup' : 'main';
  if (want !== mounted) mount(want);
  else if (mounted === 'main' && fingerprint(before) !== fingerprint(view)) refreshLists();
  renderHeader();
}

function renderHeader() {
  const view = shown();
  header.render(view, { pending, lastSuccess });
  backups.setBusy(pending || view?.running != null);
  backups.setOffsite(view?.status?.offsite ?? null);
}

/** Reload the backups and the history; a slower older reload never overwrites a newer one. */
async function refreshLists() {
  const seq = ++refreshSeq;
  const [list, runs] = await Promise.allSettled([app.listBackups(), app.getHistory(HISTORY_LIMIT)]);
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
  header.progress(shown()?.progress ?? null);
  try {
    const outcome = await app.backupNow();
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
    applyStatus(await app.pauseBackups(hours));
    header.notify('ok', hours ? `Backups paused for ${hours} hour.` : 'Backups paused until you resume them.');
  } catch (err) {
    showError(err);
  }
}

async function resume() {
  try {
    applyStatus(await app.resumeBackups());
    header.notify('ok', 'Backups resumed.');
  } catch (err) {
    showError(err);
  }
}

async function start() {
  fill(document.getElementById('app'), profiles.el, header.el, content);
  document.body.append(browse.el, restore.el, offsiteRestore.el);
  try {
    // Listen before the first read so no change between the two is missed.
    await events.onStatusChanged(applyStatus);
    await events.onProgress((p) => {
      if (p?.profile != null && p.profile !== selected) return; // another profile's job
      if (pending || shown()?.running) header.progress(p);
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
