/* The sidebar: every collection of every scenario, the one on view marked. */

import { h, $ } from './dom.js';
import { state } from './state.js';
import { apiRaw, setError } from './api.js';
import { parseRoute, collectionHash } from './routes.js';

export async function refreshSidebar() {
  const root = $('#collections');
  try {
    const { body, text } = await apiRaw('/api/collections');
    setError('collections', null);
    if (text !== state.collectionsText) {
      state.collectionsText = text;
      state.collections = body;
      renderSidebar(root, body);
    }
  } catch (error) {
    state.collectionsText = null;
    state.collections = null;
    setError('collections', error.message);
    root.replaceChildren(h('p', { class: 'muted small' }, 'No collections: the database cannot be read.'));
  }
  markActiveCollection();
}

function renderSidebar(root, body) {
  const scenarios = body.scenarios || [];
  if (!scenarios.length) {
    root.replaceChildren(h('p', { class: 'muted small' }, 'No runs yet. Runs appear here as soon as they are started.'));
    return;
  }
  root.replaceChildren(
    ...scenarios.map((scenario) =>
      h(
        'div',
        { class: 'scenario' },
        h('div', { class: 'scenario-name', title: scenario.name }, scenario.name),
        h(
          'ul',
          { class: 'collection-list' },
          scenario.collections.map((item) =>
            h(
              'li',
              null,
              h(
                'a',
                {
                  class: 'collection',
                  href: collectionHash(scenario.name, item.name),
                  title: `${item.display_name} · ${item.runs} runs`,
                  dataset: { scenario: scenario.name, collection: item.name, runs: String(item.runs) },
                },
                item.display_name,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

export function markActiveCollection() {
  const route = parseRoute(window.location.hash);
  const onCollection = route.segments[0] === 'collection';
  const scenario = route.get('scenario');
  const collection = route.get('collection');
  for (const link of document.querySelectorAll('#collections a.collection')) {
    const active = onCollection && link.dataset.scenario === scenario && link.dataset.collection === collection;
    link.classList.toggle('active', active);
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}
