/* #/run/ID : one run's context, parameters, tags, labels, metrics and charts. */

import { h, statusBadge, pageHead, emptyState, $ } from '../dom.js';
import { collator, unique, formatDate, formatDuration, formatNumber, formatMetric, runDuration, labelFormat, runName } from '../format.js';
import { systemParameters, systemTags, userEntries } from '../state.js';
import { apiRaw, api, setError } from '../api.js';
import { enc, collectionHash, runHash, replaceHash, openBoardWith } from '../routes.js';
import { PALETTE, purgeCharts, renderMetricCharts } from '../charts.js';
import { chartOptionsFromRoute, chartOptionPairs, chartControls } from '../chart-options.js';

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

export function runView(route) {
  const id = route.segments.slice(1).join('/');
  const view = { dead: false, text: null, chartsLive: false, run: null, histories: null, chartOptions: chartOptionsFromRoute(route) };
  const main = $('#main');
  const root = h('div', { id: 'run-page' });
  const charts = h('div', { id: 'run-charts', class: 'chart-grid' });
  const chartsHint = h('p', { class: 'muted charts-hint', hidden: true });
  const controls = chartControls(view.chartOptions, () => {
    replaceHash(runHash(id, chartOptionPairs(view.chartOptions)));
    if (view.run && view.histories) drawCharts(view.run, view.histories);
  });

  function drawCharts(run, histories) {
    view.histories = histories;
    return renderMetricCharts(charts, [run], histories, () => PALETTE[0], `run|${run.id}`, view.chartOptions);
  }

  function render(run) {
    const system = systemParameters();
    const tags = systemTags();
    const collectionLink = h(
      'a',
      { href: collectionHash(run.scenario, run.collection) },
      run.collection_display_name || run.collection,
    );
    const addButton = h('button', { type: 'button', class: 'button primary', id: 'add-to-board' }, 'Add to board');
    addButton.addEventListener('click', () => openBoardWith([run.id]));
    const stats = run.metric_stats || {};
    const metricNames = unique([...Object.keys(stats), ...Object.keys(run.metrics || {})]).sort(collator.compare);
    const metricsBody = h('tbody');
    for (const name of metricNames) {
      const stat = stats[name] || { last: run.metrics[name] };
      const format = labelFormat([run], name);
      metricsBody.append(
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
    if (!metricNames.length) metricsBody.append(h('tr', { class: 'empty-row' }, h('td', { colspan: '5' }, 'No metrics logged yet.')));
    const process = run.process || {};
    const context = [
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
    const labels = Object.keys(run.labels || {})
      .sort(collator.compare)
      .map((name) => [name, h('code', null, JSON.stringify(run.labels[name]))]);
    root.replaceChildren(
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
        h('section', { class: 'card' }, h('h2', null, 'Context'), keyValueTable('run-context', context, '')),
        h(
          'div',
          { class: 'run-column' },
          h('section', { class: 'card' }, h('h2', null, 'Parameters'), keyValueTable('run-parameters', userEntries(run.parameters, system), 'No parameters.')),
          h('section', { class: 'card' }, h('h2', null, 'Tags'), keyValueTable('run-tags', userEntries(run.tags, tags), 'No tags.')),
          h('section', { class: 'card' }, h('h2', null, 'Labels'), keyValueTable('run-labels', labels, 'No labels.')),
        ),
        h(
          'section',
          { class: 'card metrics-card' },
          h('h2', null, 'Metrics'),
          h(
            'table',
            { id: 'run-metrics', class: 'data-table' },
            h('thead', null, h('tr', null, h('th', null, 'Metric'), h('th', { class: 'num' }, 'Last'), h('th', { class: 'num' }, 'Min'), h('th', { class: 'num' }, 'Max'), h('th', { class: 'num' }, 'Count'))),
            metricsBody,
          ),
        ),
      ),
      h('section', { class: 'charts-section' }, h('div', { class: 'section-head' }, h('h2', null, 'Charts'), controls), chartsHint, charts),
    );
  }

  async function loadCharts(run) {
    try {
      const body = await api('/api/metrics', [['run', run.id]]);
      if (view.dead) return;
      setError('charts', null);
      const drawn = drawCharts(run, body.runs || {});
      chartsHint.hidden = drawn > 0;
      chartsHint.textContent = 'This run has logged no metrics yet.';
    } catch (error) {
      if (!view.dead) setError('charts', error.message);
    }
  }

  async function load() {
    try {
      const { body, text } = await apiRaw(`/api/runs/${enc(id)}`);
      if (view.dead) return;
      setError('view', null);
      if (!root.isConnected) main.replaceChildren(root);
      const changed = text !== view.text;
      const live = body.status === 'RUNNING' || view.chartsLive;
      view.chartsLive = body.status === 'RUNNING';
      if (changed) {
        view.text = text;
        view.run = body;
        // The charts' divs move into the new layout as they are, keeping zoom and legend.
        render(body);
      }
      if (changed || live) await loadCharts(body);
    } catch (error) {
      if (view.dead) return;
      view.text = null;
      setError('view', error.message);
      purgeCharts(charts);
      main.replaceChildren(
        pageHead([h('a', { href: '#/' }, 'Collections')], 'Run not available', null, null),
        emptyState(
          error.status === 404 ? 'No such run' : 'The run cannot be read',
          error.message,
          h('a', { class: 'button', href: '#/' }, 'Back to the collections'),
        ),
      );
    }
  }

  view.start = () => {
    main.append(h('div', { class: 'loading muted' }, 'Loading run…'));
    load();
  };
  view.refresh = () => load();
  view.destroy = () => {
    view.dead = true;
    purgeCharts(charts);
  };
  return view;
}
