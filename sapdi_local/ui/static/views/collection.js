/* #/collection : the runs of one collection (or of all), filtered, sorted, selected and charted. */

import { h, debounce, statusBadge, unreadableMark, pageHead, $ } from '../dom.js';
import { formatDate, formatDuration, formatMetric, asNumber, runDuration, labelFormat, runName } from '../format.js';
import { state, systemParameters, displayNameOf } from '../state.js';
import { apiRaw, api, scopeQuery, setError } from '../api.js';
import { enc, collectionHash, runHash, replaceHash, openBoardWith } from '../routes.js';
import { PALETTE, purgeCharts, renderMetricCharts } from '../charts.js';

const PAGE_SIZE = 200;
const MAX_CHARTED_RUNS = 40;

const STATUSES = ['RUNNING', 'FINISHED', 'FAILED', 'INTERRUPTED', 'TERMINATED', 'KILLED'];

export function collectionView(route) {
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
        type: 'checkbox', class: 'select-run', checked: view.selected.has(run.id), 'aria-label': `Select run ${runName(run)}`,
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
          h('a', { class: 'run-link', href: runHash(run.id), title: run.id }, runName(run)),
          unreadableMark(run),
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
