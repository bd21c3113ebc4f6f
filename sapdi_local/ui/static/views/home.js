/* #/ : every collection of every scenario, as cards. */

import { h, pageHead, emptyState, $ } from '../dom.js';
import { formatDate } from '../format.js';
import { state } from '../state.js';
import { collectionHash } from '../routes.js';

export function homeView() {
  const view = { dead: false, text: null };
  const main = $('#main');
  const body = h('div', { class: 'home' });
  main.append(
    pageHead(null, 'Run collections', null, 'Choose a collection to list its runs; select runs to chart them and compare them on the board.'),
    body,
  );
  view.render = () => {
    if (!state.collections) {
      view.text = null;
      body.replaceChildren(
        emptyState('The database cannot be read', 'The message above says why; this page tries again on its own while Live is on.'),
      );
      return;
    }
    if (state.collectionsText === view.text) return;
    view.text = state.collectionsText;
    const scenarios = state.collections.scenarios || [];
    if (!scenarios.length) {
      body.replaceChildren(emptyState('No runs yet', 'Runs appear here as soon as a script or notebook starts one.'));
      return;
    }
    body.replaceChildren(
      ...scenarios.map((scenario) =>
        h(
          'section',
          { class: 'home-scenario' },
          h('h2', null, h('span', { class: 'eyebrow' }, 'Scenario'), ' ', scenario.name),
          h(
            'div',
            { class: 'cards' },
            scenario.collections.map((item) =>
              h(
                'a',
                { class: 'collection-card', href: collectionHash(scenario.name, item.name) },
                h('div', { class: 'card-title' }, item.display_name),
                h(
                  'div',
                  { class: 'card-meta' },
                  `${item.runs.toLocaleString('en-US')} run${item.runs === 1 ? '' : 's'} · last started ${formatDate(item.last_start)}`,
                ),
              ),
            ),
          ),
        ),
      ),
    );
    body.append(h('p', { class: 'muted small all-runs' }, h('a', { href: '#/collection' }, 'List every run of every collection')));
  };
  view.start = () => view.render();
  view.refresh = async () => view.render();
  view.destroy = () => {
    view.dead = true;
  };
  return view;
}
