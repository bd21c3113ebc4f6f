/*
 * The filter box of the runs table: a search in run names, or an expression of the search
 * language (the API's where=), told apart by what the text holds.
 *
 * The text is an expression when it holds a comparison (= != < <= > >=), a key with its
 * prefix (metrics.NAME, params.NAME, tags.NAME, labels.NAME, attributes.NAME), or one of
 * LIKE '...', ILIKE '...', IN (...), IS [NOT] NULL, BETWEEN ... AND; any other text searches
 * run names, in any case ("quick look", "lr-0.01", "bob's run"). A malformed expression is
 * shown under the box with its position marked, and the table keeps the rows it had.
 */

import { h } from '../dom.js';

const COMPARISON = /[=<>]/;
const KEY = /(?:^|[\s(])(?:metrics?|params?|parameters|tags?|labels?|attributes?)\.\S/i;
const PHRASE = /\b(?:I?LIKE\s*['"]|IN\s*\(|IS\s+(?:NOT\s+)?NULL\b|BETWEEN\b[\s\S]*\bAND\b)/i;

export function isExpression(text) {
  return COMPARISON.test(text) || KEY.test(text) || PHRASE.test(text);
}

/* The API parameters of the box's text: where= (as typed, so positions match the box) or q=. */
export function filterParams(text) {
  if (!text || !text.trim()) return [];
  return isExpression(text) ? [['where', text]] : [['q', text.trim()]];
}

/* The text as the address keeps it: [key, value] with key where or q. */
export function filterPair(text) {
  return filterParams(text)[0] || ['q', ''];
}

/* The box's text from an address: where= (an expression), else q= (a name search). */
export function filterFromRoute(route) {
  return route.get('where') || route.get('q');
}

/*
 * The box, with a note of how its text is read and room for an expression's error;
 * `onChange(text)` follows each edit.
 */
export function filterBox(initial, onChange) {
  const input = h('input', {
    id: 'filter-text',
    type: 'search',
    value: initial,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: "Search names, or filter: metrics.accuracy > 0.9 and params.optimizer = 'adam'",
    'aria-label': 'Search run names, or filter runs with an expression',
    'aria-describedby': 'filter-mode filter-error',
  });
  const mode = h('div', { id: 'filter-mode', class: 'filter-mode muted small' });
  const error = h('div', { id: 'filter-error', class: 'filter-error', role: 'alert', hidden: true });

  function showMode() {
    const text = input.value;
    const expression = text.trim() && isExpression(text);
    mode.dataset.mode = !text.trim() ? '' : expression ? 'expression' : 'names';
    mode.textContent = !text.trim()
      ? ''
      : expression
        ? 'Filter expression'
        : `Searching run names for “${text.trim()}” (any case)`;
  }

  input.addEventListener('input', () => {
    showMode();
    onChange(input.value);
  });
  showMode();

  /* A malformed expression: the API's message, and the text with its position marked. */
  function showError(apiError, text) {
    const lines = String(apiError.message).split('\n');
    // The message ends with the expression (or a window of it) and a caret under the
    // position: the box's own text is shown instead, with the position marked.
    const head = lines.length >= 3 && lines[lines.length - 1].trim() === '^' ? lines.slice(0, -2) : lines;
    const position = Number(apiError.details && apiError.details.position);
    const parts = [h('div', { class: 'filter-error-message' }, head.join('\n'))];
    if (Number.isInteger(position) && position >= 1 && position <= text.length + 1) {
      const at = position - 1;
      parts.push(
        h(
          'pre',
          { class: 'filter-error-text' },
          text.slice(0, at),
          h('mark', { title: `position ${position}` }, text.slice(at, at + 1) || ' '),
          text.slice(at + 1),
        ),
      );
    }
    error.dataset.position = Number.isInteger(position) ? String(position) : '';
    error.replaceChildren(...parts);
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }

  function clearError() {
    error.hidden = true;
    error.replaceChildren();
    input.removeAttribute('aria-invalid');
  }

  return {
    element: h('div', { class: 'filter-box' }, input, mode, error),
    input,
    showError,
    clearError,
  };
}
