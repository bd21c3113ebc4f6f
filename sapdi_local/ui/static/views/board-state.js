/*
 * The compare board's state: a plain object made by boardState(), and the functions that
 * read or change it. Nothing here draws; board.js hands the object to the parts that do
 * (board-table.js, board-charts.js, board-export.js).
 *
 *   view.board        {runs: [ID], charts: [{kind, metric, parameter}]}, what the address
 *                     keeps (routes.js: boardHash, boardFromRoute)
 *   view.runs         the board's runs as the API answered, in the board's order
 *   view.text         the API's last answer as text, to skip drawing what did not change
 *   view.histories    the metric histories the "over" charts need, by run id
 *   view.historiesKey the runs and metrics those histories are of
 *   view.live         whether a run was still running when the histories were fetched
 *   view.dead         the page left the board: answers that arrive later are dropped
 */

import { collator, unique } from '../format.js';
import { systemParameters } from '../state.js';
import { apiRaw, api } from '../api.js';
import { KINDS, enc, replaceHash, boardHash, chartKey, rememberBoard } from '../routes.js';
import { PALETTE } from '../charts.js';

/* The state of a board read from the address's `board` ({runs, charts}). */
export function boardState(board) {
  return { board, runs: [], text: null, histories: {}, historiesKey: null, live: false, dead: false };
}

/* Keep the board in the address (without a history entry) and in localStorage. */
export function saveBoard(view) {
  replaceHash(boardHash(view.board));
  rememberBoard(view.board);
}

/* A run's colour: its place on the board, so it keeps its colour in every chart. */
export function runColor(view, run) {
  const index = view.board.runs.indexOf(run.id);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}

export function metricNames(view) {
  return unique(view.runs.flatMap((run) => Object.keys(run.metrics || {}))).sort(collator.compare);
}

/* The parameters of the board's runs, without the system ones (start, end). */
export function parameterNames(view) {
  const system = systemParameters();
  return unique(view.runs.flatMap((run) => Object.keys(run.parameters || {})))
    .filter((name) => !system.has(name))
    .sort(collator.compare);
}

export function boardTitle(view) {
  return `Compare board · ${view.runs.length} run${view.runs.length === 1 ? '' : 's'}`;
}

/* Whether `chart` is complete: a known kind, a metric, and a parameter for "versus". */
export function isCompleteChart(chart) {
  return Boolean(KINDS[chart.kind] && chart.metric && (chart.kind !== 'versus' || chart.parameter));
}

/* The place of a chart equal to `chart` on the board, or -1. */
export function chartIndex(view, chart) {
  return view.board.charts.findIndex((other) => chartKey(other) === chartKey(chart));
}

export function addChart(view, chart) {
  view.board.charts.push(chart);
  saveBoard(view);
}

export function removeChart(view, key) {
  view.board.charts = view.board.charts.filter((other) => chartKey(other) !== key);
  saveBoard(view);
}

export function removeRun(view, id) {
  view.board.runs = view.board.runs.filter((other) => other !== id);
  view.runs = view.runs.filter((run) => run.id !== id);
  saveBoard(view);
}

/*
 * The board's runs from the API: {found (a Map of id to run), text (the answer as text),
 * problem (why run ids of the board are not shown, or null)}; null once the view is dead.
 */
export async function fetchBoardRuns(view) {
  const { body, text } = await apiRaw('/api/runs', view.board.runs.map((id) => ['run', id]));
  if (view.dead) return null;
  const found = new Map(body.runs.map((run) => [run.id, run]));
  const missing = view.board.runs.filter((id) => !found.has(id));
  let problem = null;
  if (missing.length) {
    // The API's answer for the run alone says why it is missing (not found, unreadable).
    try {
      await api(`/api/runs/${enc(missing[0])}`);
    } catch (error) {
      problem = error.message;
    }
    if (missing.length > 1 && problem) problem += ` (and ${missing.length - 1} more run ids on the board are not in the database)`;
  }
  return { found, text, problem };
}

/* Take the API's answer as the board's runs, in the board's order. */
export function setRuns(view, found, text) {
  view.text = text;
  view.runs = view.board.runs.filter((id) => found.has(id)).map((id) => found.get(id));
}

/*
 * Fetch the histories of the metrics charted over steps or time, unless they are already
 * here for these runs and metrics and no run was running (a running run's history grows);
 * `force` fetches them anyway.
 */
export async function loadHistories(view, force) {
  const metrics = unique(view.board.charts.filter((chart) => chart.kind === 'over').map((chart) => chart.metric));
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
