/*
 * The metrics explorer page: a client of the read-only JSON API under /api/, with Plotly
 * (loaded before this file from /static/plotly.min.js) drawing every chart.
 *
 * Routes live in the address's hash, so every view can be bookmarked and shared:
 *
 *   #/                                   the collections of every scenario
 *   #/collection?scenario=S&collection=C the runs of one collection (both optional: without
 *       them, every run), with  q=TEXT  tag=KEY=VALUE  status=STATUS  (filters),
 *       sort=COLUMN&dir=asc|desc  (COLUMN: name, status, start, duration, param:NAME,
 *       metric:NAME),  hide=COLUMN,COLUMN  (hidden columns) and  sel=ID,ID  (selected runs)
 *   #/run/ID                             one run: context, parameters, tags, labels, metrics
 *   #/board?runs=ID,ID&chart=KIND:METRIC[:PARAMETER]&chart=...
 *       the compare board; KIND is across (a metric across runs), versus (a metric against a
 *       parameter, which follows as a third part) or over (a metric over steps or time)
 *
 * Every value is percent-encoded on its own (encodeURIComponent) before it is joined with
 * "," or ":", so names may hold any character. The board's address is also remembered in
 * localStorage, so "Compare" adds runs to the board that is already there.
 *
 * The page reads the database live: with the "Live" switch on it polls every 5 seconds.
 * A query parameter before the hash shortens that, for tests: /?poll=500#/...
 * (in milliseconds, at least 100).
 *
 * Everything taken from the database reaches the page as text (textContent, attributes),
 * never as markup.
 */
'use strict';

