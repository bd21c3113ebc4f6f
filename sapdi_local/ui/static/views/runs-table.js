/*
 * The runs table of the collection view: a row per run with its name, status, start,
 * duration, parameters, tags and last metric values; every header sorts (on the server,
 * by the API's sort=: numbers by value, then text); the "Columns" menu hides columns.
 *
 * It reads the view's state (runs, total, selected, hidden, sort, dir, columns) and calls
 * back for what changes the rest of the page: onSort(), onColumns(), onSelect(), onMore().
 */

import { h, statusBadge, unreadableMark, $ } from '../dom.js';
import { formatDate, formatDuration, formatMetric, asNumber, runDuration, labelFormat, runName } from '../format.js';
import { systemParameters, systemTags } from '../state.js';
import { runHash } from '../routes.js';

/* Column groups: the prefix of their sort keys and hidden names, and their title. */
const GROUPS = [
  { key: 'params', prefix: 'param', title: 'Parameters', kind: 'param' },
  { key: 'tags', prefix: 'tag', title: 'Tags', kind: 'tag' },
  { key: 'metrics', prefix: 'metric', title: 'Metrics', kind: 'num metric' },
];

export function runsTable(view, { collection, count, onSort, onColumns, onSelect, onMore }) {
  const table = h('table', { id: 'runs-table', class: 'data-table runs-table' });
  const foot = h('div', { class: 'table-foot' });
  const menu = h('div', { class: 'menu' });
  const columnsButton = h('details', { class: 'dropdown' }, h('summary', { class: 'button' }, 'Columns'), menu);

  /* The column names of the API's answer (none when it failed), without the system ones. */
  function setColumns(columns) {
    const params = systemParameters();
    const tags = systemTags();
    view.columns = {
      params: ((columns && columns.parameters) || []).filter((name) => !params.has(name)),
      tags: ((columns && columns.tags) || []).filter((name) => !tags.has(name)),
      metrics: (columns && columns.metrics) || [],
    };
    // replaceChildren, unlike h(), would write a null as the text "null".
    menu.replaceChildren(
      ...GROUPS.flatMap((group) => [
        h('div', { class: 'menu-title' }, group.title),
        ...(view.columns[group.key].length ? [] : [h('div', { class: 'muted small' }, 'none')]),
        ...view.columns[group.key].map((name) => columnToggle(`${group.prefix}:${name}`, name)),
      ]),
    );
  }

  function columnToggle(column, label) {
    const box = h('input', { type: 'checkbox', checked: !view.hidden.has(column) });
    box.addEventListener('change', () => {
      if (box.checked) view.hidden.delete(column);
      else view.hidden.add(column);
      onColumns();
    });
    return h('label', { class: 'menu-item' }, box, h('span', null, label));
  }

  /* The columns shown, by group: {params, tags, metrics}. */
  function visibleColumns() {
    const shown = {};
    for (const group of GROUPS) {
      shown[group.key] = view.columns[group.key].filter((name) => !view.hidden.has(`${group.prefix}:${name}`));
    }
    return shown;
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
      onSort();
    });
    return th;
  }

  function groupCells(shown, cell) {
    return GROUPS.flatMap((group) =>
      shown[group.key].map((name, index) => cell(group, name, `${group.kind}-col ${index === 0 ? 'first-of-group' : ''}`)),
    );
  }

  function valueCell(run, group, name, classes, formats) {
    if (group.key === 'metrics') {
      const value = run.metrics[name];
      return h('td', { class: classes }, value === undefined ? h('span', { class: 'missing' }, '—') : formatMetric(value, formats.get(name)));
    }
    const value = (group.key === 'params' ? run.parameters : run.tags || {})[name];
    return h(
      'td',
      { class: `${classes} ${asNumber(value) === null ? '' : 'num'}` },
      value === undefined ? h('span', { class: 'missing' }, '—') : value,
    );
  }

  function runRow(run, shown, formats) {
    const box = h('input', {
      type: 'checkbox', class: 'select-run', checked: view.selected.has(run.id), 'aria-label': `Select run ${runName(run)}`,
    });
    box.addEventListener('change', () => {
      if (box.checked) view.selected.add(run.id);
      else view.selected.delete(run.id);
      row.classList.toggle('selected', box.checked);
      onSelect();
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
      groupCells(shown, (group, name, classes) => valueCell(run, group, name, classes, formats)),
    );
    row.addEventListener('click', (event) => {
      if (event.target.closest('a, input, button, label')) return;
      box.checked = !box.checked;
      box.dispatchEvent(new Event('change'));
    });
    return row;
  }

  /* The rows: the loaded runs that pass the view's brushing (view.keep), if any. */
  function render() {
    const shown = visibleColumns();
    const formats = new Map(shown.metrics.map((name) => [name, labelFormat(view.runs, name)]));
    const rows = view.keep ? view.runs.filter(view.keep) : view.runs;
    const selectAll = h('input', { type: 'checkbox', class: 'select-all', 'aria-label': 'Select the runs shown' });
    selectAll.addEventListener('change', () => {
      for (const run of rows) {
        if (selectAll.checked) view.selected.add(run.id);
        else view.selected.delete(run.id);
      }
      onSelect();
    });
    const columns = 5 + shown.params.length + shown.tags.length + shown.metrics.length;
    const groups = h(
      'tr',
      { class: 'group-row' },
      h('th', { colspan: '5' }),
      GROUPS.map((group) =>
        shown[group.key].length
          ? h('th', { colspan: String(shown[group.key].length), class: `group ${group.kind}-col first-of-group` }, group.title)
          : null,
      ),
    );
    const head = h(
      'tr',
      null,
      h('th', { class: 'check' }, selectAll),
      sortHeader('name', 'Name'),
      sortHeader('status', 'Status'),
      sortHeader('start', 'Start'),
      sortHeader('duration', 'Duration', 'num'),
      groupCells(shown, (group, name, classes) => sortHeader(`${group.prefix}:${name}`, name, classes)),
    );
    const body = h('tbody', null, rows.map((run) => runRow(run, shown, formats)));
    if (!rows.length) {
      const message = view.error
        ? 'The runs could not be listed: see the message above.'
        : view.filterError
          ? 'Fix the filter expression to list runs: see the message under it.'
          : view.filter || view.tag || view.status || view.keep
            ? 'No run matches these filters.'
            : 'No runs in this collection yet.';
      body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: String(columns) }, message)));
    }
    table.replaceChildren(h('thead', null, columns > 5 ? groups : null, head), body);
    syncSelection();
    const total = view.total;
    count.textContent = `${total.toLocaleString('en-US')} run${total === 1 ? '' : 's'}`;
    foot.replaceChildren();
    if (view.keep) {
      foot.append(h('span', { class: 'muted', id: 'brushed-count' }, `${rows.length} of ${view.runs.length} loaded runs within the brushed ranges`));
    }
    if (total > view.runs.length) {
      const left = total - view.runs.length;
      foot.append(
        h('span', { class: 'muted' }, `Showing ${view.runs.length.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`),
        h('button', { type: 'button', class: 'button', id: 'show-more', onclick: onMore }, `Show ${Math.min(view.pageSize, left)} more`),
      );
    }
  }

  /* The check boxes and row marks after the selection changed. */
  function syncSelection() {
    const boxes = [...table.querySelectorAll('input.select-run')];
    const checked = boxes.filter((box) => view.selected.has(box.closest('tr').dataset.runId)).length;
    const select = $('.select-all', table);
    if (select) {
      select.checked = boxes.length > 0 && checked === boxes.length;
      select.indeterminate = checked > 0 && checked < boxes.length;
    }
    for (const row of table.querySelectorAll('tr[data-run-id]')) {
      const selected = view.selected.has(row.dataset.runId);
      row.classList.toggle('selected', selected);
      const box = $('input.select-run', row);
      if (box) box.checked = selected;
    }
  }

  return { table, foot, columnsButton, setColumns, visibleColumns, render, syncSelection };
}
