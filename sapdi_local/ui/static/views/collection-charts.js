/*
 * The charts of the collection view: one chart per metric of the selected runs (the first
 * MAX_CHARTED_RUNS of them), one line per run, drawn as the chart options ask (log scale,
 * smoothing: chart-options.js). Selected runs that the filters hide are still charted.
 */

import { h, debounce } from '../dom.js';
import { api, setError } from '../api.js';
import { PALETTE, purgeCharts, renderMetricCharts } from '../charts.js';
import { chartControls } from '../chart-options.js';

const MAX_CHARTED_RUNS = 40;

/* The charts' section, for the view's selection; onOptions() follows a change of options. */
export function collectionCharts(view, { onOptions }) {
  const charts = h('div', { id: 'charts', class: 'chart-grid' });
  const hint = h('p', { class: 'muted charts-hint' });
  const title = h('h2', null, 'Charts');
  let seq = 0;
  let key = null;
  let live = false;
  let drawn = null; // {runs, histories} last drawn, to draw again with other options
  const controls = chartControls(view.chartOptions, () => {
    onOptions();
    if (drawn) draw(drawn.runs, drawn.histories);
  });
  const section = h('section', { class: 'charts-section' }, h('div', { class: 'section-head' }, title, controls), hint, charts);

  function colorOf(run) {
    const index = [...view.selected].indexOf(run.id);
    return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
  }

  function draw(runs, histories) {
    drawn = { runs, histories };
    return renderMetricCharts(charts, runs, histories, colorOf, 'collection', view.chartOptions);
  }

  /* Draw the selected runs' charts again if the selection changed, runs are still running,
   * or `force`. */
  async function update(force) {
    const ids = [...view.selected].filter((id) => view.known.has(id));
    const charted = ids.slice(0, MAX_CHARTED_RUNS);
    const runs = charted.map((id) => view.known.get(id));
    const running = runs.some((run) => run.status === 'RUNNING');
    if (!force && charted.join(',') === key && !running && !live) return;
    key = charted.join(',');
    live = running;
    title.textContent = charted.length ? `Charts · ${charted.length} selected run${charted.length === 1 ? '' : 's'}` : 'Charts';
    if (!charted.length) {
      drawn = null;
      purgeCharts(charts);
      charts.replaceChildren();
      hint.textContent = 'Select runs with the checkboxes to chart their metrics: one chart per metric, one line per run.';
      hint.hidden = false;
      setError('charts', null);
      return;
    }
    hint.hidden = ids.length <= MAX_CHARTED_RUNS;
    hint.textContent = `Charting the first ${MAX_CHARTED_RUNS} of ${ids.length} selected runs.`;
    const mine = ++seq;
    try {
      const body = await api('/api/metrics', charted.map((id) => ['run', id]));
      if (view.dead || mine !== seq) return;
      setError('charts', null);
      if (!draw(runs, body.runs || {})) {
        hint.hidden = false;
        hint.textContent = 'The selected runs have logged no metrics yet.';
      }
    } catch (error) {
      if (view.dead || mine !== seq) return;
      key = null;
      setError('charts', error.message);
    }
  }

  /* Selected runs that the current filter hides are still charted: fetch them once. */
  async function fetchHiddenSelected() {
    const missing = [...view.selected].filter((id) => !view.known.has(id));
    if (!missing.length) return;
    try {
      const body = await api('/api/runs', missing.map((id) => ['run', id]));
      for (const run of body.runs) if (!view.known.has(run.id)) view.known.set(run.id, run);
    } catch (error) {
      /* the table's own request reports what is wrong */
    }
  }

  return {
    section,
    update,
    soon: debounce(() => update(false), 120),
    fetchHiddenSelected,
    destroy: () => purgeCharts(charts),
  };
}
