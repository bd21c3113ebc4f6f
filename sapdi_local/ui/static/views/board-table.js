/*
 * The board's table: its runs side by side, a column per run and a row per field
 * (scenario, collection, status, then each parameter, metric and tag), rows whose values
 * differ highlighted, and "Only rows that differ" to hide the others.
 *
 * boardTable({onRemove}) makes the section; render(view) draws it from the board's state
 * (board-state.js); onRemove(id) follows a press of a run's ×.
 */

import { h, statusBadge, unreadableMark, emptyState } from '../dom.js';
import { collator, unique, formatDate, formatMetric, labelFormat, runName } from '../format.js';
import { systemParameters, systemTags } from '../state.js';
import { runHash } from '../routes.js';
import { metricNames, runColor } from './board-state.js';

/* The page's subtitle for the board's runs. */
export function boardSubtitle(runs) {
  return runs.length
    ? `${runs.length} run${runs.length === 1 ? '' : 's'} from ${unique(runs.map((run) => `${run.scenario}\u0000${run.collection}`)).length} collection(s) · rows that differ are highlighted`
    : 'No runs yet';
}

/* One row: `values` in run order, each shown by `display(rowKey, value)`. */
function boardRow(label, values, rowKey, display) {
  const texts = values.map((value) => (value === undefined || value === null ? null : String(value)));
  const differs = values.length > 1 && new Set(texts.map((text) => (text === null ? '\u0000missing' : text))).size > 1;
  return h(
    'tr',
    { class: differs ? 'differs' : 'same', dataset: { row: rowKey } },
    h('th', { scope: 'row' }, label),
    values.map((value, index) =>
      h('td', { class: typeof value === 'number' ? 'num' : '' }, texts[index] === null ? h('span', { class: 'missing' }, '—') : display(rowKey, value)),
    ),
  );
}

/* The head of a run's column: its colour, name, remove button, where it is from and when. */
function runHead(view, run, onRemove) {
  return h(
    'th',
    { class: 'run-head', dataset: { runId: run.id } },
    h(
      'div',
      { class: 'run-head-top' },
      h('span', { class: 'swatch', style: `background:${runColor(view, run)}` }),
      h('a', { class: 'run-link', href: runHash(run.id), title: run.id }, runName(run)),
      h('button', {
        type: 'button',
        class: 'remove-run icon-button',
        dataset: { runId: run.id },
        title: 'Remove this run from the board',
        'aria-label': `Remove ${runName(run)} from the board`,
        onclick: () => onRemove(run.id),
      }, '×'),
    ),
    h('div', { class: 'sub' }, `${run.scenario} / ${run.collection_display_name || run.collection}`),
    h('div', { class: 'sub' }, formatDate(run.start_time)),
    unreadableMark(run),
  );
}

export function boardTable({ onRemove }) {
  const table = h('table', { id: 'board-table', class: 'data-table board-table' });
  const hint = h('div', { class: 'board-table-hint' });
  const onlyDiffers = h('input', { type: 'checkbox', id: 'only-differs' });
  onlyDiffers.addEventListener('change', () => table.classList.toggle('only-differs', onlyDiffers.checked));
  const section = h(
    'section',
    { class: 'card' },
    h(
      'div',
      { class: 'section-head' },
      h('h2', null, 'Runs side by side'),
      h('label', { class: 'check-label' }, onlyDiffers, h('span', null, 'Only rows that differ')),
    ),
    h('div', { class: 'table-wrap' }, table),
    hint,
  );

  function render(view) {
    const runs = view.runs;
    if (!runs.length) {
      table.replaceChildren();
      hint.replaceChildren(
        emptyState(
          'The board is empty',
          'Select runs in a collection and press Compare: they are added to this board, next to the runs already here, from any collection or scenario.',
          h('a', { class: 'button', href: '#/' }, 'Choose a collection'),
        ),
      );
      return;
    }
    hint.replaceChildren();
    const system = systemParameters();
    const tagsSystem = systemTags();
    const metrics = metricNames(view);
    const formats = new Map(metrics.map((name) => [name, labelFormat(runs, name)]));
    const display = (rowKey, value) => {
      if (rowKey.startsWith('metric:')) return formatMetric(value, formats.get(rowKey.slice(7)));
      if (rowKey === 'status') return statusBadge(value);
      return String(value);
    };
    const row = (label, values, rowKey) => boardRow(label, values, rowKey, display);
    const head = h('tr', null, h('th', { class: 'corner' }, 'Run'), runs.map((run) => runHead(view, run, onRemove)));
    const width = String(runs.length + 1);
    const group = (label) => h('tr', { class: 'group-row' }, h('th', { colspan: width }, label));
    const params = unique(runs.flatMap((run) => Object.keys(run.parameters))).filter((name) => !system.has(name)).sort(collator.compare);
    const tags = unique(runs.flatMap((run) => Object.keys(run.tags))).filter((name) => !tagsSystem.has(name)).sort(collator.compare);
    const body = h(
      'tbody',
      null,
      group('Run'),
      row('Scenario', runs.map((run) => run.scenario), 'scenario'),
      row('Collection', runs.map((run) => run.collection_display_name || run.collection), 'collection'),
      row('Status', runs.map((run) => run.status), 'status'),
      params.length ? group('Parameters') : null,
      params.map((name) => row(name, runs.map((run) => run.parameters[name]), `param:${name}`)),
      metrics.length ? group('Metrics (last value)') : null,
      metrics.map((name) => row(name, runs.map((run) => run.metrics[name]), `metric:${name}`)),
      tags.length ? group('Tags') : null,
      tags.map((name) => row(name, runs.map((run) => run.tags[name]), `tag:${name}`)),
    );
    table.replaceChildren(h('thead', null, head), body);
  }

  return { section, table, render };
}
