// First run: no config yet. One short form creates the profile through save_settings.

import { h } from '../dom.js';
import { checkField, formErrors, profileFields } from './fields.js';

/** The profile name the engine needs: the source folder's name reads well in the tray. */
function nameFrom(source) {
  return source.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || 'Lifeboat';
}

export function setupView({ api, onDone }) {
  let current = null;
  const top = h('p', { id: 'setup-error', class: 'alert', role: 'alert' });
  const pickFolder = (start) => api.pickFolder(start).catch((err) => {
    errors.show(err);
    return null;
  });
  const profile = profileFields({ pickFolder, errors: () => errors });
  const login = checkField({ id: 'launch-at-login', label: 'Start Lifeboat when I log in' });
  const save = h('button', { id: 'setup-save', type: 'submit', class: 'primary' }, 'Start protecting my data');
  const form = h('form', { id: 'setup-form', novalidate: true, 'aria-labelledby': 'setup-title' },
    h('h2', { id: 'setup-title' }, 'Protect an app’s data'),
    h('p', { class: 'lead' },
      'Lifeboat keeps rolling copies of a folder — its database and files — on another drive, and puts them back with one click.'),
    top, profile.source, profile.include, profile.destination, profile.schedule, login,
    h('div', { class: 'form-actions' }, save));
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
    const settings = {
      ...(current ?? {}),
      configured: true,
      profile: { ...(current?.profile ?? {}), name: current?.profile?.name || nameFrom(fields.source), ...fields },
      launch_at_login: form.querySelector('#launch-at-login').checked,
    };
    save.disabled = true;
    try {
      onDone(await api.saveSettings(settings));
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });

  return {
    el: form,
    fill(s) {
      current = s;
      if (touched) return; // get_settings answered after the user started typing
      profile.fill(s?.profile ?? null);
      if (s?.configured) form.querySelector('#launch-at-login').checked = Boolean(s.launch_at_login);
    },
  };
}
