/*
 * The parallel-coordinates chart of a sweep (Plotly's parcoords): one line per run of the
 * table (the runs loaded, as the filters select them), an axis per chosen parameter, and a
 * chosen metric as the lines' colour and the last axis. A parameter whose values are not
 * all numbers is a categorical axis (its values in order, as ticks). A run without a value
 * on every axis is left out of the chart.
 *
 * Brushing an axis (dragging along it; or Plotly.restyle of dimensions[i].constraintrange)
 * filters the table to the runs within every brushed range; "Clear brushing", or clearing
 * the ranges, brings them back. The chosen axes and metric live in the address:
 * pc=PARAM,PARAM&pcm=METRIC (each name percent-encoded), present while the chart is open.
 *
 * Names are shown literally: axis labels and the colour bar's title, which Plotly reads as
 * markup, go through plotlyText; parcoords draws tick text as plain text, so categories go
 * as they are (escaped, they would show as "&lt;b&gt;"). Plotly draws it with WebGL: see
 * parcoords-gl.js for how that works under the page's Content-Security-Policy.
 */

import { h } from '../dom.js';
import { asNumber, collator, unique, labelFormat } from '../format.js';
import { FONT, plotlyText, plotlyReady } from '../charts.js';
import { enc } from '../routes.js';
import { withPrecompiledRegl, webglProblem } from './parcoords-gl.js';

const DEFAULT_AXES = 4;
const CONFIG = { responsive: true, displaylogo: false };

/* The chart's state from an address: {open, axes (null: the first few), metric}. */
export function parcoordsFromRoute(route) {
  const axes = route.list('pc', ',');
  return { open: axes.length > 0 || Boolean(route.get('pcm')), axes: axes.length ? axes : null, metric: route.get('pcm') };
}

/* The chart's state as [key, value] pairs of an address. */
export function parcoordsPairs(pc) {
  if (!pc.open) return [];
  return [['pc', (pc.axes || []).map(enc).join(','), true], ['pcm', pc.metric || '']];
}

/*
 * The panel: `toggle` (a button that opens and closes it) and `section`; `update()` draws
 * it again from the view's runs and columns. It keeps the brushed ranges in view.brush (a
 * Map of 'param:NAME' or 'metric:NAME' to [[low, high], ...]); `passes(run)` says whether a
 * run lies within all of them. onChange() follows a change of axes, metric or opening;
 * onBrush() a change of the brushed ranges.
 */
