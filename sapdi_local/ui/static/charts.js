/*
 * The charts: Plotly figures of metrics, drawn with the Plotly global that
 * /static/plotly.min.js defines (its script runs before the modules).
 *
 * Plotly reads the text it draws (trace names, category labels, titles, hover text) as
 * its own markup: <a href>, <b>, <br>, <span style> and entities such as &lt;. Every
 * text from the database goes through plotlyText, so that names show literally.
 */

import { h, $ } from './dom.js';
import { collator, unique, plotlyDate, asNumber, labelFormat, runName } from './format.js';
import { smoothed } from './chart-options.js';

export const PALETTE = [
  '#2563eb', '#e11d48', '#059669', '#d97706', '#7c3aed',
  '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c',
];
export const FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ['lasso2d', 'select2d'],
};

/*
 * Text as Plotly shows it literally: "&", "<" and ">" as entities, so that no tag
 * (<a href>, <b>, <br> ...) and no entity in a name is read as markup. Newlines Plotly
 * shows as spaces.
 */
export function plotlyText(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/* Legend names: run names, told apart by collection (or id) when two are alike; as
 * Plotly takes them (plotlyText). */
function traceNames(runs) {
  const counts = new Map();
  for (const run of runs) counts.set(runName(run), (counts.get(runName(run)) || 0) + 1);
  const names = runs.map((run) =>
    counts.get(runName(run)) > 1 ? `${runName(run)} · ${run.collection_display_name || run.collection}` : runName(run),
  );
  const again = new Map();
  for (const name of names) again.set(name, (again.get(name) || 0) + 1);
  return names.map((name, index) => plotlyText(again.get(name) > 1 ? `${name} · ${runs[index].id.slice(0, 8)}` : name));
}

export function plotlyReady() {
  return typeof window.Plotly === 'object' && window.Plotly !== null;
}

// ---------------------------------------------------------------- charts

function baseLayout(uirevision) {
  return {
    uirevision,
    height: 320,
    margin: { l: 56, r: 18, t: 10, b: 44 },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    font: { family: FONT, size: 12, color: '#334155' },
    colorway: PALETTE,
    xaxis: { gridcolor: '#eef1f5', linecolor: '#cbd5e1', zeroline: false, automargin: true },
    yaxis: { gridcolor: '#eef1f5', linecolor: '#cbd5e1', zeroline: false, automargin: true },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } },
    // Whole names in hover labels: cut, an escaped name could end inside an entity.
    hoverlabel: { font: { family: FONT }, namelength: -1 },
    showlegend: true,
  };
}

function axisTitle(text) {
  return { text: plotlyText(text), font: { size: 11, color: '#64748b' } };
}

function applyFormat(axis, format) {
  if (!format) return;
  axis.tickformat = format.tick;
  axis.hoverformat = format.hover;
}

/*
 * A metric over steps (or time, when a value has no step): one line per run. `options`
 * (chart-options.js) may ask for a log-scale y axis and smoothing: each run's line is then
 * its moving average, over its raw values drawn faint (a trace of its own, with no legend
 * entry, hidden with the run from the legend).
 */
export function lineFigure(runs, histories, metric, colorOf, uirevision, options) {
  const { log = false, smooth = 0 } = options || {};
  const series = runs
    .map((run) => ({ run, history: histories[run.id] && histories[run.id][metric] }))
    .filter((item) => item.history && item.history.value.length > 0);
  const byStep =
    series.length > 0 && series.every((item) => item.history.step.every((step) => step !== null && step !== undefined));
  const names = traceNames(series.map((item) => item.run));
  if (series.length > 0 && series.every((item) => item.history.value.length === 1)) {
    // One value per run (a final score): a bar per run reads better than lone points.
    const bars = series.map((item) => ({ run: item.run, value: item.history.value[0] }));
    const figure = barFigure(bars, names, colorOf, uirevision, labelFormat(runs, metric), metric);
    if (log) figure.layout.yaxis.type = 'log';
    return figure;
  }
  const data = series.flatMap((item, index) => {
    const color = colorOf(item.run);
    const points = item.history.value.length;
    const x = byStep ? item.history.step : item.history.timestamp.map(plotlyDate);
    const line = {
      type: 'scatter',
      mode: points < 2 ? 'markers' : points <= 30 ? 'lines+markers' : 'lines',
      name: names[index],
      uid: item.run.id,
      legendgroup: item.run.id,
      x,
      y: smooth > 0 ? smoothed(item.history.value, smooth) : item.history.value,
      line: { color, width: 2 },
      marker: { color, size: points < 2 ? 9 : 5 },
    };
    if (!(smooth > 0) || points < 2) return [line];
    const raw = {
      type: 'scatter', mode: 'lines', name: names[index], uid: `${item.run.id}:raw`, legendgroup: item.run.id,
      x, y: item.history.value, line: { color, width: 1 }, opacity: 0.25, showlegend: false, hoverinfo: 'skip',
    };
    return [raw, line];
  });
  const layout = baseLayout(uirevision);
  if (log) layout.yaxis.type = 'log';
  layout.xaxis.title = axisTitle(byStep ? 'step' : 'time');
  if (!byStep) layout.xaxis.type = 'date';
  layout.hovermode = byStep ? 'x unified' : 'closest';
  applyFormat(layout.yaxis, labelFormat(runs, metric));
  return { data, layout };
}

