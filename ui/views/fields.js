// Form fields shared by the first-run setup and the settings tab: labelled inputs,
// folder pickers, the include list, and errors shown next to the field they name.

import { fill, h, icon } from '../dom.js';

/** A labelled control with a hint and an error slot (#ID-error) the engine's `field` maps to. */
export function field({ id, label, control, hint, extra = [] }) {
  const describedBy = [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' ');
  const input = control ?? h('input', { id, type: 'text' });
  input.setAttribute('aria-describedby', describedBy);
  return h('div', { class: 'field', dataset: { field: id } },
    h('label', { for: id }, label),
    extra.length ? h('div', { class: 'control-row' }, input, extra) : input,
    h('p', { id: `${id}-error`, class: 'field-error', role: 'alert' }),
    hint && h('p', { id: `${id}-hint`, class: 'hint' }, hint));
}

/** A checkbox with its label beside it, same error slot convention. */
export function checkField({ id, label, hint }) {
  const describedBy = [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' ');
  const input = h('input', { id, type: 'checkbox', 'aria-describedby': describedBy });
  return h('div', { class: 'field check', dataset: { field: id } },
    h('div', { class: 'check-row' }, input, h('label', { for: id }, label)),
    h('p', { id: `${id}-error`, class: 'field-error', role: 'alert' }),
    hint && h('p', { id: `${id}-hint`, class: 'hint' }, hint));
}

/** A path field with a "Choose…" button that opens the native picker on the app side. */
export function folderField({ id, label, hint, pickFolder, placeholder }) {
  const input = h('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder });
  const choose = h('button', {
    type: 'button', id: `${id}-choose`, 'aria-label': `Choose ${label.toLowerCase()}`,
    onclick: async () => {
      const path = await pickFolder(input.value.trim() || undefined);
      if (path) {
        input.value = path;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }
    },
  }, 'Choose…');
  return field({ id, label, control: input, hint, extra: [choose] });
}

/** A number field (hours may be fractional; keep is whole). */
export function numberField({ id, label, hint, min, step }) {
  const input = h('input', { id, type: 'number', min, step, inputmode: step === 'any' ? 'decimal' : 'numeric' });
  return field({ id, label, control: input, hint });
}

/** Split a typed list on commas and new lines. */
export function splitList(text) {
  return String(text ?? '').split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

/**
 * The included items as removable chips, plus #include to type more (comma-separated)
 * and a picker for folders inside the source. Text left in #include counts on save,
 * so typing a list and pressing Save just works.
 */
export function includeEditor({ pickFolder, sourceInput, onError }) {
  let items = [];
  const chips = h('ul', { class: 'chips', 'aria-label': 'Included items' });
  const input = h('input', {
    id: 'include', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'e.g. drumgen.db, audio_files',
  });
  const add = (list) => {
    for (const item of list) if (!items.includes(item)) items.push(item);
    render();
  };
  const addTyped = () => {
    add(splitList(input.value));
    input.value = '';
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault(); // add the item, don't submit the form
      addTyped();
    }
  });
  const addButton = h('button', { type: 'button', id: 'include-add', onclick: addTyped }, 'Add');
  const pickButton = h('button', {
    type: 'button', id: 'include-choose', 'aria-label': 'Choose a folder to include',
    onclick: async () => {
      const source = sourceInput.value.trim().replace(/[\\/]+$/, '');
      const path = await pickFolder(source || undefined);
      if (!path) return;
      const rel = relativeTo(source, path);
      if (rel) add([rel]);
      else onError(`Choose a folder inside the source folder${source ? ` (${source})` : ''}.`);
    },
  }, 'Folder…');

  function render() {
    fill(chips, items.length === 0
      ? h('li', { class: 'chip-empty' }, 'Everything in the source folder')
      : items.map((item, i) => h('li', { class: 'chip', dataset: { item } },
        h('span', { class: 'chip-text' }, item),
        h('button', {
          type: 'button', class: 'chip-remove', 'aria-label': `Remove ${item}`,
          onclick: () => {
            items = items.filter((x) => x !== item);
            render();
            // Keep keyboard focus in the list rather than losing it to <body>.
            (chips.querySelectorAll('.chip-remove')[Math.min(i, items.length - 1)] ?? input).focus();
          },
        }, icon('close')))));
  }
  render();

  const el = field({
    id: 'include', label: 'What to back up', control: input, extra: [addButton, pickButton],
    hint: 'Files or folders inside the source, separated by commas. None means the whole source folder.',
  });
  el.insertBefore(chips, el.querySelector('.control-row'));
  return {
    el,
    get: () => [...items, ...splitList(input.value)],
    set(list) {
      items = Array.isArray(list) ? [...list] : [];
      input.value = '';
      render();
    },
  };
}

