/*
 * The collection view's state: a plain object made by collectionState(route), and the
 * functions that turn it into the address and into the API's query. The parts of the view
 * (runs-table.js, collection-filters.js, parcoords.js, collection-charts.js) read and write
 * its fields; collection.js wires them.
 *
 *   scenario, collection   the scope (both empty: every run)
 *   filter, tag, status    the filters; filter is the filter box's text (filter.js)
 *   sort, dir              the table's order, done by the API
 *   shown, pageSize        how many runs the table asks for, and how many more a press adds
 *   runs, total, columns   the API's last answer: the rows, how many match, the column names
 *   known                  every run seen, by id, so selected runs are charted when hidden
 *   selected, hidden       the selected run ids, and the hidden columns ('param:NAME', ...)
 *   pc, brush, keep        the parallel-coordinates chart, its brushed ranges, and the test
 *                          of a run against them (null while nothing is brushed)
 *   chartOptions           the line charts' options (chart-options.js)
 *   text, loadSeq          the API's last answer as text, and the number of the last request
 *   error, filterError     why the runs could not be listed, or why the expression is wrong
 *   dead                   the page left the view: answers that arrive later are dropped
 */

import { scopeQuery } from '../api.js';
import { enc, collectionHash } from '../routes.js';
import { chartOptionsFromRoute, chartOptionPairs } from '../chart-options.js';
import { filterFromRoute, filterPair, filterParams } from './filter.js';
import { parcoordsFromRoute, parcoordsPairs } from './parcoords.js';

export const PAGE_SIZE = 200;

export function collectionState(route) {
  const sort = route.get('sort') || 'start';
  const dir = route.get('dir') === 'asc' || route.get('dir') === 'desc' ? route.get('dir') : null;
  return {
    dead: false,
    scenario: route.get('scenario'),
    collection: route.get('collection'),
    runs: [],
    total: 0,
    known: new Map(),
    selected: new Set(route.list('sel', ',')),
    hidden: new Set(route.list('hide', ',')),
    sort,
    // Sorting and paging happen on the server: the table asks for the first view.shown runs
    // in view.sort order, so a collection of 10,000 runs costs only the rows on the page.
    dir: dir || (sort === 'start' ? 'desc' : 'asc'),
    filter: filterFromRoute(route),
    tag: route.get('tag'),
    status: route.get('status'),
    pc: parcoordsFromRoute(route),
    chartOptions: chartOptionsFromRoute(route),
    keep: null,
    pageSize: PAGE_SIZE,
    shown: PAGE_SIZE,
    text: null,
    loadSeq: 0,
    columns: { params: [], tags: [], metrics: [] },
    error: null,
    filterError: null,
  };
}

/* The view's address: its scope, filters, order, hidden columns, selection and charts. */
export function collectionAddress(view) {
  const defaultSort = view.sort === 'start' && view.dir === 'desc';
  return collectionHash(view.scenario, view.collection, [
    filterPair(view.filter),
    ['tag', view.tag],
    ['status', view.status],
    ['sort', defaultSort ? '' : view.sort],
    ['dir', defaultSort ? '' : view.dir],
    ['hide', [...view.hidden].map(enc).join(','), true],
    ['sel', [...view.selected].map(enc).join(','), true],
    ...parcoordsPairs(view.pc),
    ...chartOptionPairs(view.chartOptions),
  ]);
}

/* The API query of the table's rows, without the page (limit, offset). */
export function runsQuery(view) {
  return [
    ...scopeQuery(view.scenario, view.collection),
    ...filterParams(view.filter),
    ['tag', view.tag],
    ['status', view.status],
    ['sort', view.sort],
    ['dir', view.dir],
  ];
}

/* Take the API's answer as the table's rows (columns are the table's: runs-table.js). */
export function takeRuns(view, body) {
  view.runs = body.runs;
  view.total = body.total;
  for (const run of view.runs) view.known.set(run.id, run);
}
