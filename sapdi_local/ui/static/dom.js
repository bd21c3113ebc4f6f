/*
 * Building the page's elements. Everything taken from the database reaches the page as
 * text (textContent, attributes), never as markup: h() makes strings text nodes.
 */

export const $ = (selector, root) => (root || document).querySelector(selector);

/* An element with properties and children; strings become text nodes, never markup. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (typeof value !== 'string' && key in node) node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function statusBadge(status) {
  return h('span', { class: `status status-${String(status || '').toLowerCase()}` }, status || '—');
}

/* A note that some stored fields of a run cannot be read, and so are left out (the API's
 * "unreadable"): which, and why in its title. */
export function unreadableMark(run) {
  if (!run.unreadable || !run.unreadable.length) return null;
  const fields = run.unreadable.map((item) => (item.name === null ? item.field : `${item.field} '${item.name}'`));
  return h(
    'div',
    { class: 'sub unreadable', title: run.unreadable.map((item) => item.reason).join('\n') },
    `unreadable: ${fields.join(', ')}`,
  );
}

export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, class: 'hidden-link' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export function pageHead(crumbs, title, actions, subtitle) {
  return h(
    'div',
    { class: 'page-head' },
    h(
      'div',
      { class: 'page-title' },
      crumbs && crumbs.length ? h('nav', { class: 'crumbs' }, crumbs) : null,
      h('h1', null, title),
      subtitle ? h('div', { class: 'subtitle' }, subtitle) : null,
    ),
    actions ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

export function emptyState(title, text, link) {
  return h(
    'div',
    { class: 'empty' },
    h('div', { class: 'empty-title' }, title),
    text ? h('p', null, text) : null,
    link || null,
  );
}
