// First run: no config yet. One short form creates the profile through save_settings.
// The same form adds another profile (add_profile): then it has a name field and Cancel.

import { h } from '../dom.js';
import { checkField, field, formErrors, profileFields } from './fields.js';

/** The profile name the engine needs: the source folder's name reads well in the tray. */
function nameFrom(source) {
  return source.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || 'Lifeboat';
}

export function setupView({ api, onDone, onCancel }) {
  let current = null;
  let adding = false; // another profile, not the first setup
  const top = h('p', { id: 'setup-error', class: 'alert', role: 'alert' });
  const pickFolder = (start) => api.pickFolder(start).catch((err) => {
    errors.show(err);
    return null;
  });
  const profile = profileFields({ pickFolder, errors: () => errors });
  const login = checkField({ id: 'launch-at-login', label: 'Start Lifeboat when I log in' });
  const save = h('button', { id: 'setup-save', type: 'submit', class: 'primary' }, 'Start protecting my data');
  const cancel = h('button', { id: 'setup-cancel', type: 'button', hidden: true, onclick: () => onCancel?.() }, 'Cancel');
  const name = field({
    id: 'name', label: 'Profile name',
    control: h('input', { id: 'name', type: 'text', autocomplete: 'off', placeholder: 'the source folder’s name' }),
    hint: 'How the tray and this window name it.',
  });
  const title = h('h2', { id: 'setup-title' }, 'Protect an app’s data');
  const form = h('form', { id: 'setup-form', novalidate: true, 'aria-labelledby': 'setup-title' },
    title,
    h('p', { class: 'lead' },
      'Lifeboat keeps rolling copies of a folder — its database and files — on another drive, and puts them back with one click.'),
    top, name, profile.source, profile.include, profile.destination, profile.schedule, login,
    h('div', { class: 'form-actions' }, save, cancel));
  name.hidden = true;
  const errors = formErrors(form, top);
  let touched = false;
  form.addEventListener('input', () => {
    touched = true;
  });
  profile.fill(null); // defaults (12 h, keep 2) before get_settings answers
  // Protection only works while the app runs, so start at login unless told otherwise.
  form.querySelector('#launch-at-login').checked = true;

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    let fields;
    try {
      fields = profile.read();
    } catch (err) {
      errors.show(err);
      return;
    }
    const typed = form.querySelector('#name').value.trim();
    const base = adding ? {} : current?.profile ?? {};
    const settings = {
      ...(current ?? {}),
      configured: true,
      profile: { ...base, name: (adding && typed) || base.name || nameFrom(fields.source), ...fields },
      launch_at_login: form.querySelector('#launch-at-login').checked,
    };
    save.disabled = true;
    try {
      onDone(await (adding ? api.addProfile(settings) : api.saveSettings(null, settings)));
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });

  return {
    el: form,
    /** The first setup, or (`add`) another profile: a blank form with a name and Cancel. */
    mode(add) {
      adding = add;
      touched = false;
      errors.clear();
      name.hidden = !add;
      cancel.hidden = !add;
      title.textContent = add ? 'Add a profile' : 'Protect an app’s data';
      save.textContent = add ? 'Add profile' : 'Start protecting my data';
      form.querySelector('#name').value = '';
      if (add) profile.fill(null);
    },
    fill(s) {
      current = s;
      if (touched) return; // get_settings answered after the user started typing
      profile.fill(adding ? null : s?.profile ?? null);
      if (s?.configured) form.querySelector('#launch-at-login').checked = Boolean(s.launch_at_login);
    },
  };
}