(function () {
  const PAGE_SIZE = 200;
  const MAX_CHARTED_RUNS = 40;
  const BOARD_KEY = 'sapdi-local.board';
  const POLL_MS = (() => {
    const value = Number(new URLSearchParams(window.location.search).get('poll'));
    return Number.isFinite(value) && value >= 100 ? value : 5000;
  })();
  const PALETTE = [
    '#2563eb', '#e11d48', '#059669', '#d97706', '#7c3aed',
    '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c',
  ];
  const FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const STATUSES = ['RUNNING', 'FINISHED', 'FAILED', 'INTERRUPTED', 'TERMINATED', 'KILLED'];
  const KINDS = {
    across: 'Metric across runs',
    versus: 'Metric against a parameter',
    over: 'Metric over steps or time',
  };
  const PLOT_CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ['lasso2d', 'select2d'],
  };
  // A d3-format specifier, as Plotly's tickformat takes it: [[fill]align][sign][symbol][0]
  // [width][,][.precision][~][type].
  const D3_FORMAT = /^(?:.?[<>=^])?[-+( ]?[$#]?0?\d*,?(?:\.\d+)?~?[%bcdefgnorsxX]?$/;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

  const state = {
    db: null,
    dbText: null,
    collections: null,
    collectionsText: null,
    live: true,
    view: null,
  };

  // ---------------------------------------------------------------- small helpers

  const $ = (selector, root) => (root || document).querySelector(selector);
  const enc = encodeURIComponent;

  function dec(text) {
    try {
      return decodeURIComponent(text);
    } catch (error) {
      return text;
    }
  }

  /* An element with properties and children; strings become text nodes, never markup. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (typeof value !== 'string' && key in node) node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function unique(items) {
    return [...new Set(items)];
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  function pad(number, width) {
    return String(number).padStart(width || 2, '0');
  }

  function formatDate(iso) {
    if (!iso) return '—';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    return (
      `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    );
  }

  /* A unix time as Plotly takes dates: local wall-clock text with milliseconds. */
  function plotlyDate(seconds) {
    const date = new Date(seconds * 1000);
    return (
      `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.` +
      pad(date.getMilliseconds(), 3)
    );
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  }

  function formatBytes(bytes) {
    if (!Number.isFinite(bytes)) return '';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
  }

  function trimZeros(text) {
    return text.includes('e') || !text.includes('.') ? text : text.replace(/\.?0+$/, '');
  }

  function formatNumber(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return value === null || value === undefined ? '—' : String(value);
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toLocaleString('en-US');
    const size = Math.abs(value);
    if (size !== 0 && (size >= 1e6 || size < 1e-4)) return value.toExponential(3);
    return trimZeros(value.toPrecision(5));
  }

  /* A metric value as its label asks: a percentage, a fixed precision, or plain. */
  function formatMetric(value, format) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return formatNumber(value);
    if (format && format.percent) return `${trimZeros((value * 100).toFixed(2))}%`;
    const fixed = format && /^,?\.(\d+)f$/.exec(format.tick);
    if (fixed) return value.toFixed(Number(fixed[1]));
    const percent = format && /^,?\.(\d+)~?%$/.exec(format.tick);
    if (percent) return `${(value * 100).toFixed(Number(percent[1]))}%`;
    return formatNumber(value);
  }

  function asNumber(text) {
    if (typeof text === 'number') return Number.isFinite(text) ? text : null;
    if (typeof text !== 'string' || text.trim() === '') return null;
    const value = Number(text);
    return Number.isFinite(value) ? value : null;
  }

  function systemParameters() {
    return new Set((state.db && state.db.system_parameters) || ['start', 'end']);
  }

  function systemTags() {
    return new Set((state.db && state.db.system_tags) || ['runName']);
  }

  function userEntries(mapping, system) {
    return Object.keys(mapping || {})
      .filter((name) => !system.has(name))
      .sort(collator.compare)
      .map((name) => [name, mapping[name]]);
  }

  function runDuration(run) {
    if (typeof run.duration_seconds === 'number') return run.duration_seconds;
    if (run.status === 'RUNNING' && run.start_time) {
      return (Date.now() - new Date(run.start_time).getTime()) / 1000;
    }
    return null;
  }

  function statusBadge(status) {
    return h('span', { class: `status status-${String(status || '').toLowerCase()}` }, status || '—');
  }

  /* The format a metric's label asks for, from the first of `runs` that has one. */
  function labelFormat(runs, metric) {
    for (const run of runs) {
      let label = run && run.labels ? run.labels[metric] : undefined;
      if (typeof label === 'string') {
        try {
          label = JSON.parse(label);
        } catch (error) {
          continue;
        }
      }
      if (!label || typeof label !== 'object' || typeof label.format_string !== 'string') continue;
      const spec = label.format_string.trim();
      if (spec === 'percentage' || spec === 'percent') {
        return { percent: true, tick: '.1~%', hover: '.2~%', name: 'percentage' };
      }
      if (spec && D3_FORMAT.test(spec)) return { percent: false, tick: spec, hover: spec, name: spec };
    }
    return null;
  }

  /* Legend names: run names, told apart by collection (or id) when two are alike. */
  function traceNames(runs) {
    const counts = new Map();
    for (const run of runs) counts.set(run.name, (counts.get(run.name) || 0) + 1);
    const names = runs.map((run) =>
      counts.get(run.name) > 1 ? `${run.name} · ${run.collection_display_name || run.collection}` : run.name,
    );
    const again = new Map();
    for (const name of names) again.set(name, (again.get(name) || 0) + 1);
    return names.map((name, index) => (again.get(name) > 1 ? `${name} · ${runs[index].id.slice(0, 8)}` : name));
  }

  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: filename, class: 'hidden-link' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  function plotlyReady() {
    return typeof window.Plotly === 'object' && window.Plotly !== null;
  }

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  /* GET an API address; answers {body, text}, or throws ApiError with the API's message. */
  async function apiRaw(path, params) {
    const query = new URLSearchParams();
    for (const [key, value] of params || []) {
      if (value !== undefined && value !== null && value !== '') query.append(key, value);
    }
    const search = query.toString();
    const url = path + (search ? `?${search}` : '');
    let response;
    try {
      response = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (error) {
      throw new ApiError(
        `cannot reach the explorer server at ${window.location.host}; is "sapdi-local ui" still running?`,
        0,
      );
    }
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const message =
        body && body.error && typeof body.error.message === 'string'
          ? body.error.message
          : `${path} answered HTTP ${response.status}`;
      throw new ApiError(message, response.status);
    }
    if (body === null) throw new ApiError(`${path} did not answer JSON`, response.status);
    return { body, text };
  }

  async function api(path, params) {
    return (await apiRaw(path, params)).body;
  }

  /* The query of one collection: the API matches scenario= and collection= exactly. */
  function scopeQuery(scenario, collection) {
    const params = [];
    if (scenario) params.push(['scenario', scenario]);
    if (collection) params.push(['collection', collection]);
    return params;
  }

  // ---------------------------------------------------------------- errors

  const errors = new Map();

  function setError(source, message) {
    if (message) errors.set(source, String(message));
    else errors.delete(source);
    const banner = $('#error');
    const messages = unique([...errors.values()]);
    banner.textContent = messages.join('\n');
    banner.hidden = messages.length === 0;
  }

  window.addEventListener('error', (event) => {
    setError('page', `The page hit an unexpected error: ${event.message}`);
  });
  window.addEventListener('unhandledrejection', (event) => {
    const reason = event.reason;
    setError('page', `The page hit an unexpected error: ${reason && reason.message ? reason.message : reason}`);
  });

  // ---------------------------------------------------------------- routes

  function parseRoute(hash) {
    let text = String(hash || '').replace(/^#/, '');
    if (!text.startsWith('/')) text = `/${text}`;
    const mark = text.indexOf('?');
    const path = mark < 0 ? text : text.slice(0, mark);
    const query = mark < 0 ? '' : text.slice(mark + 1);
    const pairs = [];
    for (const part of query.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      pairs.push(eq < 0 ? [dec(part), ''] : [dec(part.slice(0, eq)), part.slice(eq + 1)]);
    }
    return {
      path,
      segments: path.split('/').filter(Boolean).map(dec),
      /* The raw (still encoded) values of a key. */
      all: (key) => pairs.filter((pair) => pair[0] === key).map((pair) => pair[1]),
      get(key) {
        const found = pairs.find((pair) => pair[0] === key);
        return found ? dec(found[1]) : '';
      },
      /* The values of a key, each split at `separator` before it is decoded. */
      list(key, separator) {
        return this.all(key)
          .flatMap((value) => value.split(separator))
          .filter(Boolean)
          .map(dec);
      },
    };
  }

  /* A hash from a path and [key, value] pairs; a value is encoded here unless `raw`. */
  function makeHash(path, pairs) {
    const query = pairs
      .filter((pair) => pair[1] !== '' && pair[1] !== null && pair[1] !== undefined)
      .map(([key, value, raw]) => `${enc(key)}=${raw ? value : enc(value)}`)
      .join('&');
    return `#${path}${query ? `?${query}` : ''}`;
  }

  function collectionHash(scenario, collection, extra) {
    return makeHash('/collection', [['scenario', scenario], ['collection', collection], ...(extra || [])]);
  }

  function runHash(id) {
    return `#/run/${enc(id)}`;
  }

  /* Put the current view's state in the address without a new history entry or a re-render. */
  function replaceHash(hash) {
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
  }

  // ---------------------------------------------------------------- the board's state

  function boardHash(board) {
    const pairs = [['runs', board.runs.map(enc).join(','), true]];
    for (const chart of board.charts) {
      const parts = [chart.kind, chart.metric];
      if (chart.kind === 'versus') parts.push(chart.parameter);
      pairs.push(['chart', parts.map(enc).join(':'), true]);
    }
    return makeHash('/board', pairs);
  }

  function boardFromRoute(route) {
    const charts = [];
    for (const value of route.all('chart')) {
      const [kind, metric, parameter] = value.split(':').map(dec);
      if (!KINDS[kind] || !metric || (kind === 'versus' && !parameter)) continue;
      const chart = { kind, metric, parameter: kind === 'versus' ? parameter : '' };
      if (!charts.some((other) => chartKey(other) === chartKey(chart))) charts.push(chart);
    }
    return { runs: unique(route.list('runs', ',')), charts };
  }

  function chartKey(chart) {
    return JSON.stringify([chart.kind, chart.metric, chart.parameter || '']);
  }

  function rememberBoard(board) {
    try {
      window.localStorage.setItem(BOARD_KEY, boardHash(board));
    } catch (error) {
      /* private mode: the board lives in the address only */
    }
    updateBoardLink(board);
  }

  function rememberedBoard() {
    let hash = '';
    try {
      hash = window.localStorage.getItem(BOARD_KEY) || '';
    } catch (error) {
      hash = '';
    }
    return hash ? boardFromRoute(parseRoute(hash)) : { runs: [], charts: [] };
  }

  function updateBoardLink(board) {
    const current = board || rememberedBoard();
    const link = $('#board-link');
    link.href = boardHash(current);
    link.replaceChildren('Board', h('span', { class: 'pill' }, String(current.runs.length)));
  }

  /* Add runs to the remembered board (runs already there stay) and open it. */
  function openBoardWith(runIds) {
    const board = rememberedBoard();
    board.runs = unique([...board.runs, ...runIds]);
    rememberBoard(board);
    window.location.hash = boardHash(board);
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
      hoverlabel: { font: { family: FONT } },
      showlegend: true,
    };
  }

  function axisTitle(text) {
    return { text, font: { size: 11, color: '#64748b' } };
  }

  function applyFormat(axis, format) {
    if (!format) return;
    axis.tickformat = format.tick;
    axis.hoverformat = format.hover;
  }

  /* A metric over steps (or time, when a value has no step): one line per run. */
  function lineFigure(runs, histories, metric, colorOf, uirevision) {
    const series = runs
      .map((run) => ({ run, history: histories[run.id] && histories[run.id][metric] }))
      .filter((item) => item.history && item.history.value.length > 0);
    const byStep =
      series.length > 0 && series.every((item) => item.history.step.every((step) => step !== null && step !== undefined));
    const names = traceNames(series.map((item) => item.run));
    if (series.length > 0 && series.every((item) => item.history.value.length === 1)) {
      // One value per run (a final score): a bar per run reads better than lone points.
      return singleValueFigure(series, names, metric, colorOf, uirevision, labelFormat(runs, metric));
    }
    const data = series.map((item, index) => {
      const color = colorOf(item.run);
      const points = item.history.value.length;
      return {
        type: 'scatter',
        mode: points < 2 ? 'markers' : points <= 30 ? 'lines+markers' : 'lines',
        name: names[index],
        uid: item.run.id,
        x: byStep ? item.history.step : item.history.timestamp.map(plotlyDate),
        y: item.history.value,
        line: { color, width: 2 },
        marker: { color, size: points < 2 ? 9 : 5 },
      };
    });
    const layout = baseLayout(uirevision);
    layout.xaxis.title = axisTitle(byStep ? 'step' : 'time');
    if (!byStep) layout.xaxis.type = 'date';
    layout.hovermode = byStep ? 'x unified' : 'closest';
    applyFormat(layout.yaxis, labelFormat(runs, metric));
    return { data, layout };
  }

  /* A metric across runs: one bar per run, its last value. */
  function singleValueFigure(series, names, metric, colorOf, uirevision, format) {
    const textFormat = format ? format.hover : '.4~g';
    const data = series.map((item, index) => ({
      type: 'bar',
      name: names[index],
      uid: item.run.id,
      x: [names[index]],
      y: item.history.value,
      marker: { color: colorOf(item.run) },
      texttemplate: `%{y:${textFormat}}`,
      textposition: 'outside',
      cliponaxis: false,
    }));
    const layout = baseLayout(uirevision);
    layout.barmode = 'overlay';
    layout.hovermode = 'closest';
    layout.xaxis.type = 'category';
    layout.xaxis.title = axisTitle('run');
    layout.yaxis.title = axisTitle(metric);
    applyFormat(layout.yaxis, format);
    return { data, layout };
  }

  function acrossFigure(runs, metric, colorOf, uirevision) {
    const rows = runs.filter((run) => typeof run.metrics[metric] === 'number');
    const names = traceNames(rows);
    const format = labelFormat(runs, metric);
    const textFormat = format ? format.hover : '.4~g';
    const data = rows.map((run, index) => ({
      type: 'bar',
      name: names[index],
      uid: run.id,
      x: [names[index]],
      y: [run.metrics[metric]],
      marker: { color: colorOf(run) },
      texttemplate: `%{y:${textFormat}}`,
      textposition: 'outside',
      cliponaxis: false,
    }));
    const layout = baseLayout(uirevision);
    layout.barmode = 'overlay';
    layout.showlegend = false;
    layout.hovermode = 'closest';
    layout.xaxis.type = 'category';
    layout.xaxis.title = axisTitle('run');
    layout.yaxis.title = axisTitle(`last ${metric}`);
    applyFormat(layout.yaxis, format);
    return { data, layout };
  }

  /* A metric against a parameter: one point per run; numeric parameters on a numeric axis. */
  function versusFigure(runs, metric, parameter, colorOf, uirevision) {
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
      x: [numeric ? numbers[index] : run.parameters[parameter]],
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

  function drawFigure(div, figure) {
    if (!plotlyReady()) return;
    window.Plotly.react(div, figure.data, figure.layout, PLOT_CONFIG);
  }

  function purgeCharts(root) {
    if (!plotlyReady() || !root) return;
    for (const div of root.querySelectorAll('.js-plotly-plot')) window.Plotly.purge(div);
  }

  /*
   * One chart per metric of `runs` in `container` (div.metric-chart[data-metric]); charts
   * already there are updated in place, so their zoom and hidden runs stay.
   */
  function renderMetricCharts(container, runs, histories, colorOf, uiPrefix) {
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
      drawFigure($('.metric-chart', card), lineFigure(runs, histories, metric, colorOf, `${uiPrefix}|${metric}`));
    }
    return metrics.length;
  }

  // ---------------------------------------------------------------- header and sidebar

  async function refreshHeader() {
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
      );
      info.classList.remove('db-missing');
    } catch (error) {
      state.dbText = null;
      setError('database', error.message);
      info.replaceChildren(h('span', { class: 'db-path' }, 'Database unavailable'));
      info.classList.add('db-missing');
    }
  }

  async function refreshSidebar() {
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

  function markActiveCollection() {
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

  function displayNameOf(scenario, collection) {
    for (const item of (state.collections && state.collections.scenarios) || []) {
      if (item.name !== scenario) continue;
      for (const entry of item.collections) if (entry.name === collection) return entry.display_name;
    }
    return null;
  }

  // ---------------------------------------------------------------- views

  function pageHead(crumbs, title, actions, subtitle) {
    return h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        { class: 'page-title' },
        crumbs && crumbs.length ? h('nav', { class: 'crumbs' }, crumbs) : null,
        h('h1', null, title),
        subtitle ? h('div', { class: 'subtitle' }, subtitle) : null,
      ),
      actions ? h('div', { class: 'page-actions' }, actions) : null,
    );
  }

  function emptyState(title, text, link) {
    return h(
      'div',
      { class: 'empty' },
      h('div', { class: 'empty-title' }, title),
      text ? h('p', null, text) : null,
      link || null,
    );
  }

  // ------------------------------------------------ home: every collection

  function homeView() {
    const view = { dead: false, text: null };
    const main = $('#main');
    const body = h('div', { class: 'home' });
    main.append(
      pageHead(null, 'Run collections', null, 'Choose a collection to list its runs; select runs to chart them and compare them on the board.'),
      body,
    );
    view.render = () => {
      if (!state.collections) {
        view.text = null;
        body.replaceChildren(
          emptyState('The database cannot be read', 'The message above says why; this page tries again on its own while Live is on.'),
        );
        return;
      }
      if (state.collectionsText === view.text) return;
      view.text = state.collectionsText;
      const scenarios = state.collections.scenarios || [];
      if (!scenarios.length) {
        body.replaceChildren(emptyState('No runs yet', 'Runs appear here as soon as a script or notebook starts one.'));
        return;
      }
      body.replaceChildren(
        ...scenarios.map((scenario) =>
          h(
            'section',
            { class: 'home-scenario' },
            h('h2', null, h('span', { class: 'eyebrow' }, 'Scenario'), ' ', scenario.name),
            h(
              'div',
              { class: 'cards' },
              scenario.collections.map((item) =>
                h(
                  'a',
                  { class: 'collection-card', href: collectionHash(scenario.name, item.name) },
                  h('div', { class: 'card-title' }, item.display_name),
                  h(
                    'div',
                    { class: 'card-meta' },
                    `${item.runs.toLocaleString('en-US')} run${item.runs === 1 ? '' : 's'} · last started ${formatDate(item.last_start)}`,
                  ),
                ),
              ),
            ),
          ),
        ),
      );
      body.append(h('p', { class: 'muted small all-runs' }, h('a', { href: '#/collection' }, 'List every run of every collection')));
    };
    view.start = () => view.render();
    view.refresh = async () => view.render();
    view.destroy = () => {
      view.dead = true;
    };
    return view;
  }

  // ------------------------------------------------ one collection's runs

  function collectionView(route) {
    const scenario = route.get('scenario');
    const collection = route.get('collection');
    const view = {
      dead: false,
      runs: [],
      total: 0,
      known: new Map(),
      selected: new Set(route.list('sel', ',')),
      hidden: new Set(route.list('hide', ',')),
      sort: route.get('sort') || 'start',
      dir: route.get('dir') === 'asc' || route.get('dir') === 'desc' ? route.get('dir') : null,
      q: route.get('q'),
      tag: route.get('tag'),
      status: route.get('status'),
      shown: PAGE_SIZE,
      text: null,
      loadSeq: 0,
      chartSeq: 0,
      chartKey: null,
      chartsLive: false,
      columns: { params: [], metrics: [] },
      error: null,
    };
    // Sorting and paging happen on the server: the table asks for the first view.shown runs
    // in view.sort order, so a collection of 10,000 runs costs only the rows on the page.
    if (!view.dir) view.dir = view.sort === 'start' ? 'desc' : 'asc';
    const main = $('#main');
    const title = collection ? displayNameOf(scenario, collection) || collection : 'All runs';
    const count = h('span', { class: 'muted' });
    const crumbs = [h('a', { href: '#/' }, 'Collections')];
    if (scenario) crumbs.push(h('span', { class: 'sep' }, '/'), h('span', null, scenario));

    const textInput = h('input', {
      id: 'filter-text', type: 'search', placeholder: 'Search run names', value: view.q, autocomplete: 'off',
      'aria-label': 'Search run names',
    });
    const tagInput = h('input', {
      id: 'filter-tag', type: 'search', placeholder: 'Tag KEY=VALUE', value: view.tag, autocomplete: 'off',
      'aria-label': 'Filter by tag, written KEY=VALUE',
    });
    const statusSelect = h(
      'select',
      { id: 'filter-status', 'aria-label': 'Filter by status' },
      h('option', { value: '' }, 'All statuses'),
      ((state.db && state.db.statuses) || STATUSES).map((status) => h('option', { value: status }, status)),
    );
    statusSelect.value = view.status;
    const columnsMenu = h('div', { class: 'menu' });
    const columnsButton = h('details', { class: 'dropdown' }, h('summary', { class: 'button' }, 'Columns'), columnsMenu);
    const selectionInfo = h('span', { class: 'selection-info muted' });
    const clearButton = h('button', { type: 'button', class: 'button subtle', text: 'Clear selection' });
    const compareButton = h('button', { id: 'compare-selected', type: 'button', class: 'button primary', disabled: true }, 'Compare');
    const table = h('table', { id: 'runs-table', class: 'data-table runs-table' });
    const tableFoot = h('div', { class: 'table-foot' });
    const charts = h('div', { id: 'charts', class: 'chart-grid' });
    const chartsHint = h('p', { class: 'muted charts-hint' });
    const chartsTitle = h('h2', null, 'Charts');

    main.append(
      pageHead(crumbs, title, [selectionInfo, clearButton, compareButton], count),
      h(
        'div',
        { class: 'toolbar' },
        h('div', { class: 'field grow' }, textInput),
        h('div', { class: 'field' }, tagInput),
        h('div', { class: 'field' }, statusSelect),
        columnsButton,
      ),
      h('div', { class: 'card table-card' }, h('div', { class: 'table-wrap' }, table), tableFoot),
      h('section', { class: 'charts-section' }, h('div', { class: 'section-head' }, chartsTitle), chartsHint, charts),
    );

    function saveHash() {
      replaceHash(
        collectionHash(scenario, collection, [
          ['q', view.q],
          ['tag', view.tag],
          ['status', view.status],
          ['sort', view.sort === 'start' && view.dir === 'desc' ? '' : view.sort],
          ['dir', view.sort === 'start' && view.dir === 'desc' ? '' : view.dir],
          ['hide', [...view.hidden].map(enc).join(','), true],
          ['sel', [...view.selected].map(enc).join(','), true],
        ]),
      );
    }

    const refilter = debounce(() => {
      view.shown = PAGE_SIZE;
      saveHash();
      load();
    }, 250);
    textInput.addEventListener('input', () => {
      view.q = textInput.value.trim();
      refilter();
    });
    tagInput.addEventListener('input', () => {
      view.tag = tagInput.value.trim();
      refilter();
    });
    statusSelect.addEventListener('change', () => {
      view.status = statusSelect.value;
      view.shown = PAGE_SIZE;
      saveHash();
      load();
    });
    compareButton.addEventListener('click', () => {
      if (view.selected.size) openBoardWith([...view.selected]);
    });
    clearButton.addEventListener('click', () => {
      view.selected.clear();
      selectionChanged();
    });

    function findColumns(columns) {
      const system = systemParameters();
      view.columns = {
        params: ((columns && columns.parameters) || []).filter((name) => !system.has(name)),
        metrics: (columns && columns.metrics) || [],
      };
      columnsMenu.replaceChildren(
        h('div', { class: 'menu-title' }, 'Parameters'),
        view.columns.params.length ? null : h('div', { class: 'muted small' }, 'none'),
        view.columns.params.map((name) => columnToggle(`param:${name}`, name)),
        h('div', { class: 'menu-title' }, 'Metrics'),
        view.columns.metrics.length ? null : h('div', { class: 'muted small' }, 'none'),
        view.columns.metrics.map((name) => columnToggle(`metric:${name}`, name)),
      );
    }

    function columnToggle(column, label) {
      const box = h('input', { type: 'checkbox', checked: !view.hidden.has(column) });
      box.addEventListener('change', () => {
        if (box.checked) view.hidden.delete(column);
        else view.hidden.add(column);
        saveHash();
        renderTable();
      });
      return h('label', { class: 'menu-item' }, box, h('span', null, label));
    }

    function sortHeader(column, label, extraClass) {
      const active = view.sort === column;
      const th = h(
        'th',
        {
          class: `sortable ${extraClass || ''} ${active ? 'sorted' : ''}`,
          dataset: { column },
          title: `Sort by ${label}`,
          'aria-sort': active ? (view.dir === 'asc' ? 'ascending' : 'descending') : 'none',
        },
        h('span', { class: 'th-label' }, label),
        h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (view.dir === 'asc' ? '▲' : '▼') : ''),
      );
      th.addEventListener('click', () => {
        if (view.sort === column) view.dir = view.dir === 'asc' ? 'desc' : 'asc';
        else {
          view.sort = column;
          view.dir = column === 'start' ? 'desc' : 'asc';
        }
        view.shown = PAGE_SIZE;
        saveHash();
        load();
      });
      return th;
    }

    function renderTable() {
      const params = view.columns.params.filter((name) => !view.hidden.has(`param:${name}`));
      const metrics = view.columns.metrics.filter((name) => !view.hidden.has(`metric:${name}`));
      const formats = new Map(metrics.map((name) => [name, labelFormat(view.runs, name)]));
      const rows = view.runs;
      const selectAll = h('input', { type: 'checkbox', class: 'select-all', 'aria-label': 'Select the runs shown' });
      const shownSelected = rows.filter((run) => view.selected.has(run.id)).length;
      selectAll.checked = rows.length > 0 && shownSelected === rows.length;
      selectAll.indeterminate = shownSelected > 0 && shownSelected < rows.length;
      selectAll.addEventListener('change', () => {
        for (const run of rows) {
          if (selectAll.checked) view.selected.add(run.id);
          else view.selected.delete(run.id);
        }
        selectionChanged();
        renderTable();
      });
      const groups = h(
        'tr',
        { class: 'group-row' },
        h('th', { colspan: '5' }),
        params.length ? h('th', { colspan: String(params.length), class: 'group param-col first-of-group' }, 'Parameters') : null,
        metrics.length ? h('th', { colspan: String(metrics.length), class: 'group metric-col first-of-group' }, 'Metrics') : null,
      );
      const head = h(
        'tr',
        null,
        h('th', { class: 'check' }, selectAll),
        sortHeader('name', 'Name'),
        sortHeader('status', 'Status'),
        sortHeader('start', 'Start'),
        sortHeader('duration', 'Duration', 'num'),
        params.map((name, index) => sortHeader(`param:${name}`, name, `param-col ${index === 0 ? 'first-of-group' : ''}`)),
        metrics.map((name, index) => sortHeader(`metric:${name}`, name, `num metric-col ${index === 0 ? 'first-of-group' : ''}`)),
      );
      const body = h('tbody');
      for (const run of rows) {
        const box = h('input', {
          type: 'checkbox', class: 'select-run', checked: view.selected.has(run.id), 'aria-label': `Select run ${run.name}`,
        });
        box.addEventListener('change', () => {
          if (box.checked) view.selected.add(run.id);
          else view.selected.delete(run.id);
          row.classList.toggle('selected', box.checked);
          selectionChanged();
        });
        const row = h(
          'tr',
          { dataset: { runId: run.id }, class: view.selected.has(run.id) ? 'selected' : '' },
          h('td', { class: 'check' }, box),
          h(
            'td',
            { class: 'name' },
            h('a', { class: 'run-link', href: runHash(run.id), title: run.id }, run.name),
            run.collection !== collection || !collection
              ? h('div', { class: 'sub' }, `${run.scenario} / ${run.collection_display_name || run.collection}`)
              : null,
          ),
          h('td', null, statusBadge(run.status)),
          h('td', { class: 'nowrap' }, formatDate(run.start_time)),
          h('td', { class: 'num nowrap' }, formatDuration(runDuration(run))),
          params.map((name, index) => {
            const value = run.parameters[name];
            return h(
              'td',
              { class: `param-col ${asNumber(value) === null ? '' : 'num'} ${index === 0 ? 'first-of-group' : ''}` },
              value === undefined ? h('span', { class: 'missing' }, '—') : value,
            );
          }),
          metrics.map((name, index) =>
            h(
              'td',
              { class: `num metric-col ${index === 0 ? 'first-of-group' : ''}` },
              run.metrics[name] === undefined
                ? h('span', { class: 'missing' }, '—')
                : formatMetric(run.metrics[name], formats.get(name)),
            ),
          ),
        );
        row.addEventListener('click', (event) => {
          if (event.target.closest('a, input, button, label')) return;
          box.checked = !box.checked;
          box.dispatchEvent(new Event('change'));
        });
        body.append(row);
      }
      if (!rows.length) {
        const message = view.error
          ? 'The runs could not be listed: see the message above.'
          : view.q || view.tag || view.status
            ? 'No run matches these filters.'
            : 'No runs in this collection yet.';
        body.append(
          h('tr', { class: 'empty-row' }, h('td', { colspan: String(5 + params.length + metrics.length) }, message)),
        );
      }
      table.replaceChildren(h('thead', null, params.length || metrics.length ? groups : null, head), body);
      const total = view.total;
      count.textContent = `${total.toLocaleString('en-US')} run${total === 1 ? '' : 's'}`;
      tableFoot.replaceChildren();
      if (total > rows.length) {
        tableFoot.append(
          h('span', { class: 'muted' }, `Showing ${rows.length.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`),
          h(
            'button',
            {
              type: 'button',
              class: 'button',
              id: 'show-more',
              onclick: () => {
                view.shown += PAGE_SIZE;
                load();
              },
            },
            `Show ${Math.min(PAGE_SIZE, total - rows.length)} more`,
          ),
        );
      }
      updateSelectionInfo();
    }

    function updateSelectionInfo() {
      const size = view.selected.size;
      compareButton.disabled = size === 0;
      compareButton.textContent = size ? `Compare ${size} run${size === 1 ? '' : 's'}` : 'Compare';
      clearButton.hidden = size === 0;
      selectionInfo.textContent = size ? `${size} selected` : 'Select runs to chart and compare them';
    }

    const chartsSoon = debounce(() => updateCharts(false), 120);

    function selectionChanged() {
      saveHash();
      updateSelectionInfo();
      const select = $('.select-all', table);
      if (select) {
        const boxes = [...table.querySelectorAll('input.select-run')];
        const checked = boxes.filter((box) => box.checked).length;
        select.checked = boxes.length > 0 && checked === boxes.length;
        select.indeterminate = checked > 0 && checked < boxes.length;
      }
      for (const row of table.querySelectorAll('tr[data-run-id]')) {
        const selected = view.selected.has(row.dataset.runId);
        row.classList.toggle('selected', selected);
        const box = $('input.select-run', row);
        if (box) box.checked = selected;
      }
      chartsSoon();
    }

    function colorOf(run) {
      const index = [...view.selected].indexOf(run.id);
      return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
    }

    async function updateCharts(force) {
      const ids = [...view.selected].filter((id) => view.known.has(id));
      const charted = ids.slice(0, MAX_CHARTED_RUNS);
      const runs = charted.map((id) => view.known.get(id));
      const running = runs.some((run) => run.status === 'RUNNING');
      const key = charted.join(',');
      if (!force && key === view.chartKey && !running && !view.chartsLive) return;
      view.chartKey = key;
      view.chartsLive = running;
      chartsTitle.textContent = charted.length ? `Charts · ${charted.length} selected run${charted.length === 1 ? '' : 's'}` : 'Charts';
      if (!charted.length) {
        purgeCharts(charts);
        charts.replaceChildren();
        chartsHint.textContent = 'Select runs with the checkboxes to chart their metrics: one chart per metric, one line per run.';
        chartsHint.hidden = false;
        setError('charts', null);
        return;
      }
      chartsHint.hidden = ids.length <= MAX_CHARTED_RUNS;
      chartsHint.textContent = `Charting the first ${MAX_CHARTED_RUNS} of ${ids.length} selected runs.`;
      const seq = ++view.chartSeq;
      try {
        const body = await api('/api/metrics', charted.map((id) => ['run', id]));
        if (view.dead || seq !== view.chartSeq) return;
        setError('charts', null);
        const drawn = renderMetricCharts(charts, runs, body.runs || {}, colorOf, 'collection');
        if (!drawn) {
          chartsHint.hidden = false;
          chartsHint.textContent = 'The selected runs have logged no metrics yet.';
        }
      } catch (error) {
        if (view.dead || seq !== view.chartSeq) return;
        view.chartKey = null;
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

    async function load() {
      const seq = ++view.loadSeq;
      const params = [
        ...scopeQuery(scenario, collection),
        ['q', view.q],
        ['tag', view.tag],
        ['status', view.status],
        ['sort', view.sort],
        ['dir', view.dir],
        ['limit', String(view.shown)],
      ];
      try {
        const { body, text } = await apiRaw('/api/runs', params);
        if (view.dead || seq !== view.loadSeq) return;
        view.error = null;
        setError('view', null);
        if (text !== view.text) {
          view.text = text;
          view.runs = body.runs;
          view.total = body.total;
          for (const run of view.runs) view.known.set(run.id, run);
          findColumns(body.columns);
          renderTable();
        }
      } catch (error) {
        if (view.dead || seq !== view.loadSeq) return;
        view.error = error.message;
        view.text = null;
        view.runs = [];
        view.total = 0;
        setError('view', error.message);
        findColumns(null);
        renderTable();
      }
      await fetchHiddenSelected();
      if (!view.dead) await updateCharts(false);
    }

    view.start = () => {
      updateSelectionInfo();
      load();
    };
    view.refresh = () => load();
    view.destroy = () => {
      view.dead = true;
      purgeCharts(charts);
    };
    return view;
  }

  // ------------------------------------------------ one run

  function keyValueTable(id, rows, emptyText) {
    const body = h('tbody');
    for (const [name, value] of rows) {
      body.append(h('tr', null, h('th', { scope: 'row' }, name), h('td', null, value === null || value === undefined || value === '' ? '—' : value)));
    }
    if (!rows.length) body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: '2' }, emptyText)));
    return h('table', { id, class: 'data-table kv-table' }, body);
  }

  function runView(route) {
    const id = route.segments.slice(1).join('/');
    const view = { dead: false, text: null, chartsLive: false, run: null };
    const main = $('#main');
    const root = h('div', { id: 'run-page' });
    const charts = h('div', { id: 'run-charts', class: 'chart-grid' });
    const chartsHint = h('p', { class: 'muted charts-hint', hidden: true });

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
        ['Name', run.name],
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
          h('span', { class: 'title-with-badge' }, h('span', null, run.name), statusBadge(run.status)),
          [addButton],
          `Started ${formatDate(run.start_time)} · ${formatDuration(runDuration(run))}`,
        ),
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
        h('section', { class: 'charts-section' }, h('div', { class: 'section-head' }, h('h2', null, 'Charts')), chartsHint, charts),
      );
    }

    async function loadCharts(run) {
      try {
        const body = await api('/api/metrics', [['run', run.id]]);
        if (view.dead) return;
        setError('charts', null);
        const drawn = renderMetricCharts(charts, [run], body.runs || {}, () => PALETTE[0], `run|${run.id}`);
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

  // ------------------------------------------------ the compare board

  function boardView(route) {
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

    exportPng.addEventListener('click', () => runExport(exportPng, exportBoardPng));
    exportHtml.addEventListener('click', () => runExport(exportHtml, exportBoardHtml));

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
              h('a', { class: 'run-link', href: runHash(run.id), title: run.id }, run.name),
              h('button', {
                type: 'button',
                class: 'remove-run icon-button',
                dataset: { runId: run.id },
                title: 'Remove this run from the board',
                'aria-label': `Remove ${run.name} from the board`,
                onclick: () => removeRun(run.id),
              }, '×'),
            ),
            h('div', { class: 'sub' }, `${run.scenario} / ${run.collection_display_name || run.collection}`),
            h('div', { class: 'sub' }, formatDate(run.start_time)),
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

    // ---------------------------------------- exports

    function boardTitle() {
      return `Compare board · ${view.runs.length} run${view.runs.length === 1 ? '' : 's'}`;
    }

    function exportStamp() {
      const path = state.db ? state.db.path : '';
      return `${path ? `${path} · ` : ''}exported ${formatDate(new Date().toISOString())}`;
    }

    /* One PNG of every chart on the board, two to a row, each under its title. */
    async function exportBoardPng() {
      if (!plotlyReady()) throw new Error('Plotly did not load');
      const cards = [...charts.querySelectorAll(':scope > .board-card')];
      if (!cards.length) throw new Error('add a chart to the board first');
      const width = 760;
      const height = 420;
      const gap = 24;
      const titleHeight = 30;
      const headHeight = 72;
      const columns = cards.length > 1 ? 2 : 1;
      const rows = Math.ceil(cards.length / columns);
      const images = await Promise.all(
        cards.map((card) => window.Plotly.toImage($('.board-chart', card), { format: 'png', width, height, scale: 1 })),
      );
      const canvas = document.createElement('canvas');
      canvas.width = gap + columns * (width + gap);
      canvas.height = headHeight + rows * (titleHeight + height + gap) + gap;
      const context = canvas.getContext('2d');
      context.fillStyle = '#f6f7f9';
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.fillStyle = '#0f172a';
      context.font = `600 22px ${FONT}`;
      context.fillText(boardTitle(), gap, 38);
      context.fillStyle = '#64748b';
      context.font = `13px ${FONT}`;
      context.fillText(exportStamp(), gap, 60);
      for (let index = 0; index < cards.length; index += 1) {
        const image = new Image();
        image.src = images[index];
        await image.decode();
        const x = gap + (index % columns) * (width + gap);
        const y = headHeight + Math.floor(index / columns) * (titleHeight + height + gap);
        context.fillStyle = '#ffffff';
        context.fillRect(x, y, width, titleHeight + height);
        context.strokeStyle = '#e2e8f0';
        context.strokeRect(x + 0.5, y + 0.5, width - 1, titleHeight + height - 1);
        context.fillStyle = '#0f172a';
        context.font = `600 14px ${FONT}`;
        context.fillText($('.chart-title', cards[index]).textContent, x + 14, y + 21, width - 28);
        context.drawImage(image, x, y + titleHeight, width, height);
      }
      const blob = await new Promise((resolve, reject) =>
        canvas.toBlob((result) => (result ? resolve(result) : reject(new Error('the image could not be made'))), 'image/png'),
      );
      download(blob, 'sapdi-board.png');
    }

    async function fetchText(url) {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
      return response.text();
    }

    /*
     * One HTML file that opens offline with no server: Plotly's script, the page's style,
     * the table and each chart's data and layout inlined. "</script" in inlined script and
     * "<" in inlined JSON are escaped, so no name can end a script element early.
     */
    async function exportBoardHtml() {
      const [plotlySource, css] = await Promise.all([fetchText('/static/plotly.min.js'), fetchText('/static/app.css')]);
      const tableCopy = table.cloneNode(true);
      for (const button of tableCopy.querySelectorAll('button')) button.remove();
      for (const link of tableCopy.querySelectorAll('a')) link.replaceWith(h('span', { class: 'run-name' }, link.textContent));
      const cards = [...charts.querySelectorAll(':scope > .board-card')];
      const figures = cards.map((card) => {
        const div = $('.board-chart', card);
        return { data: div.data || [], layout: div.layout || {} };
      });
      const page = h(
        'div',
        { class: 'export', id: 'board' },
        h('div', { class: 'page-head' }, h('div', { class: 'page-title' }, h('h1', null, boardTitle()), h('div', { class: 'subtitle' }, exportStamp()))),
        h('section', { class: 'card' }, h('div', { class: 'section-head' }, h('h2', null, 'Runs side by side')), h('div', { class: 'table-wrap' }, tableCopy)),
        cards.length
          ? h(
            'section',
            { class: 'card board-canvas' },
            h('div', { class: 'section-head' }, h('h2', null, 'Charts')),
            h(
              'div',
              { class: 'chart-grid' },
              cards.map((card) => {
                const div = $('.board-chart', card);
                return h(
                  'div',
                  { class: 'board-card chart-card' },
                  h('div', { class: 'chart-head' }, h('span', { class: 'chart-title' }, $('.chart-title', card).textContent)),
                  h('div', { class: 'board-chart', dataset: { kind: div.dataset.kind, metric: div.dataset.metric, parameter: div.dataset.parameter } }),
                );
              }),
            ),
          )
          : null,
      );
      const json = JSON.stringify(figures)
        .replace(/</g, '\\u003c')
        .replace(/\u2028/g, '\\u2028')
        .replace(/\u2029/g, '\\u2029');
      const script = plotlySource.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
      const boot =
        '(function(){var figures=JSON.parse(document.getElementById("board-data").textContent);' +
        'var divs=document.querySelectorAll(".board-chart");' +
        'for(var i=0;i<divs.length&&i<figures.length;i++){' +
        'Plotly.newPlot(divs[i],figures[i].data,figures[i].layout,{responsive:true,displaylogo:false});}})();';
      const html =
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
        `${h('title', null, boardTitle()).outerHTML}\n` +
        `<style>\n${css.replace(/<\/(style)/gi, '<\\/$1')}\n</style>\n` +
        `<script>\n${script}\n</script>\n</head>\n<body class="exported">\n${page.outerHTML}\n` +
        `<script type="application/json" id="board-data">${json}</script>\n` +
        `<script>${boot}</script>\n</body>\n</html>\n`;
      download(new Blob([html], { type: 'text/html;charset=utf-8' }), 'sapdi-board.html');
    }

    return view;
  }

  function notFoundView(route) {
    const view = { dead: false };
    view.start = () => {
      setError('view', `There is no page at #${route.path}; the explorer has #/, #/collection, #/run/ID and #/board.`);
      $('#main').append(emptyState('Page not found', null, h('a', { class: 'button', href: '#/' }, 'Back to the collections')));
    };
    view.refresh = async () => {};
    view.destroy = () => {
      view.dead = true;
    };
    return view;
  }

  // ---------------------------------------------------------------- routing and polling

  function showRoute() {
    const route = parseRoute(window.location.hash || '#/');
    if (state.view) state.view.destroy();
    for (const source of ['view', 'charts', 'export']) setError(source, null);
    const main = $('#main');
    main.replaceChildren();
    const kind = route.segments[0];
    let view;
    if (!kind) view = homeView(route);
    else if (kind === 'collection') view = collectionView(route);
    else if (kind === 'run' && route.segments.length > 1) view = runView(route);
    else if (kind === 'board') view = boardView(route);
    else view = notFoundView(route);
    state.view = view;
    markActiveCollection();
    if (kind !== 'board') updateBoardLink();
    view.start();
    window.scrollTo(0, 0);
  }

  let pollTimer = null;
  let polling = false;

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (state.live) pollTimer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    if (!state.live) return;
    if (polling) {
      schedulePoll();
      return;
    }
    polling = true;
    try {
      await Promise.all([refreshHeader(), refreshSidebar()]);
      const view = state.view;
      if (view && !view.dead && view.refresh) await view.refresh();
    } catch (error) {
      setError('page', `The page hit an unexpected error: ${error.message}`);
    } finally {
      polling = false;
      schedulePoll();
    }
  }

  async function init() {
    if (!plotlyReady()) {
      setError('plotly', 'Plotly\'s JavaScript (/static/plotly.min.js) did not load, so charts cannot be drawn; reinstall with pip install "sapdi-local[ui]".');
    }
    const live = $('#live-toggle');
    state.live = live.checked;
    live.addEventListener('change', () => {
      state.live = live.checked;
      document.body.classList.toggle('not-live', !state.live);
      if (state.live) poll();
      else clearTimeout(pollTimer);
    });
    window.addEventListener('hashchange', showRoute);
    await Promise.all([refreshHeader(), refreshSidebar()]);
    showRoute();
    schedulePoll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
