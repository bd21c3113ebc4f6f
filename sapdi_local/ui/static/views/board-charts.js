/*
 * The board's charts: the controls that add a chart (a kind, a metric, and a parameter for
 * "versus") and a card per chart of the board, drawn for the board's runs.
 *
 * boardCharts(view, {onChange}) makes the section for the board's state (board-state.js);
 * onChange() follows an added or removed chart, which is already in view.board.charts.
 * updateBuilder() fills the controls from the runs' names; render(force) draws the cards,
 * fetching the histories the "over" charts need (again if `force`).
 */

import { h, $ } from '../dom.js';
import { setError } from '../api.js';
import { KINDS, chartKey } from '../routes.js';
import { lineFigure, acrossFigure, versusFigure, drawFigure, purgeCharts } from '../charts.js';
import { metricNames, parameterNames, runColor, isCompleteChart, chartIndex, addChart, removeChart, loadHistories } from './board-state.js';

/* Fill a select with `names`, keeping its choice if it is still there. */
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

function chartTitle(chart) {
  if (chart.kind === 'across') return [h('strong', null, chart.metric), ' across runs'];
  if (chart.kind === 'versus') return [h('strong', null, chart.metric), ' against ', h('strong', null, chart.parameter)];
  return [h('strong', null, chart.metric), ' over steps or time'];
}

/* Draw a card's attention to it: the chart asked for is already on the board. */
function flash(card) {
  card.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  card.classList.remove('flash');
  void card.offsetWidth; // restart the animation
  card.classList.add('flash');
}

function chartFigure(view, chart) {
  const uirevision = `board|${chartKey(chart)}`;
  const colorOf = (run) => runColor(view, run);
  if (chart.kind === 'across') return acrossFigure(view.runs, chart.metric, colorOf, uirevision);
  if (chart.kind === 'versus') return versusFigure(view.runs, chart.metric, chart.parameter, colorOf, uirevision);
  return lineFigure(view.runs, view.histories, chart.metric, colorOf, uirevision);
}

export function boardCharts(view, { onChange }) {
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
  const hint = h('p', { class: 'muted charts-hint' });
  const section = h(
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
    hint,
    charts,
  );

  function updateBuilder() {
    fillSelect(metricSelect, metricNames(view), 'no metrics');
    fillSelect(parameterSelect, parameterNames(view), 'no parameters');
    parameterField.hidden = kindSelect.value !== 'versus';
    addButton.disabled = !metricSelect.value || (kindSelect.value === 'versus' && !parameterSelect.value);
  }

  kindSelect.addEventListener('change', updateBuilder);
  metricSelect.addEventListener('change', updateBuilder);
  parameterSelect.addEventListener('change', updateBuilder);
  addButton.addEventListener('click', () => {
    const chart = {
      kind: kindSelect.value,
      metric: metricSelect.value,
      parameter: kindSelect.value === 'versus' ? parameterSelect.value : '',
    };
    if (!isCompleteChart(chart)) return;
    const existing = chartIndex(view, chart);
    if (existing >= 0) {
      if (charts.children[existing]) flash(charts.children[existing]);
      return;
    }
    addChart(view, chart);
    onChange();
  });

  function newCard(chart, key) {
    const remove = h('button', {
      type: 'button', class: 'remove-chart icon-button', title: 'Remove this chart', 'aria-label': 'Remove this chart',
    }, '×');
    remove.addEventListener('click', () => {
      removeChart(view, key);
      onChange();
    });
    return h(
      'div',
      { class: 'board-card chart-card', dataset: { key } },
      h('div', { class: 'chart-head' }, h('span', { class: 'chart-title' }, chartTitle(chart)), remove),
      h('div', {
        class: 'board-chart',
        dataset: { kind: chart.kind, metric: chart.metric, parameter: chart.parameter || '' },
      }),
    );
  }

  /* The cards of the board's charts, in its order: cards already drawn are kept (with their
   * zoom), new ones made, the others removed; then every chart is drawn again. */
  async function render(force) {
    try {
      await loadHistories(view, force);
      setError('charts', null);
    } catch (error) {
      setError('charts', error.message);
    }
    if (view.dead) return;
    hint.hidden = view.board.charts.length > 0;
    hint.textContent = view.runs.length
      ? 'Add charts with the controls above: a metric across the runs (one bar per run), a metric against a parameter (one point per run), or a metric over steps or time (one line per run).'
      : 'Add runs to the board to chart them.';
    const cards = new Map();
    for (const card of charts.querySelectorAll(':scope > .board-card')) cards.set(card.dataset.key, card);
    const wanted = view.board.charts.map((chart) => {
      const key = chartKey(chart);
      const card = cards.get(key) || newCard(chart, key);
      cards.delete(key);
      return { chart, card };
    });
    for (const card of cards.values()) {
      purgeCharts(card);
      card.remove();
    }
    wanted.forEach(({ card }, index) => {
      if (charts.children[index] !== card) charts.insertBefore(card, charts.children[index] || null);
    });
    for (const { chart, card } of wanted) drawFigure($('.board-chart', card), chartFigure(view, chart));
  }

  return { section, charts, updateBuilder, render, destroy: () => purgeCharts(charts) };
}
