// The settings tab: the profile, schedule, app options and hooks. Save sends the whole
// Settings back through save_settings, which applies it at once. Below it, the offsite
// copy (views/offsite.js), saved on its own through save_offsite.

import { h } from '../dom.js';
import { checkField, field, formErrors, numberField, profileFields, splitList } from './fields.js';
import { offsiteSettings } from './offsite.js';

const HOOKS = [
  ['before_backup', 'Before each backup'],
  ['after_backup', 'After each backup'],
  ['before_restore', 'Before a restore'],
  ['after_restore', 'After a restore'],
];
const idOf = (key) => key.replace(/_/g, '-');

export function settingsView({ api, onSaved }) {
  let current = null; // the Settings last loaded or saved: unknown keys survive a save
  const top = h('p', { id: 'settings-error', class: 'alert', role: 'alert' });
  const saved = h('span', { id: 'settings-saved', class: 'note', role: 'status' });
  const pickFolder = (start) => api.pickFolder(start).catch((err) => {
    errors.show(err);
    return null;
  });
  const profile = profileFields({ pickFolder, errors: () => errors });
  const login = checkField({ id: 'launch-at-login', label: 'Start Lifeboat when I log in' });
  const notify = checkField({
    id: 'notify-on-success', label: 'Notify after every successful backup',
    hint: 'Failures are always notified.',
  });
  const exclude = field({
    id: 'exclude', label: 'Leave out (patterns)',
    control: h('textarea', { id: 'exclude', rows: 2, spellcheck: 'false', placeholder: '*.tmp, .DS_Store' }),
    hint: 'File name patterns, separated by commas or lines.',
  });
  const hooks = HOOKS.map(([key, text]) => field({
    id: idOf(key), label: text,
    control: h('input', { id: idOf(key), type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'command (optional)' }),
  }));
  const timeout = numberField({ id: 'hook-timeout-secs', label: 'Command time limit (seconds)', min: 1, step: 1 });
  const save = h('button', { id: 'save-settings', type: 'submit', class: 'primary' }, 'Save');
  const configPath = h('p', { class: 'hint config-path' });

  const form = h('form', { id: 'settings', novalidate: true, 'aria-label': 'Settings' },
    top,
    h('fieldset', null, h('legend', null, 'Data'), profile.source, profile.include),
    h('fieldset', null, h('legend', null, 'Backups'), profile.destination, profile.schedule),
    h('fieldset', null, h('legend', null, 'App'), login, notify),
    h('details', { class: 'advanced' }, h('summary', null, 'Advanced: exclusions and commands'),
      h('div', { class: 'advanced-body' },
        exclude,
        h('fieldset', null, h('legend', null, 'Commands'),
          h('p', { class: 'hint' }, 'Run before or after each backup or restore; a failing command stops it with its error.'),
          hooks, timeout))),
    h('div', { class: 'form-actions' }, save, saved),
    configPath);
  const errors = formErrors(form, top);
  const $ = (id) => form.querySelector(`#${id}`);
  const offsite = offsiteSettings({
    api,
    onSaved: (s) => {
      current = s;
      onSaved?.(s);
    },
  });

  // Launch at login takes effect on click, like the system switch it mirrors.
  $('launch-at-login').addEventListener('change', async (e) => {
    const box = e.target;
    errors.clear();
    try {
      box.checked = await api.setAutostart(box.checked);
    } catch (err) {
      box.checked = !box.checked;
      errors.show({ ...err, field: 'launch_at_login' });
    }
  });
  form.addEventListener('input', () => {
    saved.textContent = '';
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    saved.textContent = '';
    let settings;
    try {
      settings = read();
    } catch (err) {
      errors.show(err);
      return;
    }
    save.disabled = true;
    try {
      const result = await api.saveSettings(settings);
      fillForm(result ?? settings);
      saved.textContent = 'Saved';
      onSaved?.(result ?? settings);
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });

  function read() {
    const p = { ...(current?.profile ?? {}), ...profile.read() };
    p.exclude = splitList($('exclude').value);
    for (const [key] of HOOKS) p[key] = $(idOf(key)).value.trim() || undefined; // absent = no hook
    const t = $('hook-timeout-secs').valueAsNumber;
    if (!Number.isNaN(t) && !(Number.isInteger(t) && t >= 1)) {
      throw { field: 'hook_timeout_secs', message: 'Enter whole seconds: 1 or more.' };
    }
    if (Number.isInteger(t)) p.hook_timeout_secs = t;
    return {
      ...(current ?? {}),
      configured: true,
      profile: p,
      notify_on_success: $('notify-on-success').checked,
      launch_at_login: $('launch-at-login').checked,
    };
  }

  function fillForm(s, autostart) {
    current = s;
    const p = s?.profile ?? null;
    profile.fill(p);
    $('exclude').value = (p?.exclude ?? []).join(', ');
    for (const [key] of HOOKS) $(idOf(key)).value = p?.[key] ?? '';
    $('hook-timeout-secs').value = p?.hook_timeout_secs ?? '';
    $('notify-on-success').checked = Boolean(s?.notify_on_success);
    $('launch-at-login').checked = Boolean(autostart ?? s?.launch_at_login);
    configPath.textContent = s?.config_path ? `Settings file: ${s.config_path}` : '';
    // Hooks in use should not hide behind a closed section.
    if (HOOKS.some(([key]) => p?.[key])) form.querySelector('details.advanced').open = true;
    offsite.fill(s);
  }

  return { el: h('div', { class: 'settings-panel' }, form, offsite.el), fill: fillForm };
}
