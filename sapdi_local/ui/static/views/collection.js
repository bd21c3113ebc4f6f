/*
 * #/collection : the runs of one collection (or of all), filtered, sorted, selected and
 * charted. The table is runs-table.js, the filter box filter.js, the parallel-coordinates
 * chart parcoords.js, the CSV download table-csv.js and the charts collection-charts.js;
 * this module holds the view's state, keeps it in the address (see routes.js) and asks the
 * API for the rows.
 */

import { h, debounce, pageHead, $ } from '../dom.js';
import { state, displayNameOf } from '../state.js';
import { apiRaw, scopeQuery, setError } from '../api.js';
import { enc, collectionHash, replaceHash, openBoardWith } from '../routes.js';
import { chartOptionsFromRoute, chartOptionPairs } from '../chart-options.js';
import { collectionCharts } from './collection-charts.js';
import { filterBox, filterFromRoute, filterPair, filterParams } from './filter.js';
import { runsTable } from './runs-table.js';
import { parcoordsFromRoute, parcoordsPairs, parcoordsPanel } from './parcoords.js';
import { downloadRunsCsv } from './table-csv.js';

const PAGE_SIZE = 200;

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
    filter: filterFromRoute(route),
    tag: route.get('tag'),
    status: route.get('status'),
    pc: parcoordsFromRoute(route),
    chartOptions: chartOptionsFromRoute(route),
    keep: null, // the brushing's test of a run, while ranges are brushed
    pageSize: PAGE_SIZE,
    shown: PAGE_SIZE,
    text: null,
    loadSeq: 0,
    columns: { params: [], tags: [], metrics: [] },
    error: null,
    filterError: null,
  };
  // Sorting and paging happen on the server: the table asks for the first view.shown runs
  // in view.sort order, so a collection of 10,000 runs costs only the rows on the page.
  if (!view.dir) view.dir = view.sort === 'start' ? 'desc' : 'asc';
  const main = $('#main');
  const title = collection ? displayNameOf(scenario, collection) || collection : 'All runs';
  const count = h('span', { class: 'muted' });
  const crumbs = [h('a', { href: '#/' }, 'Collections')];
  if (scenario) crumbs.push(h('span', { class: 'sep' }, '/'), h('span', null, scenario));

  const filter = filterBox(view.filter, (text) => {
    view.filter = text;
    refilter();
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
  const selectionInfo = h('span', { class: 'selection-info muted' });
  const clearButton = h('button', { type: 'button', class: 'button subtle', text: 'Clear selection' });
  const compareButton = h('button', { id: 'compare-selected', type: 'button', class: 'button primary', disabled: true }, 'Compare');
  const csvButton = h('button', { id: 'download-csv', type: 'button', class: 'button', title: 'Every run the filters select, with the columns shown' }, 'Download CSV');
  const table = runsTable(view, {
    collection,
    count,
    onSort: () => {
      view.shown = PAGE_SIZE;
      saveHash();
      load();
    },
    onColumns: () => {
      saveHash();
      table.render();
    },
    onSelect: () => selectionChanged(),
    onMore: () => {
      view.shown += PAGE_SIZE;
      load();
    },
  });
  const parcoords = parcoordsPanel(view, {
    onChange: () => saveHash(),
    onBrush: () => {
      view.keep = view.brush.size ? parcoords.passes : null;
      table.render();
    },
  });
  const charts = collectionCharts(view, { onOptions: () => saveHash() });

  main.append(
    pageHead(crumbs, title, [selectionInfo, clearButton, compareButton], count),
    h('div', { class: 'filter-row' }, filter.element),
    h(
      'div',
      { class: 'toolbar' },
      h('div', { class: 'field' }, tagInput),
      h('div', { class: 'field' }, statusSelect),
      table.columnsButton,
      parcoords.toggle,
      csvButton,
    ),
    h('div', { class: 'card table-card' }, h('div', { class: 'table-wrap' }, table.table), table.foot),
    parcoords.section,
    charts.section,
  );

  function saveHash() {
    const defaultSort = view.sort === 'start' && view.dir === 'desc';
    replaceHash(
      collectionHash(scenario, collection, [
        filterPair(view.filter),
        ['tag', view.tag],
        ['status', view.status],
        ['sort', defaultSort ? '' : view.sort],
        ['dir', defaultSort ? '' : view.dir],
        ['hide', [...view.hidden].map(enc).join(','), true],
        ['sel', [...view.selected].map(enc).join(','), true],
        ...parcoordsPairs(view.pc),
        ...chartOptionPairs(view.chartOptions),
      ]),
    );
  }

  /* The API query of the table's rows, without the page (limit, offset). */
  function query() {
    return [
      ...scopeQuery(scenario, collection),
      ...filterParams(view.filter),
      ['tag', view.tag],
      ['status', view.status],
      ['sort', view.sort],
      ['dir', view.dir],
    ];
  }

  const refilter = debounce(() => {
    view.shown = PAGE_SIZE;
    saveHash();
    load();
  }, 250);
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
  csvButton.addEventListener('click', async () => {
    csvButton.disabled = true;
    csvButton.textContent = 'Preparing CSV…';
    try {
      await downloadRunsCsv(query(), table.visibleColumns(), view.keep, collection);
      setError('export', null);
    } catch (error) {
      setError('export', `The CSV could not be made: ${error.message}`);
    } finally {
      csvButton.disabled = false;
      csvButton.textContent = 'Download CSV';
    }
  });

  function updateSelectionInfo() {
    const size = view.selected.size;
    compareButton.disabled = size === 0;
    compareButton.textContent = size ? `Compare ${size} run${size === 1 ? '' : 's'}` : 'Compare';
    clearButton.hidden = size === 0;
    selectionInfo.textContent = size ? `${size} selected` : 'Select runs to chart and compare them';
  }

  function selectionChanged() {
    saveHash();
    updateSelectionInfo();
    table.syncSelection();
    charts.soon();
  }

  function showRuns(body) {
    view.runs = body.runs;
    view.total = body.total;
    for (const run of view.runs) view.known.set(run.id, run);
    table.setColumns(body.columns);
    parcoords.update();
    table.render();
  }

  /* A malformed expression is shown under the box, and the table keeps its rows. */
  function showFailure(error) {
    if (error.details && error.details.parameter === 'where') {
      view.filterError = error.message;
      filter.showError(error, view.filter);
      setError('view', null);
      if (view.text === null) table.render();
      return;
    }
    view.error = error.message;
    view.text = null;
    setError('view', error.message);
    showRuns({ runs: [], total: 0, columns: null });
  }

  async function load() {
    const seq = ++view.loadSeq;
    try {
      const { body, text } = await apiRaw('/api/runs', [...query(), ['limit', String(view.shown)]]);
      if (view.dead || seq !== view.loadSeq) return;
      view.error = null;
      view.filterError = null;
      filter.clearError();
      setError('view', null);
      if (text !== view.text) {
        view.text = text;
        showRuns(body);
      }
    } catch (error) {
      if (view.dead || seq !== view.loadSeq) return;
      showFailure(error);
    }
    await charts.fetchHiddenSelected();
    if (!view.dead) await charts.update(false);
  }

  view.start = () => {
    updateSelectionInfo();
    parcoords.update();
    load();
  };
  view.refresh = () => load();
  view.destroy = () => {
    view.dead = true;
    charts.destroy();
    parcoords.destroy();
  };
  return view;
}
