/*
 * The runs table as a CSV file: every run the filters select (all pages, fetched from the
 * API), with the columns on view: name, id, status, start_time, duration_seconds, then
 * params.NAME, tags.NAME and metrics.NAME for each parameter, tag and metric shown.
 *
 * Values are written as they are stored (metrics at full precision); a field holding a
 * comma, a quote, a line break or spaces at its ends is quoted (RFC 4180, lines end in
 * CRLF). Text starting with = + - @ or a tab or carriage return, which a spreadsheet would
 * run as a formula, gets a leading ' (but for plain numbers such as -0.5).
 *
 * csvButton(request) is the table's "Download CSV" button; request() answers what the
 * file holds when it is pressed: {params, shown, keep, collection} (downloadRunsCsv's).
 */

import { h, download } from '../dom.js';
import { api, setError } from '../api.js';

const PAGE = 5000;
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const FORMULA_START = /^[=+\-@\t\r]/;

/* One field of a CSV line. */
export function csvField(value) {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value !== 'number' && FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/* The CSV text of `runs` with the columns `shown` ({params, tags, metrics}). */
export function runsCsv(runs, shown) {
  const header = [
    'name', 'id', 'status', 'start_time', 'duration_seconds',
    ...shown.params.map((name) => `params.${name}`),
    ...shown.tags.map((name) => `tags.${name}`),
    ...shown.metrics.map((name) => `metrics.${name}`),
  ];
  const lines = [header];
  for (const run of runs) {
    lines.push([
      run.name, run.id, run.status, run.start_time, run.duration_seconds,
      ...shown.params.map((name) => run.parameters[name]),
      ...shown.tags.map((name) => (run.tags || {})[name]),
      ...shown.metrics.map((name) => run.metrics[name]),
    ]);
  }
  return lines.map((fields) => fields.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/* Every run the API selects with `params` (the table's filters and order), page by page. */
export async function allRuns(params) {
  const runs = [];
  for (;;) {
    const body = await api('/api/runs', [...params, ['limit', String(PAGE)], ['offset', String(runs.length)]]);
    runs.push(...body.runs);
    if (!body.runs.length || runs.length >= body.total) return runs;
  }
}

/* A file name from a collection's name: letters, digits, dots, dashes and underscores. */
export function csvFileName(collection) {
  const base = String(collection || 'runs').replace(/[^\p{L}\p{N}._-]+/gu, '_').replace(/^[._]+/, '');
  return `${base || 'runs'}.csv`;
}

/* Fetch, write and download; `keep` (if any) leaves out runs outside the brushed ranges. */
export async function downloadRunsCsv(params, shown, keep, collection) {
  const all = await allRuns(params);
  const runs = keep ? all.filter(keep) : all;
  download(new Blob([runsCsv(runs, shown)], { type: 'text/csv;charset=utf-8' }), csvFileName(collection));
  return runs.length;
}

/* The "Download CSV" button; a failure is shown in the page's messages. */
export function csvButton(request) {
  const button = h('button', { id: 'download-csv', type: 'button', class: 'button', title: 'Every run the filters select, with the columns shown' }, 'Download CSV');
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Preparing CSV…';
    try {
      const { params, shown, keep, collection } = request();
      await downloadRunsCsv(params, shown, keep, collection);
      setError('export', null);
    } catch (error) {
      setError('export', `The CSV could not be made: ${error.message}`);
    } finally {
      button.disabled = false;
      button.textContent = 'Download CSV';
    }
  });
  return button;
}