/* One bar per run, its value written above it; `bars` holds {run, value}. */
function barFigure(bars, names, colorOf, uirevision, format, valueTitle) {
  const textFormat = format ? format.hover : '.4~g';
  const data = bars.map((bar, index) => ({
    type: 'bar',
    name: names[index],
    uid: bar.run.id,
    x: [names[index]],
    y: [bar.value],
    marker: { color: colorOf(bar.run) },
    texttemplate: `%{y:${textFormat}}`,
    textposition: 'outside',
    cliponaxis: false,
  }));
  const layout = baseLayout(uirevision);
  layout.barmode = 'overlay';
  layout.hovermode = 'closest';
  layout.xaxis.type = 'category';
  layout.xaxis.title = axisTitle('run');
  layout.yaxis.title = axisTitle(valueTitle);
  applyFormat(layout.yaxis, format);
  return { data, layout };
}

/* A metric across runs: one bar per run, its last value. */
export function acrossFigure(runs, metric, colorOf, uirevision) {
  const rows = runs.filter((run) => typeof run.metrics[metric] === 'number');
  const bars = rows.map((run) => ({ run, value: run.metrics[metric] }));
  const figure = barFigure(bars, traceNames(rows), colorOf, uirevision, labelFormat(runs, metric), `last ${metric}`);
  figure.layout.showlegend = false;
  return figure;
}

/* A metric against a parameter: one point per run; numeric parameters on a numeric axis. */
export function versusFigure(runs, metric, parameter, colorOf, uirevision) {
  const rows = runs.filter(
    (run) => typeof run.metrics[metric] === 'number' && run.parameters[parameter] !== undefined,
  );
  const numbers = rows.map((run) => asNumber(run.parameters[parameter]));
  const numeric = rows.length > 0 && numbers.every((value) => value !== null);
  const names = traceNames(rows);
  const data = rows.map((run, index) => ({
    type: 'scatter',
    mode: 'markers',
    name: names[index],
    uid: run.id,
    x: [numeric ? numbers[index] : plotlyText(run.parameters[parameter])],
    y: [run.metrics[metric]],
    marker: { color: colorOf(run), size: 12, line: { color: '#ffffff', width: 1.5 } },
  }));
  const layout = baseLayout(uirevision);
  layout.hovermode = 'closest';
  layout.xaxis.title = axisTitle(parameter);
  layout.yaxis.title = axisTitle(`last ${metric}`);
  if (!numeric) layout.xaxis.type = 'category';
  else if (numbers.every((value) => value > 0) && Math.max(...numbers) / Math.min(...numbers) >= 50) {
    layout.xaxis.type = 'log';
  } else layout.xaxis.type = 'linear';
  applyFormat(layout.yaxis, labelFormat(runs, metric));
  return { data, layout };
}

export function drawFigure(div, figure) {
  if (!plotlyReady()) return;
  window.Plotly.react(div, figure.data, figure.layout, PLOT_CONFIG);
}

export function purgeCharts(root) {
  if (!plotlyReady() || !root) return;
  for (const div of root.querySelectorAll('.js-plotly-plot')) window.Plotly.purge(div);
}

/*
 * One chart per metric of `runs` in `container` (div.metric-chart[data-metric]), drawn as
 * `options` asks (lineFigure); charts already there are updated in place, so their zoom
 * and hidden runs stay.
 */
export function renderMetricCharts(container, runs, histories, colorOf, uiPrefix, options) {
  const metrics = unique(
    runs.flatMap((run) => Object.keys((histories[run.id]) || {})),
  ).sort(collator.compare);
  const cards = new Map();
  for (const card of container.querySelectorAll(':scope > .chart-card')) cards.set(card.dataset.metric, card);
  const wanted = [];
  for (const metric of metrics) {
    let card = cards.get(metric);
    const format = labelFormat(runs, metric);
    if (!card) {
      card = h(
        'div',
        { class: 'chart-card', dataset: { metric } },
        h('div', { class: 'chart-head' }, h('span', { class: 'chart-title' }, metric), h('span', { class: 'chart-note' })),
        h('div', { class: 'metric-chart', dataset: { metric } }),
      );
    }
    $('.chart-note', card).textContent = format ? format.name : '';
    cards.delete(metric);
    wanted.push(card);
  }
  for (const card of cards.values()) {
    purgeCharts(card);
    card.remove();
  }
  wanted.forEach((card, index) => {
    if (container.children[index] !== card) container.insertBefore(card, container.children[index] || null);
  });
  for (const card of wanted) {
    const metric = card.dataset.metric;
    // A new scale is a new view of the axes: the zoom of the other one does not apply.
    const uirevision = `${uiPrefix}|${metric}|${options && options.log ? 'log' : 'linear'}`;
    drawFigure($('.metric-chart', card), lineFigure(runs, histories, metric, colorOf, uirevision, options));
  }
  return metrics.length;
}
