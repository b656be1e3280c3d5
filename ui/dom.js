// Building elements from JS values, never from HTML strings: the CSP forbids inline
// handlers and styles, and text from the app (paths, error messages) must stay text.

import { dueTime, exactTime, parseTime, relativeTime } from './format.js';

// Set as properties, not attributes, so they reflect live state (value, checked...).
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'open', 'type', 'htmlFor']);

/**
 * h('button', { class: 'primary', onclick: fn, dataset: { name } }, 'Text', child...)
 * Null, undefined and false props or children are skipped, so callers can write
 * `cond && h(...)` without branches.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An SVG icon (stroked paths on a 24 px grid), decorative unless given a label. */
const ICONS = {
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  sync: ['M4.5 12a7.5 7.5 0 0 1 13-5.1', 'M19.5 12a7.5 7.5 0 0 1-13 5.1', 'M18 3.5v4h-4', 'M6 20.5v-4h4'],
  alert: ['M12 6.5v7', 'M12 17.2v.3'],
  pause: ['M9 7v10', 'M15 7v10'],
  plus: ['M12 5v14', 'M5 12h14'],
  close: ['M6.5 6.5l11 11', 'M17.5 6.5l-11 11'],
};
const SVG_NS = 'http://www.w3.org/2000/svg';
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name}`);
  for (const d of ICONS[name] ?? []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * A <time> whose text is relative ("2 hours ago", or "in 10 hours" / "due now" with
 * kind 'due') and whose tooltip is the exact local time. refreshTimes() rewrites the text.
 */
export function timeEl(iso, { kind = 'relative', ...props } = {}) {
  const date = parseTime(iso);
  if (!date) return h('span', props, '—');
  return h('time', { ...props, datetime: iso, title: exactTime(date), dataset: { rel: kind } }, relText(kind, date));
}

function relText(kind, date) {
  return kind === 'due' ? dueTime(date) : relativeTime(date);
}

/** Re-render every relative time under `root`; no commands, only arithmetic. */
export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll('time[data-rel]')) {
    const date = parseTime(el.getAttribute('datetime'));
    if (date) el.textContent = relText(el.dataset.rel, date);
  }
}

/** Show `message` in a role=alert/status region (empty hides it via CSS :empty). */
export function say(region, message) {
  if (region) region.textContent = message ?? '';
}
