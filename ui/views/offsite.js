// The offsite copy in the window: its settings (repository URL, S3 keys, repository
// password, keep; Test connection; Save creates or attaches the repository) and the
// "Restore from offsite…" dialog (the remote snapshots; one restored whole into an empty
// folder the native picker gives, checked against its manifest; live data untouched).
// The secrets go to the app only on Test or Save and never come back: blank means
// "the ones already kept" (the OS keychain).

import { fill, h } from '../dom.js';
import { bytes, exactTime, parseTime, plural, shortDateTime } from '../format.js';
import { field, formErrors, numberField } from './fields.js';

const DEFAULT_KEEP = 14;

/** Plain words first (the engine's headline for the kind), then the engine's message. */
function problem(err) {
  return [
    err?.headline && h('strong', { class: 'problem-headline' }, err.headline),
    h('span', { class: 'problem-detail' }, err?.message ?? String(err)),
  ];
}

/** The offsite part of the settings tab: form#offsite. */
export function offsiteSettings({ api, onSaved }) {
  const top = h('p', { id: 'offsite-error', class: 'alert', role: 'alert' });
  const result = h('div', { id: 'offsite-result', class: 'offsite-result', role: 'status', 'aria-live': 'polite' });
  const input = (id, props = {}) => h('input', {
    id, type: 'text', autocomplete: 'off', spellcheck: 'false', ...props,
  });
  const repository = field({
    id: 'offsite-repository', label: 'Repository',
    control: input('offsite-repository', { placeholder: 's3:https://s3.eu-central-1.amazonaws.com/bucket/lifeboat' }),
    hint: 'A restic repository in an S3 bucket: s3:https://HOST/BUCKET/PREFIX. Saving creates it, or attaches to the one there.',
  });
  const keyId = field({ id: 'offsite-access-key-id', label: 'Access key ID', control: input('offsite-access-key-id') });
  const secretKey = field({
    id: 'offsite-secret-access-key', label: 'Secret access key',
    control: input('offsite-secret-access-key', { type: 'password', autocomplete: 'new-password' }),
  });
  const password = field({
    id: 'offsite-password', label: 'Repository password',
    control: input('offsite-password', { type: 'password', autocomplete: 'new-password' }),
    hint: 'Encrypts the copies. Keep it somewhere safe: without it nobody, not even you, can read them.',
  });
  const keep = numberField({ id: 'offsite-keep', label: 'Offsite copies to keep', min: 1, step: 1 });
  const secretsNote = h('p', { class: 'hint', id: 'offsite-secrets-note' },
    'The keys and the password are kept in your system keychain, never in the settings file.');
  const onLine = h('p', { id: 'offsite-on', class: 'note' });
  const test = h('button', { id: 'offsite-test', type: 'button', onclick: () => run('test') }, 'Test connection');
  const save = h('button', { id: 'offsite-save', type: 'submit', class: 'primary' }, 'Save offsite');
  const remove = h('button', {
    id: 'offsite-remove', type: 'button', class: 'link', hidden: true, onclick: () => run('remove'),
  }, 'Turn off');

  const form = h('form', { id: 'offsite', novalidate: true, 'aria-label': 'Offsite copy' },
    h('fieldset', null, h('legend', null, 'Offsite copy'),
      h('p', { class: 'hint' },
        'Every backup also goes, encrypted, to an S3 store (AWS, Backblaze B2, Wasabi, MinIO…), '
        + 'readable by the restic tool too.'),
      onLine, top, repository, h('div', { class: 'field-pair' }, keyId, secretKey), password, keep, secretsNote,
      h('div', { class: 'form-actions offsite-actions' }, test, save, remove), result));
  const errors = formErrors(form, top);
  const $ = (id) => form.querySelector(`#${id}`);
  let configured = null; // the saved [profile.offsite], or null

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run('save');
  });
  form.addEventListener('input', () => {
    fill(result);
    delete result.dataset.ok;
  });

  function read() {
    const k = $('offsite-keep').valueAsNumber;
    if (!Number.isNaN(k) && !(Number.isInteger(k) && k >= 1)) {
      throw { field: 'offsite_keep', message: 'Enter how many offsite copies to keep: 1 or more.' };
    }
    const repo = $('offsite-repository').value.trim();
    if (!repo) throw { field: 'offsite_repository', message: 'Enter the repository, e.g. s3:https://HOST/BUCKET/PREFIX.' };
    return {
      repository: repo,
      access_key_id: $('offsite-access-key-id').value.trim(),
      secret_access_key: $('offsite-secret-access-key').value.trim(),
      password: $('offsite-password').value,
      keep: Number.isInteger(k) ? k : 0,
    };
  }

  function busy(on, which) {
    for (const b of [test, save, remove]) b.disabled = on;
    test.textContent = on && which === 'test' ? 'Testing…' : 'Test connection';
    save.textContent = on && which === 'save' ? 'Saving…' : 'Save offsite';
  }

  function show(ok, content) {
    result.dataset.ok = String(ok);
    result.setAttribute('role', ok ? 'status' : 'alert');
    fill(result, content);
  }

  async function run(which) {
    errors.clear();
    fill(result);
    delete result.dataset.ok;
    let values = null;
    if (which !== 'remove') {
      try {
        values = read();
      } catch (err) {
        errors.show(err);
        return;
      }
    }
    busy(true, which);
    result.dataset.running = which;
    try {
      if (which === 'test') {
        const check = await api.testOffsite(values);
        show(true, check.message);
      } else if (which === 'save') {
        const saved = await api.saveOffsite(values);
        fillForm(saved.settings);
        show(true, saved.message);
        onSaved?.(saved.settings);
      } else {
        const settings = await api.removeOffsite();
        fillForm(settings);
        show(true, 'Offsite copy turned off. The repository and its copies stay where they are.');
        onSaved?.(settings);
      }
    } catch (err) {
      if (err?.field && values && $(String(err.field).replace(/_/g, '-'))) errors.show(err);
      else show(false, problem(err));
    } finally {
      delete result.dataset.running;
      busy(false);
    }
  }

  function fillForm(s) {
    configured = s?.offsite ?? null;
    $('offsite-repository').value = configured?.repository ?? '';
    $('offsite-keep').value = configured?.keep ?? DEFAULT_KEEP;
    for (const id of ['offsite-access-key-id', 'offsite-secret-access-key', 'offsite-password']) {
      $(id).value = '';
      $(id).placeholder = configured ? 'Kept — blank keeps it' : '';
    }
    onLine.textContent = configured ? `On: every backup is also copied to ${configured.repository}.` : '';
    onLine.hidden = !configured;
    remove.hidden = !configured;
    // Offsite needs a profile first: the form waits for the first setup.
    form.hidden = !s?.configured;
  }

  return { el: form, fill: fillForm };
}

