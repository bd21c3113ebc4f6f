/*
 * The selection's part of the collection view's head: how many runs are selected, "Clear
 * selection", and "Compare", which adds them to the board and opens it.
 *
 * selectionBar(view, {onChange}) makes it for the view's state (view.selected, a Set of run
 * ids; collection-state.js); update() shows the selection's size; onChange() follows a clear.
 */

import { h } from '../dom.js';
import { openBoardWith } from '../routes.js';

export function selectionBar(view, { onChange }) {
  const info = h('span', { class: 'selection-info muted' });
  const clear = h('button', { type: 'button', class: 'button subtle', text: 'Clear selection' });
  const compare = h('button', { id: 'compare-selected', type: 'button', class: 'button primary', disabled: true }, 'Compare');
  compare.addEventListener('click', () => {
    if (view.selected.size) openBoardWith([...view.selected]);
  });
  clear.addEventListener('click', () => {
    view.selected.clear();
    onChange();
  });

  function update() {
    const size = view.selected.size;
    compare.disabled = size === 0;
    compare.textContent = size ? `Compare ${size} run${size === 1 ? '' : 's'}` : 'Compare';
    clear.hidden = size === 0;
    info.textContent = size ? `${size} selected` : 'Select runs to chart and compare them';
  }

  return { elements: [info, clear, compare], update };
}
