/* #/board : the compare board, runs side by side and the charts chosen for them. */

import { h, statusBadge, unreadableMark, pageHead, emptyState, $ } from '../dom.js';
import { collator, unique, formatDate, formatMetric, labelFormat, runName } from '../format.js';
import { systemParameters, systemTags } from '../state.js';
import { apiRaw, api, setError } from '../api.js';
import { KINDS, enc, runHash, replaceHash, boardHash, boardFromRoute, chartKey, rememberBoard } from '../routes.js';
import { PALETTE, lineFigure, acrossFigure, versusFigure, drawFigure, purgeCharts } from '../charts.js';
import { exportBoardPng, exportBoardHtml } from './board-export.js';

export function boardView(route) {
  const board = boardFromRoute(route);
  rememberBoard(board);
  const view = { dead: false, runs: [], text: null, histories: {}, historiesKey: null, live: false };
  const main = $('#main');
  const subtitle = h('span');
  const exportPng = h('button', { id: 'export-png', type: 'button', class: 'button' }, 'Export PNG');
  const exportHtml = h('button', { id: 'export-html', type: 'button', class: 'button' }, 'Export HTML');
  const table = h('table', { id: 'board-table', class: 'data-table board-table' });
  const tableHint = h('div', { class: 'board-table-hint' });
  const onlyDiffers = h('input', { type: 'checkbox', id: 'only-differs' });
  const kindSelect = h(
    'select',
    { id: 'board-chart-kind', 'aria-label': 'Kind of chart' },
    Object.entries(KINDS).map(([value, label]) => h('option', { value }, label)),
  );
  const metricSelect = h('select', { id: 'board-chart-metric', 'aria-label': 'Metric' });
  const parameterSelect = h('select', { id: 'board-chart-parameter', 'aria-label': 'Parameter' });
  const parameterField = h('label', { class: 'field inline' }, h('span', { class: 'field-label' }, 'against'), parameterSelect);
  const addButton = h('button', { id: 'board-add-chart', type: 'button', class: 'button primary' }, 'Add chart');
  const charts = h('div', { id: 'board-charts', class: 'chart-grid' });
  const chartsHint = h('p', { class: 'muted charts-hint' });

  main.append(
    h(
      'div',
      { id: 'board' },
      pageHead([h('a', { href: '#/' }, 'Collections')], 'Compare board', [exportPng, exportHtml], subtitle),
      h(
        'section',
        { class: 'card' },
        h(
          'div',
          { class: 'section-head' },
          h('h2', null, 'Runs side by side'),
          h('label', { class: 'check-label' }, onlyDiffers, h('span', null, 'Only rows that differ')),
        ),
        h('div', { class: 'table-wrap' }, table),
        tableHint,
      ),
      h(
        'section',
        { class: 'card board-canvas' },
        h('div', { class: 'section-head' }, h('h2', null, 'Charts')),
        h(
          'div',
          { class: 'toolbar chart-builder' },
          h('label', { class: 'field inline' }, h('span', { class: 'field-label' }, 'Chart'), kindSelect),
          h('label', { class: 'field inline' }, h('span', { class: 'field-label' }, 'of'), metricSelect),
          parameterField,
          addButton,
        ),
        chartsHint,
        charts,
      ),
    ),
  );

  function save() {
    replaceHash(boardHash(board));
    rememberBoard(board);
  }

  function colorOf(run) {
    const index = board.runs.indexOf(run.id);
    return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
  }

  function metricNames() {
    return unique(view.runs.flatMap((run) => Object.keys(run.metrics || {}))).sort(collator.compare);
  }

  function parameterNames() {
    const system = systemParameters();
    return unique(view.runs.flatMap((run) => Object.keys(run.parameters || {})))
      .filter((name) => !system.has(name))
      .sort(collator.compare);
  }

  function fillSelect(select, names, emptyText) {
    const current = select.value;
    const signature = JSON.stringify(names);
    if (select.dataset.signature === signature) return;
    select.dataset.signature = signature;
    select.replaceChildren(
      ...(names.length ? names.map((name) => h('option', { value: name }, name)) : [h('option', { value: '' }, emptyText)]),
    );
    if (names.includes(current)) select.value = current;
  }

  function updateBuilder() {
    fillSelect(metricSelect, metricNames(), 'no metrics');
    fillSelect(parameterSelect, parameterNames(), 'no parameters');
    parameterField.hidden = kindSelect.value !== 'versus';
    addButton.disabled = !metricSelect.value || (kindSelect.value === 'versus' && !parameterSelect.value);
  }

  kindSelect.addEventListener('change', updateBuilder);
  metricSelect.addEventListener('change', updateBuilder);
  parameterSelect.addEventListener('change', updateBuilder);
  onlyDiffers.addEventListener('change', () => table.classList.toggle('only-differs', onlyDiffers.checked));

  addButton.addEventListener('click', () => {
    const chart = {
      kind: kindSelect.value,
      metric: metricSelect.value,
      parameter: kindSelect.value === 'versus' ? parameterSelect.value : '',
    };
    if (!KINDS[chart.kind] || !chart.metric || (chart.kind === 'versus' && !chart.parameter)) return;
    const existing = board.charts.findIndex((other) => chartKey(other) === chartKey(chart));
    if (existing >= 0) {
      const card = charts.children[existing];
      if (card) {
        card.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
        card.classList.remove('flash');
        void card.offsetWidth;
        card.classList.add('flash');
      }
      return;
    }
    board.charts.push(chart);
    save();
    renderCharts(false);
  });

  exportPng.addEventListener('click', () => runExport(exportPng, () => exportBoardPng(charts, boardTitle())));
  exportHtml.addEventListener('click', () => runExport(exportHtml, () => exportBoardHtml(table, charts, boardTitle())));

  async function runExport(button, task) {
    button.disabled = true;
    try {
      await task();
      setError('export', null);
    } catch (error) {
      setError('export', `The export failed: ${error.message}`);
    } finally {
      button.disabled = false;
      updateExports();
    }
  }

  function updateExports() {
    exportPng.disabled = board.charts.length === 0;
    exportPng.title = board.charts.length ? 'Download the board\'s charts as one PNG image' : 'Add a chart first';
    exportHtml.disabled = board.runs.length === 0;
    exportHtml.title = 'Download the board as one HTML file that opens offline';
  }

  function removeRun(id) {
    board.runs = board.runs.filter((other) => other !== id);
    view.runs = view.runs.filter((run) => run.id !== id);
    save();
    renderAll(true);
  }

  function boardRow(label, values, rowKey) {
    const texts = values.map((value) => (value === undefined || value === null ? null : String(value)));
    const differs = values.length > 1 && new Set(texts.map((text) => (text === null ? '\u0000missing' : text))).size > 1;
    return h(
      'tr',
      { class: differs ? 'differs' : 'same', dataset: { row: rowKey } },
      h('th', { scope: 'row' }, label),
      values.map((value, index) =>
        h('td', { class: typeof value === 'number' ? 'num' : '' }, texts[index] === null ? h('span', { class: 'missing' }, '—') : view.display ? view.display(rowKey, value, index) : texts[index]),
      ),
    );
  }

  function renderTable() {
    const runs = view.runs;
    subtitle.textContent = runs.length
      ? `${runs.length} run${runs.length === 1 ? '' : 's'} from ${unique(runs.map((run) => `${run.scenario}\u0000${run.collection}`)).length} collection(s) · rows that differ are highlighted`
      : 'No runs yet';
    if (!runs.length) {
      table.replaceChildren();
      tableHint.replaceChildren(
        emptyState(
          'The board is empty',
          'Select runs in a collection and press Compare: they are added to this board, next to the runs already here, from any collection or scenario.',
          h('a', { class: 'button', href: '#/' }, 'Choose a collection'),
        ),
      );
      return;
    }
    tableHint.replaceChildren();
    const system = systemParameters();
    const tagsSystem = systemTags();
    const formats = new Map(metricNames().map((name) => [name, labelFormat(runs, name)]));
    view.display = (rowKey, value) => {
      if (rowKey.startsWith('metric:')) return formatMetric(value, formats.get(rowKey.slice(7)));
      if (rowKey === 'status') return statusBadge(value);
      return String(value);
    };
    const head = h(
      'tr',
      null,
      h('th', { class: 'corner' }, 'Run'),
      runs.map((run) =>
        h(
          'th',
          { class: 'run-head', dataset: { runId: run.id } },
          h(
            'div',
            { class: 'run-head-top' },
            h('span', { class: 'swatch', style: `background:${colorOf(run)}` }),
            h('a', { class: 'run-link', href: runHash(run.id), title: run.id }, runName(run)),
            h('button', {
              type: 'button',
              class: 'remove-run icon-button',
              dataset: { runId: run.id },
              title: 'Remove this run from the board',
              'aria-label': `Remove ${runName(run)} from the board`,
              onclick: () => removeRun(run.id),
            }, '×'),
          ),
          h('div', { class: 'sub' }, `${run.scenario} / ${run.collection_display_name || run.collection}`),
          h('div', { class: 'sub' }, formatDate(run.start_time)),
          unreadableMark(run),
        ),
      ),
    );
    const width = String(runs.length + 1);
    const group = (label) => h('tr', { class: 'group-row' }, h('th', { colspan: width }, label));
    const params = unique(runs.flatMap((run) => Object.keys(run.parameters))).filter((name) => !system.has(name)).sort(collator.compare);
    const tags = unique(runs.flatMap((run) => Object.keys(run.tags))).filter((name) => !tagsSystem.has(name)).sort(collator.compare);
    const metrics = metricNames();
    const body = h(
      'tbody',
      null,
      group('Run'),
      boardRow('Scenario', runs.map((run) => run.scenario), 'scenario'),
      boardRow('Collection', runs.map((run) => run.collection_display_name || run.collection), 'collection'),
      boardRow('Status', runs.map((run) => run.status), 'status'),
      params.length ? group('Parameters') : null,
      params.map((name) => boardRow(name, runs.map((run) => run.parameters[name]), `param:${name}`)),
      metrics.length ? group('Metrics (last value)') : null,
      metrics.map((name) => boardRow(name, runs.map((run) => run.metrics[name]), `metric:${name}`)),
      tags.length ? group('Tags') : null,
      tags.map((name) => boardRow(name, runs.map((run) => run.tags[name]), `tag:${name}`)),
    );
    table.replaceChildren(h('thead', null, head), body);
  }

  function chartTitle(chart) {
    if (chart.kind === 'across') return [h('strong', null, chart.metric), ' across runs'];
    if (chart.kind === 'versus') return [h('strong', null, chart.metric), ' against ', h('strong', null, chart.parameter)];
    return [h('strong', null, chart.metric), ' over steps or time'];
  }

  async function loadHistories(force) {
    const metrics = unique(board.charts.filter((chart) => chart.kind === 'over').map((chart) => chart.metric));
    const running = view.runs.some((run) => run.status === 'RUNNING');
    const key = JSON.stringify([view.runs.map((run) => run.id), metrics]);
    if (!metrics.length || !view.runs.length) {
      view.histories = {};
      view.historiesKey = key;
      return;
    }
    if (!force && key === view.historiesKey && !running && !view.live) return;
    view.live = running;
    const body = await api('/api/metrics', [
      ...view.runs.map((run) => ['run', run.id]),
      ...metrics.map((metric) => ['metric', metric]),
    ]);
    view.histories = body.runs || {};
    view.historiesKey = key;
  }

  async function renderCharts(force) {
    updateExports();
    try {
      await loadHistories(force);
      setError('charts', null);
    } catch (error) {
      setError('charts', error.message);
    }
    if (view.dead) return;
    chartsHint.hidden = board.charts.length > 0;
    chartsHint.textContent = view.runs.length
      ? 'Add charts with the controls above: a metric across the runs (one bar per run), a metric against a parameter (one point per run), or a metric over steps or time (one line per run).'
      : 'Add runs to the board to chart them.';
    const cards = new Map();
    for (const card of charts.querySelectorAll(':scope > .board-card')) cards.set(card.dataset.key, card);
    const wanted = board.charts.map((chart) => {
      const key = chartKey(chart);
      let card = cards.get(key);
      cards.delete(key);
      if (!card) {
        const remove = h('button', {
          type: 'button', class: 'remove-chart icon-button', title: 'Remove this chart', 'aria-label': 'Remove this chart',
        }, '×');
        remove.addEventListener('click', () => {
          board.charts = board.charts.filter((other) => chartKey(other) !== key);
          save();
          renderCharts(false);
        });
        card = h(
          'div',
          { class: 'board-card chart-card', dataset: { key } },
          h('div', { class: 'chart-head' }, h('span', { class: 'chart-title' }, chartTitle(chart)), remove),
          h('div', {
            class: 'board-chart',
            dataset: { kind: chart.kind, metric: chart.metric, parameter: chart.parameter || '' },
          }),
        );
      }
      return { chart, card };
    });
    for (const card of cards.values()) {
      purgeCharts(card);
      card.remove();
    }
    wanted.forEach(({ card }, index) => {
      if (charts.children[index] !== card) charts.insertBefore(card, charts.children[index] || null);
    });
    for (const { chart, card } of wanted) {
      const div = $('.board-chart', card);
      const uirevision = `board|${chartKey(chart)}`;
      let figure;
      if (chart.kind === 'across') figure = acrossFigure(view.runs, chart.metric, colorOf, uirevision);
      else if (chart.kind === 'versus') figure = versusFigure(view.runs, chart.metric, chart.parameter, colorOf, uirevision);
      else figure = lineFigure(view.runs, view.histories, chart.metric, colorOf, uirevision);
      drawFigure(div, figure);
    }
  }

  function renderAll(force) {
    renderTable();
    updateBuilder();
    return renderCharts(force);
  }

  async function load() {
    if (!board.runs.length) {
      view.runs = [];
      view.text = '';
      setError('view', null);
      await renderAll(false);
      return;
    }
    try {
      const { body, text } = await apiRaw('/api/runs', board.runs.map((id) => ['run', id]));
      if (view.dead) return;
      const found = new Map(body.runs.map((run) => [run.id, run]));
      const missing = board.runs.filter((id) => !found.has(id));
      let problem = null;
      if (missing.length) {
        try {
          await api(`/api/runs/${enc(missing[0])}`);
        } catch (error) {
          problem = error.message;
        }
        if (missing.length > 1 && problem) problem += ` (and ${missing.length - 1} more run ids on the board are not in the database)`;
      }
      setError('view', problem);
      if (text === view.text) {
        await renderCharts(false);
        return;
      }
      view.text = text;
      view.runs = board.runs.filter((id) => found.has(id)).map((id) => found.get(id));
      await renderAll(true);
    } catch (error) {
      if (view.dead) return;
      view.text = null;
      setError('view', error.message);
    }
  }

  view.start = () => {
    updateExports();
    updateBuilder();
    renderTable();
    load();
  };
  view.refresh = () => load();
  view.destroy = () => {
    view.dead = true;
    purgeCharts(charts);
  };

  function boardTitle() {
    return `Compare board · ${view.runs.length} run${view.runs.length === 1 ? '' : 's'}`;
  }

  return view;
}
