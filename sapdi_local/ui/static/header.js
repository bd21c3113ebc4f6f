/* The header's line about the database: its path and what it holds. */

import { h, $ } from './dom.js';
import { formatBytes } from './format.js';
import { state } from './state.js';
import { apiRaw, setError } from './api.js';

export async function refreshHeader() {
  const info = $('#db-info');
  try {
    const { body, text } = await apiRaw('/api/database');
    setError('database', null);
    if (text === state.dbText) return;
    state.dbText = text;
    state.db = body;
    const counts = body.counts || {};
    const plural = (count, word) => `${Number(count || 0).toLocaleString('en-US')} ${word}${count === 1 ? '' : 's'}`;
    info.replaceChildren(
      h('span', { class: 'db-path', title: body.path }, body.path),
      h(
        'span',
        { class: 'db-counts' },
        [
          plural(counts.runs, 'run'),
          plural(counts.collections, 'collection'),
          plural(counts.scenarios, 'scenario'),
          plural(counts.values, 'value'),
          formatBytes(body.bytes),
        ].join(' · '),
      ),
      // A file in a read-only place is read as a snapshot: say that new runs will not appear.
      ...(body.snapshot_note
        ? [h('span', { class: 'db-snapshot', title: body.snapshot_note }, 'read-only snapshot')]
        : []),
    );
    info.classList.remove('db-missing');
  } catch (error) {
    state.dbText = null;
    setError('database', error.message);
    info.replaceChildren(h('span', { class: 'db-path' }, 'Database unavailable'));
    info.classList.add('db-missing');
  }
}