export function parcoordsPanel(view, { onChange, onBrush }) {
  const pc = view.pc;
  view.brush = view.brush || new Map();
  const toggle = h('button', { type: 'button', id: 'parcoords-toggle', class: 'button' }, 'Parallel coordinates');
  const axesList = h('div', { id: 'parcoords-axes', class: 'pc-axes' });
  const metricSelect = h('select', { id: 'parcoords-metric', 'aria-label': 'The metric: the lines’ colour and the last axis' });
  const clear = h('button', { type: 'button', id: 'parcoords-clear', class: 'button subtle', hidden: true }, 'Clear brushing');
  const note = h('p', { id: 'parcoords-note', class: 'muted small' });
  const chart = h('div', { id: 'parcoords-chart', class: 'parcoords-chart' });
  const section = h(
    'section',
    { id: 'parcoords-section', class: 'card parcoords-card', hidden: true },
    h('div', { class: 'section-head' }, h('h2', null, 'Parallel coordinates'), clear),
    h(
      'div',
      { class: 'pc-controls' },
      h('span', { class: 'field-label' }, 'Axes'),
      axesList,
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Colour'), metricSelect),
    ),
    note,
    chart,
  );
  let controlsKey = null;
  let drawn = null; // {keys, axes, metric, categories: Map(key → values in order)}
  let listening = false;

  toggle.addEventListener('click', () => {
    pc.open = !pc.open;
    if (!pc.open) setBrush(new Map());
    onChange();
    update();
  });
  metricSelect.addEventListener('change', () => {
    pc.metric = metricSelect.value;
    onChange();
    update();
  });
  clear.addEventListener('click', () => {
    setBrush(new Map());
    update();
  });

  function setBrush(brush) {
    const changed = JSON.stringify([...brush]) !== JSON.stringify([...view.brush]);
    view.brush = brush;
    clear.hidden = brush.size === 0;
    if (changed) onBrush();
  }

  function update() {
    toggle.classList.toggle('active', pc.open);
    toggle.setAttribute('aria-pressed', String(pc.open));
    section.hidden = !pc.open;
    if (!pc.open) {
      purge();
      return;
    }
    const params = view.columns.params;
    const metrics = view.columns.metrics;
    const axes = (pc.axes || params.slice(0, DEFAULT_AXES)).filter((name) => params.includes(name));
    const metric = metrics.includes(pc.metric) ? pc.metric : metrics[0] || '';
    renderControls(params, metrics, axes, metric);
    if (!metric || !axes.length) {
      note.textContent = !metric ? 'The runs have logged no metric to colour the lines by.' : 'Choose parameters as axes.';
      purge();
      setBrush(new Map());
      return;
    }
    draw(axes, metric);
  }

  function renderControls(params, metrics, axes, metric) {
    const key = JSON.stringify([params, metrics, axes, metric]);
    if (key === controlsKey) return;
    controlsKey = key;
    axesList.replaceChildren(
      ...params.map((name) => {
        const box = h('input', { type: 'checkbox', value: name, checked: axes.includes(name) });
        box.addEventListener('change', () => {
          pc.axes = [...axesList.querySelectorAll('input')].filter((item) => item.checked).map((item) => item.value);
          onChange();
          update();
        });
        return h('label', { class: 'pc-axis' }, box, h('span', null, name));
      }),
    );
    if (!params.length) axesList.append(h('span', { class: 'muted small' }, 'no parameters'));
    metricSelect.replaceChildren(...metrics.map((name) => h('option', { value: name }, name)));
    metricSelect.value = metric;
  }

  /* A run's value on an axis as the chart places it (a category by its index), or null. */
  function valueOf(run, key) {
    const name = key.slice(key.indexOf(':') + 1);
    if (key.startsWith('metric:')) return typeof run.metrics[name] === 'number' ? run.metrics[name] : null;
    const value = run.parameters[name];
    if (value === undefined) return null;
    const categories = drawn && drawn.categories.get(key);
    if (!categories) return asNumber(value);
    const index = categories.indexOf(String(value));
    return index < 0 ? null : index;
  }

  function dimension(key, label, values) {
    const numbers = values.map(asNumber);
    const axis = { label: plotlyText(label) };
    if (numbers.every((value) => value !== null)) axis.values = numbers;
    else {
      const categories = unique(values.map(String)).sort(collator.compare);
      drawn.categories.set(key, categories);
      axis.values = values.map((value) => categories.indexOf(String(value)));
      axis.tickvals = categories.map((_, index) => index);
      axis.ticktext = categories; // drawn as plain text: no markup to escape
      axis.range = [0, Math.max(categories.length - 1, 1)];
    }
    const ranges = view.brush.get(key);
    if (ranges) axis.constraintrange = ranges.length === 1 ? ranges[0] : ranges;
    return axis;
  }

  function draw(axes, metric) {
    if (!plotlyReady()) return;
    const keys = [...axes.map((name) => `param:${name}`), `metric:${metric}`];
    const rows = view.runs.filter(
      (run) => typeof run.metrics[metric] === 'number' && axes.every((name) => run.parameters[name] !== undefined),
    );
    // Ranges brushed on axes no longer drawn are dropped.
    setBrush(new Map([...view.brush].filter(([key]) => keys.includes(key))));
    drawn = { keys, axes, metric, categories: new Map() };
    const dimensions = axes.map((name, index) => dimension(keys[index], name, rows.map((run) => run.parameters[name])));
    const colours = rows.map((run) => run.metrics[metric]);
    const last = dimension(keys[keys.length - 1], metric, colours);
    const format = labelFormat(view.runs, metric);
    if (format) last.tickformat = format.tick;
    dimensions.push(last);
    const left = view.runs.length - rows.length;
    note.textContent =
      `${rows.length} of the ${view.runs.length} runs in the table` +
      (left ? ` (${left} without a value on every axis are left out)` : '') +
      '. Drag along an axis to brush it: the table keeps the runs within every brushed range.';
    const data = [{
      type: 'parcoords',
      line: { color: colours, colorscale: 'Viridis', showscale: true, colorbar: { title: { text: plotlyText(metric) }, thickness: 12 } },
      dimensions,
      labelangle: 0,
    }];
    const layout = {
      height: 400,
      margin: { l: 64, r: 96, t: 64, b: 28 },
      paper_bgcolor: '#ffffff',
      font: { family: FONT, size: 12, color: '#334155' },
    };
    withPrecompiledRegl(() => window.Plotly.react(chart, data, layout, CONFIG)).then(() => {
      const problem = webglProblem(chart);
      if (problem) note.textContent = problem;
    });
    if (!listening && typeof chart.on === 'function') {
      chart.on('plotly_restyle', readBrush);
      listening = true;
    }
  }

  /* The brushed ranges as Plotly holds them: [low, high] or a list of such, per axis. */
  function readBrush() {
    if (!drawn || !chart.data || !chart.data[0]) return;
    const brush = new Map();
    chart.data[0].dimensions.forEach((axis, index) => {
      const range = axis.constraintrange;
      const list = Array.isArray(range) && Array.isArray(range[0]) ? range : [range];
      const ranges = list
        .filter((item) => Array.isArray(item) && item.length === 2 && item.every(Number.isFinite))
        .map(([a, b]) => [Math.min(a, b), Math.max(a, b)]);
      if (ranges.length && drawn.keys[index]) brush.set(drawn.keys[index], ranges);
    });
    setBrush(brush);
  }

  /* Whether a run lies within every brushed range (a run the chart left out does not). */
  function passes(run) {
    if (!view.brush.size) return true;
    if (!drawn || drawn.keys.some((key) => valueOf(run, key) === null)) return false;
    for (const [key, ranges] of view.brush) {
      const value = valueOf(run, key);
      if (!ranges.some(([low, high]) => value >= low && value <= high)) return false;
    }
    return true;
  }

  function purge() {
    if (plotlyReady() && chart.classList.contains('js-plotly-plot')) window.Plotly.purge(chart);
    listening = false;
  }

  return { toggle, section, update, passes, destroy: purge };
}
