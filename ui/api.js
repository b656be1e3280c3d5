// The window's only door to the app: the commands and events of docs/app-api.md. Every
// command called and event listened to here is checked against the app's own list by
// src-tauri/tests/contract.rs.
// Every rejection is normalised to { kind, message, field?, headline? } so views show one
// shape; `kind` is one of the engine's ErrorKind names ('setting', 'destination_unavailable',
// 'offsite_wrong_password', ...); `headline` is the engine's few plain words for an offsite failure.

function tauri() {
  const t = window.__TAURI__;
  if (!t?.core?.invoke || !t?.event?.listen) {
    throw { kind: 'internal', message: 'This window only works inside the Lifeboat app.' };
  }
  return t;
}

/** Whatever the app (or the bridge itself) rejected with, as { kind, message, field? }. */
export function toError(err) {
  if (err && typeof err === 'object' && typeof err.message === 'string') {
    return { kind: err.kind ?? 'internal', message: err.message, field: err.field ?? null, headline: err.headline ?? null };
  }
  return { kind: 'internal', message: String(err ?? 'unknown error'), field: null, headline: null };
}

async function call(command, args) {
  try {
    return await tauri().core.invoke(command, args);
  } catch (err) {
    throw toError(err);
  }
}

/** Listen to an app event; the handler gets the payload only. */
async function on(event, handler) {
  return tauri().event.listen(event, (e) => handler(e?.payload));
}

export const events = {
  // An AppStatus after every state change: every profile's state, the worst at the top.
  onStatusChanged: (handler) => on('status-changed', handler),
  // A ProfileProgress while a job runs (about 10 a second per profile at most).
  onProgress: (handler) => on('progress', handler),
};

// Commands about one profile take its name first (`profile`: null or undefined means the
// first profile).
export const api = {
  getStatus: () => call('get_status'),
  listBackups: (profile) => call('list_backups', { profile }),
  backupNow: (profile) => call('backup_now', { profile }),
  verifyBackup: (profile, name) => call('verify_backup', { profile, name }),
  restorePreview: (profile, name) => call('restore_preview', { profile, name }),
  restoreBackup: (profile, name) => call('restore_backup', { profile, name }),
  // The entries of backup `name` directly under `path` ('' for the top), each with its
  // state against now and the engine's words for it.
  listEntries: (profile, name, path) => call('list_entries', { profile, name, path: path ?? '' }),
  // { diff, line }: what changed since backup `name`, and that in one line.
  diffBackup: (profile, name) => call('diff_backup', { profile, name }),
  // request: { name, paths: [escaped paths], to: folder | null } (a RestoreRequest).
  previewRestore: (profile, request) => call('preview_restore', { profile, request }),
  restoreRequest: (profile, request) => call('restore_request', { profile, request }),
  getSettings: (profile) => call('get_settings', { profile }),
  saveSettings: (profile, settings) => call('save_settings', { profile, settings }),
  // A new profile; its name must not be in use (else a `setting` error on `name`).
  addProfile: (settings) => call('add_profile', { settings }),
  // form: { repository, access_key_id, secret_access_key, password, keep } (an OffsiteForm);
  // blank secrets mean the ones already kept. The secrets never come back.
  testOffsite: (form) => call('test_offsite', { form }),
  saveOffsite: (profile, form) => call('save_offsite', { profile, form }),
  removeOffsite: (profile) => call('remove_offsite', { profile }),
  // The offsite snapshots, newest first; restore one (by id) whole into an empty folder.
  listOffsite: (profile) => call('list_offsite', { profile }),
  restoreOffsite: (profile, snapshot, to) => call('restore_offsite', { profile, snapshot, to }),
  // Or bring one back into the destination as the local backup it was (then Restore… as usual).
  fetchOffsite: (profile, snapshot) => call('fetch_offsite', { profile, snapshot }),
  // `start` is optional in the contract: leave it out rather than send an empty string.
  pickFolder: (start) => call('pick_folder', start ? { start } : {}),
  getAutostart: () => call('get_autostart'),
  setAutostart: (enabled) => call('set_autostart', { enabled }),
  pauseBackups: (profile, hours) => call('pause_backups', { profile, hours }),
  resumeBackups: (profile) => call('resume_backups', { profile }),
  getHistory: (profile, limit) => call('get_history', { profile, limit }),
  openBackupFolder: (profile, name) => call('open_backup_folder', name ? { profile, name } : { profile }),
  openLogFile: () => call('open_log_file'),
};

/** The commands about one profile with `profile()`'s name filled in: what the views use. */
export function forProfile(profile) {
  const bind = (fn) => (...args) => fn(profile(), ...args);
  return {
    ...api,
    listBackups: bind(api.listBackups),
    backupNow: bind(api.backupNow),
    verifyBackup: bind(api.verifyBackup),
    restorePreview: bind(api.restorePreview),
    restoreBackup: bind(api.restoreBackup),
    listEntries: bind(api.listEntries),
    diffBackup: bind(api.diffBackup),
    previewRestore: bind(api.previewRestore),
    restoreRequest: bind(api.restoreRequest),
    getSettings: bind(api.getSettings),
    saveSettings: bind(api.saveSettings),
    saveOffsite: bind(api.saveOffsite),
    removeOffsite: bind(api.removeOffsite),
    listOffsite: bind(api.listOffsite),
    restoreOffsite: bind(api.restoreOffsite),
    fetchOffsite: bind(api.fetchOffsite),
    pauseBackups: bind(api.pauseBackups),
    resumeBackups: bind(api.resumeBackups),
    getHistory: bind(api.getHistory),
    openBackupFolder: bind(api.openBackupFolder),
  };
}
