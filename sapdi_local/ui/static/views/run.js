/*
 * #/run/ID : one run's context, parameters, tags, labels, metrics and charts.
 *
 * This module holds the view's state (the run as last read, its histories, the chart
 * options, kept in the address as log= and smooth=), asks the API for the run and its
 * histories, and draws the run's tables (run-details.js) and charts (charts.js).
 * runView(route) answers the view main.js drives: start(), refresh(), destroy() and dead.
 */

import { h, pageHead, emptyState, $ } from '../dom.js';
import { apiRaw, api, setError } from '../api.js';
import { enc, runHash, replaceHash } from '../routes.js';
import { PALETTE, purgeCharts, renderMetricCharts } from '../charts.js';
import { chartOptionsFromRoute, chartOptionPairs, chartControls } from '../chart-options.js';
import { runDetails } from './run-details.js';

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
  const chartsSection = h('section', { class: 'charts-section' }, h('div', { class: 'section-head' }, h('h2', null, 'Charts'), controls), chartsHint, charts);

  function drawCharts(run, histories) {
    view.histories = histories;
    return renderMetricCharts(charts, [run], histories, () => PALETTE[0], `run|${run.id}`, view.chartOptions);
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
        // The charts' section moves into the new layout as it is, keeping zoom and legend.
        root.replaceChildren(...runDetails(body, chartsSection));
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
