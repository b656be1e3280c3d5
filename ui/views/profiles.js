// The profile switcher: which profile the window shows (each has its own header, backups,
// activity and settings), each one's state as a dot, and "Add profile".

import { fill, h } from '../dom.js';

export function profilesView({ onSwitch, onAdd }) {
  const select = h('select', { id: 'profile-select', 'aria-label': 'Profile' });
  const add = h('button', { id: 'add-profile', type: 'button', onclick: () => onAdd() }, 'Add profile');
  const el = h('nav', { id: 'profiles', class: 'profiles', 'aria-label': 'Profiles' },
    h('label', { for: 'profile-select' }, 'Profile'), select, add);
  select.addEventListener('change', () => onSwitch(select.value));

  return {
    el,
    /** profiles: the AppStatus's `profiles`; `selected`: the name shown. */
    render(profiles, selected) {
      const list = profiles ?? [];
      el.hidden = list.length === 0;
      const same = select.options.length === list.length
        && list.every((p, i) => select.options[i].value === p.profile);
      if (!same) {
        fill(select, list.map((p) => h('option', { value: p.profile }, p.profile)));
      }
      list.forEach((p, i) => {
        // The state in the option's words, so a profile that needs attention shows from the others.
        select.options[i].textContent = p.state === 'protected' ? p.profile : `${p.profile} — ${p.title}`;
        select.options[i].dataset.state = p.state;
      });
      if (selected != null) select.value = selected;
      el.dataset.count = String(list.length);
    },
    /** While a form for a new profile is open, switching is off. */
    setAdding(adding) {
      select.disabled = adding;
      add.disabled = adding;
    },
  };
}
