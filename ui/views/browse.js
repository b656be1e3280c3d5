// Browse a backup: its files as a tree (folders load when opened, through list_entries),
// each with its state against now in the engine's words, databases with their rows per
// table then and now. Ticked entries go to the restore dialog: "Restore selected…" in
// place, or "Save a copy to…" a folder the native picker gives.

import { fill, h, timeEl } from '../dom.js';
import { bytes, parseTime, plural, shortDateTime } from '../format.js';

export function browseDialog({ listEntries, pickFolder, onRestore }) {
  const title = h('h2', { id: 'browse-title' }, 'Browse backup');
  const sub = h('p', { class: 'dialog-sub' });
  const filter = h('input', {
    id: 'browse-filter', type: 'search', placeholder: 'Filter by name', 'aria-label': 'Filter by name',
    autocomplete: 'off', oninput: () => applyFilter(),
  });
  const tree = h('ul', { id: 'browse-tree', class: 'tree', role: 'tree', 'aria-labelledby': 'browse-title' });
  const error = h('p', { id: 'browse-error', class: 'alert', role: 'alert' });
  const count = h('p', { id: 'browse-count', class: 'hint', 'aria-live': 'polite' });
  const close = h('button', { id: 'browse-close', type: 'button', onclick: () => el.close() }, 'Close');
  const save = h('button', { id: 'browse-save', type: 'button', onclick: () => saveCopy() }, 'Save a copy to…');
  const restore = h('button', { id: 'browse-restore', type: 'button', class: 'primary', onclick: () => restoreSelected() },
    'Restore selected…');
  const el = h('dialog', { id: 'browse-dialog', tabindex: -1, 'aria-labelledby': 'browse-title' },
    title, sub, filter, error, tree, count,
    h('div', { class: 'dialog-actions' }, close, save, restore));

  let backup = null;
  let opener = null;
  const selected = new Set(); // escaped paths; a ticked folder stands for all under it

  el.addEventListener('close', () => {
    if (opener?.isConnected) opener.focus();
  });

  async function open(b) {
    backup = b;
    opener = document.activeElement;
    selected.clear();
    filter.value = '';
    error.textContent = '';
    el.dataset.name = b.name;
    fill(sub, 'From ', shortDateTime(parseTime(b.started_at)), ' (', timeEl(b.started_at), ')');
    fill(tree, h('li', { class: 'hint' }, 'Loading…'));
    updateCount();
    if (!el.open) el.showModal();
    filter.focus();
    const entries = await load('');
    if (backup !== b) return;
    fill(tree, entries ? entries.map((e) => entryEl(e, 1)) : []);
    applyFilter();
  }

  /** The entries under `path`, or null (the error shown) when they can't be listed. */
  async function load(path) {
    try {
      return await listEntries(backup.name, path);
    } catch (err) {
      error.textContent = `Can't list ${path || 'the backup'}: ${err.message}`;
      return null;
    }
  }

  function entryEl(e, level) {
    const isDir = e.kind === 'dir';
    const restorable = e.state !== 'new'; // not in the backup: nothing to put back
    const covered = coveredBy(e.path);
    const check = h('input', {
      type: 'checkbox', class: 'entry-check', 'aria-label': `Select ${e.name}`,
      checked: covered || selected.has(e.path), disabled: !restorable || covered,
      onchange: (ev) => toggle(e.path, ev.target.checked, li),
    });
    const children = isDir ? h('ul', { class: 'tree-children', role: 'group', hidden: true }) : null;
    const toggleBtn = isDir
      ? h('button', {
        type: 'button', class: 'entry-toggle', 'aria-expanded': 'false', 'aria-label': `Open ${e.name}`,
        onclick: () => expand(e, li, children, toggleBtn, level),
      }, '▸')
      : h('span', { class: 'entry-toggle-space', 'aria-hidden': 'true' });
    const li = h('li', {
      class: 'entry', role: 'treeitem', 'aria-level': level,
      dataset: { path: e.path, name: e.name, kind: e.kind, state: e.state },
    },
    h('div', { class: 'entry-row' },
      toggleBtn, check,
      h('span', { class: `entry-name kind-${e.kind}`, title: e.path }, e.name, isDir ? '/' : ''),
      h('span', { class: `entry-state state-${e.state}` }, e.state_words),
      !isDir && h('span', { class: 'entry-size' }, bytes(e.size))),
    (e.tables?.length ?? 0) > 0 && h('ul', { class: 'entry-tables', 'aria-label': `Tables in ${e.name}` },
      e.tables.map((t, i) => h('li', { dataset: { table: t.name, then: t.then ?? '', now: t.now ?? '' } },
        h('span', { class: 'table-name' }, t.name), h('span', { class: 'rows' }, e.table_words?.[i] ?? '')))),
    children);
    return li;
  }

  async function expand(e, li, children, btn, level) {
    const opening = children.hidden;
    children.hidden = !opening;
    btn.setAttribute('aria-expanded', String(opening));
    btn.textContent = opening ? '▾' : '▸';
    li.setAttribute('aria-expanded', String(opening));
    if (!opening || li.dataset.loaded) return;
    fill(children, h('li', { class: 'hint' }, 'Loading…'));
    const entries = await load(e.path);
    if (!entries) {
      fill(children);
      return;
    }
    fill(children, entries.map((c) => entryEl(c, level + 1)));
    li.dataset.loaded = 'true';
    applyFilter();
  }

  /** Whether a ticked folder above `path` already covers it. */
  function coveredBy(path) {
    for (const p of selected) if (path.startsWith(`${p}/`)) return true;
    return false;
  }

  function toggle(path, on, li) {
    if (on) {
      for (const p of [...selected]) if (p.startsWith(`${path}/`)) selected.delete(p);
      selected.add(path);
    } else {
      selected.delete(path);
    }
    // What a folder covers shows ticked (and fixed) beneath it.
    for (const child of li.querySelectorAll('.tree-children .entry')) {
      const box = child.querySelector(':scope > .entry-row > .entry-check');
      const covered = coveredBy(child.dataset.path);
      box.checked = covered || selected.has(child.dataset.path);
      box.disabled = covered || child.dataset.state === 'new';
    }
    updateCount();
  }

  function updateCount() {
    const n = selected.size;
    count.textContent = n === 0 ? 'Tick what to restore.' : `${plural(n, 'item')} selected`;
    restore.disabled = n === 0;
  }

  /** Hides loaded entries whose name does not match, keeping folders with a match inside. */
  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    const visit = (li) => {
      const kids = [...(li.querySelector(':scope > .tree-children')?.children ?? [])].filter((c) => c.matches('.entry'));
      const kidMatch = kids.map(visit).some(Boolean);
      const match = q === '' || li.dataset.name.toLowerCase().includes(q) || kidMatch;
      li.hidden = !match;
      return match;
    };
    [...tree.children].filter((c) => c.matches('.entry')).forEach(visit);
  }

  function request(to = null) {
    return { name: backup.name, paths: [...selected].sort(), to, opener };
  }

  function restoreSelected() {
    if (selected.size === 0) return;
    const b = backup;
    const req = request();
    el.close();
    onRestore(b, req);
  }

  /** Picks an (empty) folder, then the restore dialog saves a copy of the selection there
   *  (of the whole backup when nothing is ticked). */
  async function saveCopy() {
    error.textContent = '';
    let folder;
    try {
      folder = await pickFolder();
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    if (!folder || !el.open) return;
    const b = backup;
    const req = request(folder);
    el.close();
    onRestore(b, req);
  }

  return { el, open };
}
