// Dev only — never loaded by index.html. A fake window.__TAURI__ (core.invoke,
// event.listen) that answers with the shapes of docs/app-api.md and seed-like data
// (drumgen.db, audio_files: 240 files, illugen_audio: 727 files), so the window can be
// previewed and screenshot in a plain browser.
//
// ?state=protected (default) | setup | backing_up | needs_attention | paused | dark
// ("dark" is "protected" in the dark theme; see preview.js for ?theme, ?tab and ?do).
// &slow makes backups and restores take 20 times longer, to catch them mid-way.

const params = new URLSearchParams(location.search);
const scenario = params.get('state') ?? 'protected';

const HOUR = 3600e3;
const SOURCE = '/home/ana/DrumGen Scorer';
const DEST = '/media/ana/Backups/DrumGen Scorer DB backups';
const LOG = '/home/ana/.local/share/lifeboat/logs/lifeboat.log';
const LATENCY_MS = 120;
const SLOW = params.has('slow') ? 20 : 1;

const iso = (ms) => new Date(ms).toISOString();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pad = (n) => String(n).padStart(2, '0');
const folderTime = (ms) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}_${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}`;
};

const ITEMS = [
  { item: 'drumgen.db', files: 1, bytes: 1_482_752 },
  { item: 'audio_files', files: 240, bytes: 18_874_368 },
  { item: 'illugen_audio', files: 727, bytes: 6_485_880 },
];
const TOTAL_FILES = ITEMS.reduce((n, i) => n + i.files, 0);
const TOTAL_BYTES = ITEMS.reduce((n, i) => n + i.bytes, 0);

function makeBackup({ at, trigger, kind = 'backup', testResults = 241, newBytes = TOTAL_BYTES }) {
  const name = `${kind === 'backup' ? 'backup_' : 'pre-restore_'}${folderTime(at)}`;
  const secs = newBytes === TOTAL_BYTES ? 7.8 : 2.3;
  return {
    name,
    path: `${DEST}/${name}`,
    kind,
    trigger,
    started_at: iso(at),
    finished_at: iso(at + secs * 1000),
    duration_secs: secs,
    totals: {
      files: TOTAL_FILES, dirs: 243, symlinks: 0, databases: 1, bytes: TOTAL_BYTES,
      bytes_written: newBytes, files_linked: newBytes === TOTAL_BYTES ? 0 : TOTAL_FILES - 1,
    },
    items: ITEMS.map((i) => ({ ...i })),
    databases: [{
      path: 'drumgen.db', size: 1_482_752, page_size: 4096, page_count: 362,
      tables: [
        { name: 'test_results', rows: testResults },
        { name: 'prompts', rows: 58 },
        { name: 'scores', rows: testResults * 4 },
        { name: 'notes', rows: 112 },
      ],
      integrity: 'ok',
      source_fingerprint: `3f9c2a${testResults}`,
    }],
    warnings: [],
  };
}

function run(id, { action = 'backup', trigger, at, secs, outcome, backup = null, error = null, errorKind = null }) {
  const ok = outcome === 'success';
  return {
    id, profile: 'DrumGen Scorer', action, trigger, started_at: iso(at), finished_at: iso(at + secs * 1000),
    outcome, backup, files: ok ? TOTAL_FILES : null, bytes: ok ? TOTAL_BYTES : null, error, error_kind: errorKind,
  };
}

// ---- the fake app's state ----

const now = Date.now();
const configured = scenario !== 'setup';
let settings = configured
  ? {
    configured: true,
    profile: {
      name: 'DrumGen Scorer', source: SOURCE, include: ['drumgen.db', 'audio_files', 'illugen_audio'],
      exclude: ['*.tmp', '.DS_Store'], destination: DEST, every_hours: 12, keep: 2, hook_timeout_secs: 300,
    },
    notify_on_success: false, launch_at_login: true, config_path: '/home/ana/.config/lifeboat/config.toml',
  }
  : { configured: false, profile: null, notify_on_success: false, launch_at_login: false, config_path: '/home/ana/.config/lifeboat/config.toml' };

let backups = configured
  ? [
    makeBackup({ at: now - 2 * HOUR - 7 * 60e3, trigger: 'manual', newBytes: 1_482_752 }),
    makeBackup({ at: now - 14 * HOUR - 7 * 60e3, trigger: 'scheduled', testResults: 236 }),
    makeBackup({ at: now - 49 * HOUR, trigger: 'pre-restore', kind: 'pre-restore', testResults: 229 }),
  ]
  : [];
let history = configured
  ? [
    run(7, { trigger: 'manual', at: now - 2 * HOUR - 7 * 60e3, secs: 2.3, outcome: 'success', backup: backups[0].name }),
    run(6, {
      trigger: 'scheduled', at: now - 2 * HOUR - 40 * 60e3, secs: 0.1, outcome: 'failed',
      error: `destination not available: ${DEST} does not exist — is the drive connected?`, errorKind: 'destination_unavailable',
    }),
    run(5, { trigger: 'startup', at: now - 9 * HOUR, secs: 0.4, outcome: 'skipped' }),
    run(4, { trigger: 'scheduled', at: now - 14 * HOUR - 7 * 60e3, secs: 7.8, outcome: 'success', backup: backups[1].name }),
    run(3, { action: 'restore', trigger: 'manual', at: now - 49 * HOUR, secs: 4.1, outcome: 'success', backup: 'backup_2025-12-27_09-57-15' }),
    run(2, { trigger: 'scheduled', at: now - 62 * HOUR, secs: 7.5, outcome: 'success' }),
  ]
  : [];
let nextId = 8;
let destinationAvailable = scenario !== 'needs_attention';
let pausedUntil = scenario === 'paused' ? iso(now + HOUR) : null;
let running = null;
let progress = null;
let autostart = settings.launch_at_login;

if (scenario === 'needs_attention') {
  history.unshift(run(nextId++, {
    trigger: 'scheduled', at: now - 20 * 60e3, secs: 0.1, outcome: 'failed',
    error: `destination not available: ${DEST} does not exist — is the drive connected?`, errorKind: 'destination_unavailable',
  }));
}

function status() {
  if (!settings.configured) return null;
  const list = destinationAvailable ? backups : []; // as the engine: nothing listed when the drive is away
  const last = list.find((b) => b.kind === 'backup') ?? null;
  const attempt = history.find((r) => r.action === 'backup') ?? null;
  const failed = attempt?.outcome === 'failed';
  const p = settings.profile;
  return {
    profile: p.name, source: p.source, destination: p.destination, destination_available: destinationAvailable,
    health: failed ? 'failing' : last ? 'ok' : 'no_backup',
    last_backup: last, last_attempt: attempt,
    last_error: failed ? { kind: attempt.error_kind, message: attempt.error } : null,
    next_due: last ? iso(Date.parse(last.started_at) + p.every_hours * HOUR) : null,
    backups: list.length, every_hours: p.every_hours, keep: p.keep,
  };
}

// The words the app's engine (lifeboat::view) sends; the mock plays the app, so it says them.
const PHASE_LABEL = {
  scanning: 'Scanning', copying: 'Copying files', databases: 'Copying databases', finishing: 'Finishing',
  rotating: 'Removing old backups', verifying: 'Verifying', restoring: 'Restoring',
};
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;

function progressView(p) {
  return {
    ...p, label: PHASE_LABEL[p.phase], percent: Math.floor((p.bytes_done * 100) / p.bytes_total),
    detail: `${p.files_done} of ${p.files_total} files · ${mb(p.bytes_done)} of ${mb(p.bytes_total)}`,
  };
}

function appStatus() {
  const s = status();
  const state = !s ? 'setup'
    : running ? 'backing_up'
      : s.health === 'failing' || !destinationAvailable ? 'needs_attention'
        : pausedUntil ? 'paused' : 'protected';
  const title = {
    setup: 'Set up Lifeboat', backing_up: running === 'restore' ? 'Restoring' : 'Backing up', paused: 'Paused',
    needs_attention: 'Needs attention', protected: 'Protected',
  }[state];
  const alert = s?.last_error ? `Last backup failed: ${s.last_error.message}`
    : s && !s.destination_available ? `Backup folder not available: ${s.destination} — connect the drive and try again.`
      : null;
  const headline = {
    setup: 'Set up Lifeboat: choose what to back up', backing_up: 'Backing up…', paused: 'Paused for 1 h',
    needs_attention: alert, protected: 'Last backup 2 h ago · next in 10 h',
  }[state];
  const nextBackup = pausedUntil === 'indefinitely' ? 'Paused until you resume'
    : pausedUntil ? `Paused until ${new Date(pausedUntil).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`
      : running === 'backup' ? 'Now' : null;
  const one = {
    state, title, headline, alert, next_backup: nextBackup, status: s, progress, running, paused_until: pausedUntil,
  };
  // One profile in the preview (the app sends every profile, the worst at the top).
  const profiles = s ? [{ profile: s.profile, ...one }, ...extraProfiles] : [];
  return { ...one, profile: s?.profile ?? null, profiles, autostart, log_file: LOG };
}

/** Profiles added in the preview: shown in the switcher, always protected. */
let extraProfiles = [];

// ---- events ----

const listeners = new Map();
function emit(event, payload) {
  for (const cb of listeners.get(event) ?? []) cb({ event, id: 0, payload });
}
const changed = () => emit('status-changed', appStatus());

/** Walk through `phases` over `ms`, emitting progress about 10 times a second. */
async function simulate(kind, phases, ms, from = 0) {
  running = kind;
  changed();
  const steps = Math.max(1, Math.round((ms * SLOW) / 100));
  for (let i = Math.round(from * steps); i <= steps; i += 1) {
    const f = i / steps;
    progress = progressView({
      phase: phases[Math.min(phases.length - 1, Math.floor(f * phases.length))],
      files_done: Math.round(f * TOTAL_FILES), files_total: TOTAL_FILES,
      bytes_done: Math.round(f * TOTAL_BYTES), bytes_total: TOTAL_BYTES,
    });
    emit('progress', progress);
    await sleep(100);
  }
  running = null;
  progress = null;
}

const BACKUP_PHASES = ['scanning', 'copying', 'copying', 'copying', 'databases', 'finishing', 'rotating'];

async function runBackup(trigger, ms = 4000, from = 0) {
  const started = Date.now();
  if (!destinationAvailable) {
    const error = `destination not available: ${DEST} does not exist — is the drive connected?`;
    history.unshift(run(nextId++, { trigger, at: started, secs: 0.1, outcome: 'failed', error, errorKind: 'destination_unavailable' }));
    changed();
    throw { kind: 'destination_unavailable', message: error };
  }
  await simulate('backup', BACKUP_PHASES, ms, from);
  const b = makeBackup({ at: started, trigger, testResults: 243, newBytes: 1_482_752 });
  const regular = backups.filter((x) => x.kind === 'backup');
  const keep = settings.profile.keep;
  backups = [b, ...regular.slice(0, keep - 1), ...backups.filter((x) => x.kind !== 'backup')];
  history.unshift(run(nextId++, { trigger, at: started, secs: (Date.now() - started) / 1000, outcome: 'success', backup: b.name }));
  changed();
  return { result: 'created', backup: b };
}

function find(name) {
  const b = backups.find((x) => x.name === name);
  if (!b) throw { kind: 'no_such_backup', message: `no backup named ${name} in ${DEST}` };
  return b;
}

function validate(s) {
  const p = s?.profile ?? {};
  const abs = (x) => typeof x === 'string' && x.startsWith('/');
  if (!abs(p.source)) throw { kind: 'setting', field: 'source', message: `source ${p.source} is not an absolute path: choose the app's data folder` };
  if (!abs(p.destination)) throw { kind: 'setting', field: 'destination', message: `destination ${p.destination} is not an absolute path` };
  if (p.destination.startsWith(`${p.source}/`)) {
    throw { kind: 'setting', field: 'destination', message: `destination ${p.destination} is inside the source: choose a folder elsewhere` };
  }
  if (!(p.keep >= 1)) throw { kind: 'setting', field: 'keep', message: 'keep must be at least 1' };
}

