/*
 * What the run page shows of one run: its head (name, status, where it is from, "Add to
 * board"), a note of fields that cannot be read, and its context, parameters, tags, labels
 * and metrics as tables.
 *
 * runDetails(run, chartsSection) receives the API's run (/api/runs/ID) and the page's
 * charts section (run.js keeps it, so the charts keep their zoom), and answers the page's
 * elements in order. It keeps no state: run.js draws it again when the run changes.
 */

import { h, statusBadge, pageHead } from '../dom.js';
import { collator, unique, formatDate, formatDuration, formatNumber, formatMetric, runDuration, labelFormat, runName } from '../format.js';
import { systemParameters, systemTags, userEntries } from '../state.js';
import { collectionHash, openBoardWith } from '../routes.js';

function keyValueTable(id, rows, emptyText) {
  const body = h('tbody');
  for (const [name, value] of rows) {
    body.append(h('tr', null, h('th', { scope: 'row' }, name), h('td', null, value === null || value === undefined || value === '' ? '—' : value)));
  }
  if (!rows.length) body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: '2' }, emptyText)));
  return h('table', { id, class: 'data-table kv-table' }, body);
}

/* The stored fields of a run that cannot be read (left out of what the page shows), each
 * with why; nothing when every field can be read. */
function unreadableNote(run) {
  if (!run.unreadable || !run.unreadable.length) return null;
  return h(
    'section',
    { id: 'run-unreadable', class: 'card unreadable-note' },
    h('h2', null, 'Unreadable fields'),
    h('p', { class: 'muted' }, 'The database holds values here that sapdi-local does not write; they are left out of this page.'),
    h('ul', null, run.unreadable.map((item) => h('li', null, item.reason))),
  );
}

/* Where and how the run ran, as [label, value] rows. */
function contextRows(run) {
  const process = run.process || {};
  return [
    ['Run id', run.id],
    ['Name', runName(run)],
    ['Status', statusBadge(run.status)],
    ['Scenario', run.scenario],
    ['Scenario version', run.scenario_version],
    ['Collection', run.collection_display_name || run.collection],
    ['Notebook', run.notebook],
    ['Pipeline', run.pipeline],
    ['Execution', run.execution],
    ['Start', formatDate(run.start_time)],
    ['End', run.end_time ? formatDate(run.end_time) : run.status === 'RUNNING' ? 'still running' : '—'],
    ['Duration', formatDuration(runDuration(run))],
    ['Host', process.host],
    ['Process id', process.pid === null || process.pid === undefined ? null : String(process.pid)],
  ];
}

/* Each metric's last, least and greatest value and how many values it has. */
function metricsTable(run) {
  const stats = run.metric_stats || {};
  const metricNames = unique([...Object.keys(stats), ...Object.keys(run.metrics || {})]).sort(collator.compare);
  const body = h('tbody');
  for (const name of metricNames) {
    const stat = stats[name] || { last: run.metrics[name] };
    const format = labelFormat([run], name);
    body.append(
      h(
        'tr',
        { dataset: { metric: name } },
        h('th', { scope: 'row' }, name),
        h('td', { class: 'num' }, formatMetric(stat.last, format)),
        h('td', { class: 'num' }, formatMetric(stat.min, format)),
        h('td', { class: 'num' }, formatMetric(stat.max, format)),
        h('td', { class: 'num' }, stat.count === undefined ? '—' : formatNumber(stat.count)),
      ),
    );
  }
  if (!metricNames.length) body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: '5' }, 'No metrics logged yet.')));
  return h(
    'table',
    { id: 'run-metrics', class: 'data-table' },
    h('thead', null, h('tr', null, h('th', null, 'Metric'), h('th', { class: 'num' }, 'Last'), h('th', { class: 'num' }, 'Min'), h('th', { class: 'num' }, 'Max'), h('th', { class: 'num' }, 'Count'))),
    body,
  );
}

export function runDetails(run, chartsSection) {
  const collectionLink = h(
    'a',
    { href: collectionHash(run.scenario, run.collection) },
    run.collection_display_name || run.collection,
  );
  const addButton = h('button', { type: 'button', class: 'button primary', id: 'add-to-board' }, 'Add to board');
  addButton.addEventListener('click', () => openBoardWith([run.id]));
  const labels = Object.keys(run.labels || {})
    .sort(collator.compare)
    .map((name) => [name, h('code', null, JSON.stringify(run.labels[name]))]);
  return [
    pageHead(
      [h('a', { href: '#/' }, 'Collections'), h('span', { class: 'sep' }, '/'), h('span', null, run.scenario), h('span', { class: 'sep' }, '/'), collectionLink],
      h('span', { class: 'title-with-badge' }, h('span', null, runName(run)), statusBadge(run.status)),
      [addButton],
      `Started ${formatDate(run.start_time)} · ${formatDuration(runDuration(run))}`,
    ),
    unreadableNote(run),
    h(
      'div',
      { class: 'run-grid' },
      h('section', { class: 'card' }, h('h2', null, 'Context'), keyValueTable('run-context', contextRows(run), '')),
      h(
        'div',
        { class: 'run-column' },
        h('section', { class: 'card' }, h('h2', null, 'Parameters'), keyValueTable('run-parameters', userEntries(run.parameters, systemParameters()), 'No parameters.')),
        h('section', { class: 'card' }, h('h2', null, 'Tags'), keyValueTable('run-tags', userEntries(run.tags, systemTags()), 'No tags.')),
        h('section', { class: 'card' }, h('h2', null, 'Labels'), keyValueTable('run-labels', labels, 'No labels.')),
      ),
      h('section', { class: 'card metrics-card' }, h('h2', null, 'Metrics'), metricsTable(run)),
    ),
    chartsSection,
  ].filter((part) => part !== null); // the caller's replaceChildren would show a null as "null"
}
