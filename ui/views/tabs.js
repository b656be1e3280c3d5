// Accessible tabs (WAI-ARIA tabs pattern): arrow keys, Home and End move between tabs.

import { h } from '../dom.js';

/** tabs: [{ id, label, panel }] -> #tab-ID buttons controlling #panel-ID panels. */
export function tabsView(tabs) {
  const buttons = tabs.map((t) => h('button', {
    id: `tab-${t.id}`, type: 'button', role: 'tab', 'aria-controls': `panel-${t.id}`,
    onclick: () => select(t.id),
  }, t.label));
  const panels = tabs.map((t) => h('div', {
    id: `panel-${t.id}`, role: 'tabpanel', class: 'panel', 'aria-labelledby': `tab-${t.id}`, tabindex: 0,
  }, t.panel));
  const list = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Views' }, buttons);

  list.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const j = (next + buttons.length) % buttons.length;
    select(tabs[j].id);
    buttons[j].focus();
  });

  function select(id) {
    tabs.forEach((t, i) => {
      const on = t.id === id;
      buttons[i].setAttribute('aria-selected', String(on));
      buttons[i].tabIndex = on ? 0 : -1; // one tab stop for the whole tab list
      panels[i].hidden = !on;
    });
  }
  select(tabs[0].id);

  return { el: h('div', { class: 'tabbed' }, list, panels), select };
}
