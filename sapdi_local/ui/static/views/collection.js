/*
 * #/collection : the runs of one collection (or of all), filtered, sorted, selected and
 * charted.
 *
 * This module wires the view's parts: its state (collection-state.js, read from the address
 * and kept there), the filters (collection-filters.js), the table (runs-table.js), the
 * selection (collection-selection.js), the parallel-coordinates chart (parcoords.js), the
 * CSV download (table-csv.js) and the charts (collection-charts.js). It asks the API for
 * the rows and tells each part what changed. collectionView(route) answers the view main.js
 * drives: start(), refresh(), destroy() and dead.
 */

import { h, pageHead, $ } from '../dom.js';
import { displayNameOf } from '../state.js';
import { apiRaw, setError } from '../api.js';
import { replaceHash } from '../routes.js';
import { PAGE_SIZE, collectionState, collectionAddress, runsQuery, takeRuns } from './collection-state.js';
import { collectionFilters } from './collection-filters.js';
import { collectionCharts } from './collection-charts.js';
import { selectionBar } from './collection-selection.js';
import { runsTable } from './runs-table.js';
import { parcoordsPanel } from './parcoords.js';
import { csvButton } from './table-csv.js';

export function collectionView(route) {
  const view = collectionState(route);
  const { scenario, collection } = view;
  const title = collection ? displayNameOf(scenario, collection) || collection : 'All runs';
  const count = h('span', { class: 'muted' });
  const crumbs = [h('a', { href: '#/' }, 'Collections')];
  if (scenario) crumbs.push(h('span', { class: 'sep' }, '/'), h('span', null, scenario));

  /* A change of what the table lists: its first page again, in the address, from the API. */
  function reload() {
    view.shown = PAGE_SIZE;
    saveHash();
    load();
  }

  const filters = collectionFilters(view, { onChange: reload });
  const selection = selectionBar(view, { onChange: () => selectionChanged() });
  const table = runsTable(view, {
    collection,
    count,
    onSort: reload,
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
  const csv = csvButton(() => ({ params: runsQuery(view), shown: table.visibleColumns(), keep: view.keep, collection }));

  $('#main').append(
    pageHead(crumbs, title, selection.elements, count),
    h('div', { class: 'filter-row' }, filters.box),
    h('div', { class: 'toolbar' }, filters.tag, filters.status, table.columnsButton, parcoords.toggle, csv),
    h('div', { class: 'card table-card' }, h('div', { class: 'table-wrap' }, table.table), table.foot),
    parcoords.section,
    charts.section,
  );

  function saveHash() {
    replaceHash(collectionAddress(view));
  }

  function selectionChanged() {
    saveHash();
    selection.update();
    table.syncSelection();
    charts.soon();
  }

  function showRuns(body) {
    takeRuns(view, body);
    table.setColumns(body.columns);
    parcoords.update();
    table.render();
  }

  /* A malformed expression is shown under the box, and the table keeps its rows. */
  function showFailure(error) {
    if (error.details && error.details.parameter === 'where') {
      view.filterError = error.message;
      filters.showError(error, view.filter);
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
      const { body, text } = await apiRaw('/api/runs', [...runsQuery(view), ['limit', String(view.shown)]]);
      if (view.dead || seq !== view.loadSeq) return;
      view.error = null;
      view.filterError = null;
      filters.clearError();
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

  return {
    get dead() {
      return view.dead;
    },
    start() {
      selection.update();
      parcoords.update();
      load();
    },
    refresh: () => load(),
    destroy() {
      view.dead = true;
      charts.destroy();
      parcoords.destroy();
    },
  };
}
