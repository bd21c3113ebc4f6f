/*
 * #/board : the compare board, runs side by side and the charts chosen for them.
 *
 * This module wires the board's parts: its state (board-state.js, read from the address),
 * the table (board-table.js), the charts and the controls that add them (board-charts.js)
 * and the exports (board-export.js). It asks the API for the runs, and draws the parts
 * again when they change. boardView(route) answers the view main.js drives: start(),
 * refresh(), destroy() and dead.
 */

import { h, pageHead, $ } from '../dom.js';
import { setError } from '../api.js';
import { boardFromRoute, rememberBoard } from '../routes.js';
import { boardState, removeRun, fetchBoardRuns, setRuns } from './board-state.js';
import { boardTable, boardSubtitle } from './board-table.js';
import { boardCharts } from './board-charts.js';
import { exportButtons } from './board-export.js';

export function boardView(route) {
  const view = boardState(boardFromRoute(route));
  rememberBoard(view.board);
  const subtitle = h('span');
  const table = boardTable({
    onRemove: (id) => {
      removeRun(view, id);
      renderAll(true);
    },
  });
  const charts = boardCharts(view, {
    onChange: () => renderCharts(false),
  });
  const exports = exportButtons(view, { table: table.table, charts: charts.charts });

  $('#main').append(
    h(
      'div',
      { id: 'board' },
      pageHead([h('a', { href: '#/' }, 'Collections')], 'Compare board', exports.buttons, subtitle),
      table.section,
      charts.section,
    ),
  );

  function renderTable() {
    subtitle.textContent = boardSubtitle(view.runs);
    table.render(view);
  }

  function renderCharts(force) {
    exports.update();
    return charts.render(force);
  }

  function renderAll(force) {
    renderTable();
    charts.updateBuilder();
    return renderCharts(force);
  }

  async function load() {
    if (!view.board.runs.length) {
      view.runs = [];
      view.text = '';
      setError('view', null);
      await renderAll(false);
      return;
    }
    try {
      const answer = await fetchBoardRuns(view);
      if (!answer) return;
      setError('view', answer.problem);
      if (answer.text === view.text) {
        await renderCharts(false);
        return;
      }
      setRuns(view, answer.found, answer.text);
      await renderAll(true);
    } catch (error) {
      if (view.dead) return;
      view.text = null;
      setError('view', error.message);
    }
  }

  return {
    get dead() {
      return view.dead;
    },
    start() {
      exports.update();
      charts.updateBuilder();
      renderTable();
      load();
    },
    refresh: () => load(),
    destroy() {
      view.dead = true;
      charts.destroy();
    },
  };
}
