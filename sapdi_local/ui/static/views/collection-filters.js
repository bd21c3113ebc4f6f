/*
 * The filters of the collection view: the filter box (filter.js: a name search or an
 * expression), the tag field (KEY=VALUE) and the status menu.
 *
 * collectionFilters(view, {onChange}) makes them from the view's state (collection-state.js)
 * and writes view.filter, view.tag and view.status as they change; onChange() follows,
 * a moment after the last key typed, at once for a status picked.
 */

import { h, debounce } from '../dom.js';
import { state } from '../state.js';
import { filterBox } from './filter.js';

const STATUSES = ['RUNNING', 'FINISHED', 'FAILED', 'INTERRUPTED', 'TERMINATED', 'KILLED'];

export function collectionFilters(view, { onChange }) {
  const soon = debounce(onChange, 250);
  const box = filterBox(view.filter, (text) => {
    view.filter = text;
    soon();
  });
  const tagInput = h('input', {
    id: 'filter-tag', type: 'search', placeholder: 'Tag KEY=VALUE', value: view.tag, autocomplete: 'off',
    'aria-label': 'Filter by tag, written KEY=VALUE',
  });
  const statusSelect = h(
    'select',
    { id: 'filter-status', 'aria-label': 'Filter by status' },
    h('option', { value: '' }, 'All statuses'),
    ((state.db && state.db.statuses) || STATUSES).map((status) => h('option', { value: status }, status)),
  );
  statusSelect.value = view.status;
  tagInput.addEventListener('input', () => {
    view.tag = tagInput.value.trim();
    soon();
  });
  statusSelect.addEventListener('change', () => {
    view.status = statusSelect.value;
    onChange();
  });
  return {
    box: box.element,
    tag: h('div', { class: 'field' }, tagInput),
    status: h('div', { class: 'field' }, statusSelect),
    showError: box.showError,
    clearError: box.clearError,
  };
}
