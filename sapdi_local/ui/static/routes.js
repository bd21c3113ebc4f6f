/*
 * Routes live in the address's hash, so every view can be bookmarked and shared:
 *
 *   #/                                   the collections of every scenario
 *   #/collection?scenario=S&collection=C the runs of one collection (both optional: without
 *       them, every run), with  where=EXPRESSION  (the filter box holding an expression of
 *       the search language) or  q=TEXT  (the box searching names), tag=KEY=VALUE,
 *       status=STATUS  (filters),  sort=COLUMN&dir=asc|desc  (COLUMN: name, status, start,
 *       duration, param:NAME, tag:NAME, metric:NAME),  hide=COLUMN,COLUMN  (hidden columns),
 *       sel=ID,ID  (selected runs),  pc=PARAM,PARAM&pcm=METRIC  (the parallel-coordinates
 *       chart, open, with its axes and colour),  log=1  and  smooth=0.6  (line charts on a
 *       log scale, smoothed: see chart-options.js)
 *   #/run/ID[?log=1&smooth=0.6]          one run: context, parameters, tags, labels, metrics
 *   #/board?runs=ID,ID&chart=KIND:METRIC[:PARAMETER]&chart=...
 *       the compare board; KIND is across (a metric across runs), versus (a metric against a
 *       parameter, which follows as a third part) or over (a metric over steps or time)
 *
 * Every value is percent-encoded on its own (encodeURIComponent) before it is joined with
 * "," or ":", so names may hold any character. The board's address is also remembered in
 * localStorage, so "Compare" adds runs to the board that is already there.
 */

import { h, $ } from './dom.js';
import { unique } from './format.js';

const BOARD_KEY = 'sapdi-local.board';

export const KINDS = {
  across: 'Metric across runs',
  versus: 'Metric against a parameter',
  over: 'Metric over steps or time',
};

export const enc = encodeURIComponent;

function dec(text) {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    return text;
  }
}

export function parseRoute(hash) {
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

export function collectionHash(scenario, collection, extra) {
  return makeHash('/collection', [['scenario', scenario], ['collection', collection], ...(extra || [])]);
}

export function runHash(id, extra) {
  return makeHash(`/run/${enc(id)}`, extra || []);
}

/* Put the current view's state in the address without a new history entry or a re-render. */
export function replaceHash(hash) {
  if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
}

// ---------------------------------------------------------------- the board's address

export function boardHash(board) {
  const pairs = [['runs', board.runs.map(enc).join(','), true]];
  for (const chart of board.charts) {
    const parts = [chart.kind, chart.metric];
    if (chart.kind === 'versus') parts.push(chart.parameter);
    pairs.push(['chart', parts.map(enc).join(':'), true]);
  }
  return makeHash('/board', pairs);
}

export function boardFromRoute(route) {
  const charts = [];
  for (const value of route.all('chart')) {
    const [kind, metric, parameter] = value.split(':').map(dec);
    if (!KINDS[kind] || !metric || (kind === 'versus' && !parameter)) continue;
    const chart = { kind, metric, parameter: kind === 'versus' ? parameter : '' };
    if (!charts.some((other) => chartKey(other) === chartKey(chart))) charts.push(chart);
  }
  return { runs: unique(route.list('runs', ',')), charts };
}

export function chartKey(chart) {
  return JSON.stringify([chart.kind, chart.metric, chart.parameter || '']);
}

export function rememberBoard(board) {
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

export function updateBoardLink(board) {
  const current = board || rememberedBoard();
  const link = $('#board-link');
  link.href = boardHash(current);
  link.replaceChildren('Board', h('span', { class: 'pill' }, String(current.runs.length)));
}

/* Add runs to the remembered board (runs already there stay) and open it. */
export function openBoardWith(runIds) {
  const board = rememberedBoard();
  board.runs = unique([...board.runs, ...runIds]);
  rememberBoard(board);
  window.location.hash = boardHash(board);
}