// ---- commands ----

/** A backup's entries under `path`, seed-shaped, with the engine's state words. */
function mockEntries(path) {
  const STATE = { same: 'same', changed: 'changed', deleted: 'deleted since', new: 'new since' };
  const entry = (p, kind, size, state, extra = {}) => ({
    path: p, name: p.split('/').at(-1), kind, size, mtime: iso(Date.now() - 30 * HOUR), state,
    state_words: STATE[state], table_words: [], ...extra,
  });
  if (path === '') {
    return [
      entry('audio_files', 'dir', 0, 'changed'),
      entry('drumgen.db', 'database', 1_482_752, 'changed', {
        tables: [{ name: 'test_results', then: 241, now: 243 }, { name: 'prompts', then: 58, now: 58 }],
        table_words: ['241 then, 243 now (+2)', '58 rows, unchanged'],
      }),
      entry('illugen_audio', 'dir', 0, 'same'),
    ];
  }
  if (path === 'audio_files') {
    const files = Array.from({ length: 12 }, (_, i) => {
      const n = String(i + 1).padStart(3, '0');
      return entry(`audio_files/kick_${n}.wav`, 'file', 78_643, i === 0 ? 'deleted' : i === 4 ? 'changed' : 'same');
    });
    return [...files, entry('audio_files/new take.wav', 'file', 8, 'new')];
  }
  if (path === 'illugen_audio') {
    return Array.from({ length: 5 }, (_, i) => entry(`illugen_audio/note_${i}`, 'dir', 0, 'same'));
  }
  return Array.from({ length: 3 }, (_, i) => entry(`${path}/take ${i + 1}.wav`, 'file', 8_921, 'same'));
}