/**
 * "Restore from offsite…": the remote snapshots; one restored into a chosen empty folder,
 * or brought back into the destination as the local backup it was, to restore from in
 * place with the usual Restore… (preview, chosen paths, safety snapshot).
 */
export function offsiteRestoreDialog({ api, pickFolder, onFinished }) {
  const title = h('h2', { id: 'offsite-title' }, 'Restore from offsite');
  const sub = h('p', { class: 'dialog-sub', id: 'offsite-repo' });
  const list = h('ul', { id: 'offsite-snapshots', class: 'offsite-snapshots', 'aria-labelledby': 'offsite-title' });
  const note = h('p', { class: 'note safety-note', id: 'offsite-note' },
    'Restore into folder: the backup you choose, whole, into a new or empty folder, checked against its '
    + 'manifest; your live data is not touched. Bring back as a backup: it returns to your backup list, '
    + 'from where Restore… puts it (or chosen files) back in place, with a preview and a safety snapshot.');
  const error = h('div', { id: 'offsite-restore-error', class: 'alert', role: 'alert' });
  const result = h('div', { id: 'offsite-restore-result', role: 'status' });
  const waiting = h('p', { id: 'offsite-waiting', class: 'hint', hidden: true });
  const close = h('button', { id: 'offsite-close', type: 'button', onclick: () => shut() }, 'Cancel');
  const restore = h('button', {
    id: 'offsite-restore', type: 'button', class: 'primary', disabled: true, onclick: () => run(),
  }, 'Restore into folder…');
  const bring = h('button', {
    id: 'offsite-fetch', type: 'button', disabled: true, onclick: () => bringBack(),
  }, 'Bring back as a backup');
  const el = h('dialog', { id: 'offsite-dialog', tabindex: -1, 'aria-labelledby': 'offsite-title' },
    title, sub, list, note, waiting, error, result, h('div', { class: 'dialog-actions' }, close, bring, restore));

  let snapshots = [];
  let opener = null;
  let seq = 0;

  const hold = (e) => {
    if (el.dataset.phase === 'running' && (e.type === 'cancel' || e.key === 'Escape')) e.preventDefault();
  };
  document.addEventListener('keydown', hold, true);
  el.addEventListener('cancel', hold);
  el.addEventListener('close', () => {
    if (opener?.isConnected) opener.focus();
  });

  function setPhase(phase) {
    el.dataset.phase = phase;
    const running = phase === 'running';
    const finished = phase === 'done';
    restore.hidden = finished;
    restore.disabled = phase !== 'list' || !chosen();
    restore.textContent = running ? 'Restoring…' : 'Restore into folder…';
    bring.hidden = finished;
    bring.disabled = restore.disabled;
    close.disabled = running;
    close.textContent = finished || phase === 'failed' ? 'Close' : 'Cancel';
    list.hidden = finished;
    note.hidden = finished;
    waiting.hidden = !(running || phase === 'loading');
    waiting.textContent = running
      ? 'Downloading and checking… this takes as long as the backup is big.'
      : 'Asking the offsite store for its copies…';
    for (const r of list.querySelectorAll('input')) r.disabled = running;
    if (running) el.focus();
  }

  const chosen = () => list.querySelector('input.offsite-pick:checked')?.value ?? null;

  async function open(repository) {
    const mine = ++seq;
    opener = document.activeElement;
    snapshots = [];
    sub.textContent = repository ?? '';
    fill(list);
    fill(error);
    fill(result);
    title.textContent = 'Restore from offsite';
    setPhase('loading');
    if (!el.open) el.showModal();
    close.focus();
    try {
      snapshots = await api.listOffsite();
    } catch (err) {
      if (mine !== seq) return;
      fill(error, problem(err));
      setPhase('failed');
      return;
    }
    if (mine !== seq) return;
    fill(list, snapshots.length === 0
      ? h('li', { class: 'hint' }, 'No copies offsite yet.')
      : snapshots.map((s, i) => snapshotEl(s, i)));
    const first = list.querySelector('input.offsite-pick');
    if (first) first.checked = true;
    setPhase('list');
  }

  function snapshotEl(s, i) {
    const id = `offsite-pick-${i}`;
    const when = parseTime(s.time);
    return h('li', { class: 'offsite-snapshot', dataset: { id: s.id, backup: s.backup ?? '' } },
      h('input', {
        type: 'radio', name: 'offsite-pick', class: 'offsite-pick', id, value: s.id,
        onchange: () => {
          restore.disabled = el.dataset.phase !== 'list';
          bring.disabled = restore.disabled;
        },
      }),
      h('label', { for: id },
        h('span', { class: 'snap-time', title: exactTime(when) }, shortDateTime(when)),
        h('span', { class: 'snap-name' }, s.backup ?? s.short_id),
        h('span', { class: 'snap-meta' }, `${plural(s.files ?? 0, 'file')} · ${bytes(s.size)}`,
          s.profile && s.profile !== document.getElementById('profile-name')?.textContent
            ? ` · ${s.profile}` : '', ` · ${s.host}`)));
  }

  const chosenSnapshot = () => snapshots.find((s) => s.id === chosen());

  // Runs `work` (a call for the chosen snapshot); on success the dialog is titled
  // `heading` and shows what `describe` makes of the result, else the error.
  async function act(work, heading, describe) {
    setPhase('running');
    try {
      const r = await work();
      title.textContent = heading;
      fill(result, describe(r));
      setPhase('done');
    } catch (err) {
      fill(error, problem(err));
      setPhase('list');
    }
    close.focus();
    onFinished?.();
  }

  async function run() {
    const snap = chosenSnapshot();
    if (!snap) return;
    fill(error);
    const folder = await pickFolder();
    if (!folder) return;
    await act(() => api.restoreOffsite(snap.id, folder), 'Restored from offsite', (r) => h('p', null,
      `${snap.backup ?? snap.short_id}: ${plural(r.files ?? 0, 'file')} (${bytes(r.bytes)}) restored into `,
      h('span', { class: 'path', id: 'offsite-restore-to' }, r.to),
      r.checked_against_manifest != null
        ? `, every one checked against the backup's manifest.` : '.',
      ' Your live data was not touched.'));
  }

  async function bringBack() {
    const snap = chosenSnapshot();
    if (!snap) return;
    fill(error);
    await act(() => api.fetchOffsite(snap.id), 'Brought back from offsite', (r) => h('p', null,
      r.already_local
        ? `${r.backup} is already in your backups: nothing was downloaded. `
        : `${r.backup} is back in your backups: ${plural(r.files ?? 0, 'file')} (${bytes(r.bytes)}), `
          + 'every one checked against its manifest. ',
      'Use Restore… on its card to put it, or chosen files, back in place.'));
  }

  function shut() {
    if (el.dataset.phase !== 'running') {
      seq += 1;
      el.close();
    }
  }

  return { el, open };
}