function relativeTo(base, path) {
  const norm = (p) => p.replace(/\\/g, '/').replace(/\/+$/, '');
  const b = norm(base);
  const p = norm(path);
  return b && p.startsWith(`${b}/`) ? p.slice(b.length + 1) : null;
}

/** Errors for a form: `{field}` ones beside that field, the rest at the top. */
export function formErrors(form, top) {
  return {
    clear() {
      top.textContent = '';
      for (const slot of form.querySelectorAll('.field-error')) slot.textContent = '';
      for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    },
    show(err) {
      const message = err?.message ?? String(err);
      const id = err?.field ? String(err.field).replace(/_/g, '-') : null;
      const slot = id && form.querySelector(`#${CSS.escape(id)}-error`);
      if (!slot) {
        top.textContent = message;
        return;
      }
      slot.textContent = message;
      const input = form.querySelector(`#${CSS.escape(id)}`);
      // The field may sit in a closed "Advanced" section.
      const details = slot.closest('details');
      if (details) details.open = true;
      input?.setAttribute('aria-invalid', 'true');
      input?.focus();
    },
  };
}

/**
 * The fields every profile needs (source, include, destination, every hours, keep),
 * read back as a partial profile. Obvious gaps are caught here with a plain message,
 * because an empty number would reach the app as null and fail less clearly.
 */
export function profileFields({ pickFolder, errors }) {
  const source = folderField({
    id: 'source', label: 'Source folder', pickFolder, placeholder: '/home/you/MyApp',
    hint: 'The app’s data folder: its database and asset folders live here.',
  });
  const sourceInput = source.querySelector('#source');
  const include = includeEditor({
    pickFolder, sourceInput, onError: (message) => errors().show({ field: 'include', message }),
  });
  const destination = folderField({
    id: 'destination', label: 'Backup folder', pickFolder, placeholder: '/media/you/Backups',
    hint: 'Where backups go — ideally another drive. Not inside the source.',
  });
  const every = numberField({ id: 'every-hours', label: 'Back up every (hours)', min: 0.1, step: 'any' });
  const keep = numberField({ id: 'keep', label: 'Backups to keep', min: 1, step: 1 });
  const $ = (id) => [source, destination, every, keep].map((f) => f.querySelector(`#${id}`)).find(Boolean);

  return {
    source,
    include: include.el,
    destination,
    schedule: h('div', { class: 'field-pair' }, every, keep),
    fill(p) {
      $('source').value = p?.source ?? '';
      include.set(p?.include ?? []);
      $('destination').value = p?.destination ?? '';
      $('every-hours').value = p?.every_hours ?? 12;
      $('keep').value = p?.keep ?? 2;
    },
    /** The values, or throws { field, message } for the first obviously missing one. */
    read() {
      const value = {
        source: $('source').value.trim(),
        include: include.get(),
        destination: $('destination').value.trim(),
        every_hours: $('every-hours').valueAsNumber,
        keep: $('keep').valueAsNumber,
      };
      if (!value.source) throw { field: 'source', message: 'Choose the folder to back up.' };
      if (!value.destination) throw { field: 'destination', message: 'Choose where the backups go.' };
      if (!(value.every_hours > 0)) throw { field: 'every_hours', message: 'Enter a number of hours, such as 12.' };
      if (!Number.isInteger(value.keep) || value.keep < 1) {
        throw { field: 'keep', message: 'Enter how many backups to keep: 1 or more.' };
      }
      return value;
    },
  };
}
