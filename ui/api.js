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
  // An AppStatus after every state change.
  onStatusChanged: (handler) => on('status-changed', handler),
  // A ProgressView while a job runs (about 10 a second at most).
  onProgress: (handler) => on('progress', handler),
};

export const api = {
  getStatus: () => call('get_status'),
  listBackups: () => call('list_backups'),
  backupNow: () => call('backup_now'),
  verifyBackup: (name) => call('verify_backup', { name }),
  restorePreview: (name) => call('restore_preview', { name }),
  restoreBackup: (name) => call('restore_backup', { name }),
  // The entries of backup `name` directly under `path` ('' for the top), each with its
  // state against now and the engine's words for it.
  listEntries: (name, path) => call('list_entries', { name, path: path ?? '' }),
  // { diff, line }: what changed since backup `name`, and that in one line.
  diffBackup: (name) => call('diff_backup', { name }),
  // request: { name, paths: [escaped paths], to: folder | null } (a RestoreRequest).
  previewRestore: (request) => call('preview_restore', { request }),
  restoreRequest: (request) => call('restore_request', { request }),
  getSettings: () => call('get_settings'),
  saveSettings: (settings) => call('save_settings', { settings }),
  // form: { repository, access_key_id, secret_access_key, password, keep } (an OffsiteForm);
  // blank secrets mean the ones already kept. The secrets never come back.
  testOffsite: (form) => call('test_offsite', { form }),
  saveOffsite: (form) => call('save_offsite', { form }),
  removeOffsite: () => call('remove_offsite'),
  // The offsite snapshots, newest first; restore one (by id) whole into an empty folder.
  listOffsite: () => call('list_offsite'),
  restoreOffsite: (snapshot, to) => call('restore_offsite', { snapshot, to }),
  // `start` is optional in the contract: leave it out rather than send an empty string.
  pickFolder: (start) => call('pick_folder', start ? { start } : {}),
  getAutostart: () => call('get_autostart'),
  setAutostart: (enabled) => call('set_autostart', { enabled }),
  pauseBackups: (hours) => call('pause_backups', { hours }),
  resumeBackups: () => call('resume_backups'),
  getHistory: (limit) => call('get_history', { limit }),
  openBackupFolder: (name) => call('open_backup_folder', name ? { name } : {}),
  openLogFile: () => call('open_log_file'),
};