const commands = {
  get_status: () => appStatus(),
  list_backups: () => {
    if (!destinationAvailable) throw { kind: 'destination_unavailable', message: `destination not available: ${DEST} does not exist — is the drive connected?` };
    return backups;
  },
  backup_now: () => runBackup('manual'),
  verify_backup: async ({ name }) => {
    const b = find(name);
    await sleep(900);
    // The oldest regular backup plays the one with a flipped byte.
    const oldest = backups.filter((x) => x.kind === 'backup').at(-1);
    const damaged = backups.length > 1 && b === oldest;
    return {
      name, path: b.path, ok: !damaged, files_checked: b.totals.files, bytes_checked: b.totals.bytes,
      problems: damaged ? [{ path: 'audio_files/kick_017.wav', problem: 'changed', detail: 'content differs from the manifest (BLAKE3)' }] : [],
    };
  },
  restore_preview: ({ name }) => {
    find(name);
    return { name, put_back: 3, bring_back: 1, remove: 2, unchanged: TOTAL_FILES - 4, databases: ['drumgen.db'], items: ITEMS.map((i) => i.item) };
  },
  restore_backup: async ({ name }) => {
    find(name);
    const started = Date.now();
    const safety = makeBackup({ at: started, trigger: 'pre-restore', kind: 'pre-restore', testResults: 243 });
    await simulate('restore', ['restoring'], 2500);
    backups = [...backups.filter((x) => x.kind === 'backup'), safety];
    history.unshift(run(nextId++, { action: 'restore', trigger: 'manual', at: started, secs: 2.5, outcome: 'success', backup: name }));
    changed();
    return { name, safety_snapshot: safety.name, files_restored: 4, files_removed: 2, databases_restored: ['drumgen.db'] };
  },
  list_entries: ({ name, path }) => {
    find(name);
    return mockEntries(path ?? '');
  },
  diff_backup: ({ name }) => {
    const newest = find(name) === backups.find((x) => x.kind === 'backup');
    return newest
      ? { diff: { from: name, to: null, added: [], removed: [], changed: [], databases: [] }, line: 'since then: nothing changed' }
      : {
        diff: { from: name, to: null, added: ['audio_files/new take.wav'], removed: ['audio_files/kick_001.wav'], changed: ['drumgen.db'], databases: [] },
        line: 'since then: 1 changed, 1 deleted, 1 new; test_results +2 rows',
      };
  },
  preview_restore: ({ request }) => {
    find(request.name);
    const some = request.paths?.length > 0;
    const paths = (request.paths ?? []).join(', ');
    const scope = request.to
      ? `${some ? `only ${paths}` : 'the whole backup'} into ${request.to}; the live data is not touched`
      : some ? `only ${paths} in place; everything else stays as it is; a safety snapshot is taken first`
        : 'everything in the backup, in place; a safety snapshot is taken first';
    return {
      name: request.name, put_back: some ? 0 : 3, bring_back: 1, remove: some ? 0 : 2,
      unchanged: some ? 0 : TOTAL_FILES - 4, databases: some ? [] : ['drumgen.db'],
      items: ITEMS.map((i) => i.item), paths: request.paths ?? [], to: request.to ?? null, scope,
    };
  },
  restore_request: async ({ request }) => {
    find(request.name);
    await simulate('restore', ['restoring'], 1500);
    const safety = request.to ? null : makeBackup({ at: Date.now(), trigger: 'pre-restore', kind: 'pre-restore', testResults: 243 });
    if (safety) backups = [...backups.filter((x) => x.kind === 'backup'), safety];
    changed();
    return {
      name: request.name, safety_snapshot: safety?.name ?? null, put_back: 0, brought_back: 1, files_restored: 1,
      files_removed: 0, databases_restored: [], to: request.to ?? null,
    };
  },
  get_settings: () => settings,
  save_settings: ({ settings: next }) => {
    validate(next);
    const firstRun = !settings.configured;
    settings = { ...next, configured: true };
    autostart = Boolean(next.launch_at_login);
    changed();
    // The real scheduler backs up at once when no backup exists yet.
    if (firstRun) setTimeout(() => runBackup('startup').catch(() => {}), 1500);
    return settings;
  },
  add_profile: ({ settings: next }) => {
    validate(next);
    const name = next.profile?.name || 'New profile';
    extraProfiles.push({
      profile: name, state: 'protected', title: 'Protected', headline: 'Last backup just now', alert: null,
      next_backup: null, status: null, progress: null, running: null, paused_until: null,
    });
    changed();
    return { ...next, configured: true };
  },
  test_offsite: async ({ form }) => {
    await sleep(600);
    if (form.password === 'wrong') {
      throw {
        kind: 'offsite_wrong_password', headline: 'Wrong password: it does not open this repository.',
        message: `wrong password for the offsite repository ${form.repository}: it opens none of its keys`,
      };
    }
    return { repository: form.repository, exists: true, snapshots: 2, message: 'Connected: the password opens the repository (2 snapshots in it).' };
  },
  save_offsite: async ({ form }) => {
    await sleep(900);
    settings = { ...settings, offsite: { repository: form.repository, keep: form.keep || 14 } };
    return { settings, created: true, snapshots: 0, secrets_kept: true, message: 'Saved. A new offsite repository was created; your backups are being copied to it.' };
  },
  remove_offsite: () => {
    settings = { ...settings, offsite: null };
    return settings;
  },
  list_offsite: () => backups.filter((b) => b.kind === 'backup').map((b, i) => ({
    id: `${i}f3a9c2`.padEnd(64, '0'), short_id: `${i}f3a9c2`.padEnd(8, '0'), time: b.started_at, backup: b.name,
    profile: 'DrumGen Scorer', host: 'studio', path: '/lifeboat/DrumGen Scorer', files: TOTAL_FILES, size: TOTAL_BYTES, added: 0,
  })),
  restore_offsite: async ({ snapshot, to }) => {
    await sleep(1500);
    return { snapshot: { id: snapshot }, to, files: TOTAL_FILES + 2, bytes: TOTAL_BYTES, checked_against_manifest: TOTAL_FILES + 2, seconds: 1.5 };
  },
  fetch_offsite: async ({ snapshot }) => {
    await sleep(1500);
    return { backup: 'backup_2025-12-28_21-57-15', path: '/Volumes/Backup/backup_2025-12-28_21-57-15', already_local: false, files: TOTAL_FILES + 2, bytes: TOTAL_BYTES, seconds: 1.5, snapshot };
  },
  pick_folder: ({ start } = {}) => window.prompt('Mock folder picker: type a folder path', start ?? '/home/ana') || null,
  get_autostart: () => autostart,
  set_autostart: ({ enabled }) => {
    autostart = Boolean(enabled);
    settings = { ...settings, launch_at_login: autostart };
    return autostart;
  },
  pause_backups: ({ hours }) => {
    pausedUntil = hours == null ? 'indefinitely' : iso(Date.now() + hours * HOUR);
    changed();
    return appStatus();
  },
  resume_backups: () => {
    pausedUntil = null;
    changed();
    return appStatus();
  },
  get_history: ({ limit }) => history.slice(0, limit ?? 20),
  open_backup_folder: ({ name } = {}) => console.info('mock: open', name ? find(name).path : DEST),
  open_log_file: () => console.info('mock: open', LOG),
};

window.__TAURI__ = {
  core: {
    async invoke(cmd, args = {}) {
      await sleep(LATENCY_MS);
      const handler = commands[cmd];
      if (!handler) throw `command ${cmd} not found`; // Tauri rejects unknown commands with a string
      const result = await handler(args);
      return result === undefined ? null : structuredClone(result);
    },
  },
  event: {
    async listen(event, cb) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(cb);
      return () => listeners.get(event).delete(cb);
    },
  },
};

// A scheduled backup already under way when the window opens, long enough to screenshot.
if (scenario === 'backing_up') runBackup('scheduled', 90_000, 0.45).catch(() => {});
