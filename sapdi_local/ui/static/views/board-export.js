/*
 * The board's exports: one PNG of its charts, and one HTML file that opens offline.
 *
 * exportButtons(view, {table, charts}) makes the two buttons for the board's state
 * (board-state.js), its table element and its chart grid; update() enables them for what
 * the board holds. exportBoardPng and exportBoardHtml read the page's elements as drawn.
 */

import { h, download, $ } from '../dom.js';
import { formatDate } from '../format.js';
import { state } from '../state.js';
import { setError } from '../api.js';
import { FONT, plotlyReady } from '../charts.js';
import { boardTitle } from './board-state.js';

function exportStamp() {
  const path = state.db ? state.db.path : '';
  return `${path ? `${path} · ` : ''}exported ${formatDate(new Date().toISOString())}`;
}

/* One PNG of every chart in `charts` (the board's chart grid), two to a row, each under its
 * title, below the board's `title`. */
export async function exportBoardPng(charts, title) {
  if (!plotlyReady()) throw new Error('Plotly did not load');
  const cards = [...charts.querySelectorAll(':scope > .board-card')];
  if (!cards.length) throw new Error('add a chart to the board first');
  const width = 760;
  const height = 420;
  const gap = 24;
  const titleHeight = 30;
  const headHeight = 72;
  const columns = cards.length > 1 ? 2 : 1;
  const rows = Math.ceil(cards.length / columns);
  const images = await Promise.all(
    cards.map((card) => window.Plotly.toImage($('.board-chart', card), { format: 'png', width, height, scale: 1 })),
  );
  const canvas = document.createElement('canvas');
  canvas.width = gap + columns * (width + gap);
  canvas.height = headHeight + rows * (titleHeight + height + gap) + gap;
  const context = canvas.getContext('2d');
  context.fillStyle = '#f6f7f9';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = '#0f172a';
  context.font = `600 22px ${FONT}`;
  context.fillText(title, gap, 38);
  context.fillStyle = '#64748b';
  context.font = `13px ${FONT}`;
  context.fillText(exportStamp(), gap, 60);
  for (let index = 0; index < cards.length; index += 1) {
    const image = new Image();
    image.src = images[index];
    await image.decode();
    const x = gap + (index % columns) * (width + gap);
    const y = headHeight + Math.floor(index / columns) * (titleHeight + height + gap);
    context.fillStyle = '#ffffff';
    context.fillRect(x, y, width, titleHeight + height);
    context.strokeStyle = '#e2e8f0';
    context.strokeRect(x + 0.5, y + 0.5, width - 1, titleHeight + height - 1);
    context.fillStyle = '#0f172a';
    context.font = `600 14px ${FONT}`;
    context.fillText($('.chart-title', cards[index]).textContent, x + 14, y + 21, width - 28);
    context.drawImage(image, x, y + titleHeight, width, height);
  }
  const blob = await new Promise((resolve, reject) =>
    canvas.toBlob((result) => (result ? resolve(result) : reject(new Error('the image could not be made'))), 'image/png'),
  );
  download(blob, 'sapdi-board.png');
}

async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.text();
}

/*
 * One HTML file that opens offline with no server: Plotly's script, the page's style,
 * the table and each chart's data and layout inlined. "</script" in inlined script and
 * "<" in inlined JSON are escaped, so no name can end a script element early. None of the
 * page's modules goes in: the file's own few lines of script draw the charts.
 */
export async function exportBoardHtml(table, charts, title) {
  const [plotlySource, css] = await Promise.all([fetchText('/static/plotly.min.js'), fetchText('/static/app.css')]);
  const tableCopy = table.cloneNode(true);
  for (const button of tableCopy.querySelectorAll('button')) button.remove();
  for (const link of tableCopy.querySelectorAll('a')) link.replaceWith(h('span', { class: 'run-name' }, link.textContent));
  const cards = [...charts.querySelectorAll(':scope > .board-card')];
  const figures = cards.map((card) => {
    const div = $('.board-chart', card);
    return { data: div.data || [], layout: div.layout || {} };
  });
  const page = h(
    'div',
    { class: 'export', id: 'board' },
    h('div', { class: 'page-head' }, h('div', { class: 'page-title' }, h('h1', null, title), h('div', { class: 'subtitle' }, exportStamp()))),
    h('section', { class: 'card' }, h('div', { class: 'section-head' }, h('h2', null, 'Runs side by side')), h('div', { class: 'table-wrap' }, tableCopy)),
    cards.length
      ? h(
        'section',
        { class: 'card board-canvas' },
        h('div', { class: 'section-head' }, h('h2', null, 'Charts')),
        h(
          'div',
          { class: 'chart-grid' },
          cards.map((card) => {
            const div = $('.board-chart', card);
            return h(
              'div',
              { class: 'board-card chart-card' },
              h('div', { class: 'chart-head' }, h('span', { class: 'chart-title' }, $('.chart-title', card).textContent)),
              h('div', { class: 'board-chart', dataset: { kind: div.dataset.kind, metric: div.dataset.metric, parameter: div.dataset.parameter } }),
            );
          }),
        ),
      )
      : null,
  );
  const json = JSON.stringify(figures)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  const script = plotlySource.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
  const boot =
    '(function(){var figures=JSON.parse(document.getElementById("board-data").textContent);' +
    'var divs=document.querySelectorAll(".board-chart");' +
    'for(var i=0;i<divs.length&&i<figures.length;i++){' +
    'Plotly.newPlot(divs[i],figures[i].data,figures[i].layout,{responsive:true,displaylogo:false});}})();';
  const html =
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `${h('title', null, title).outerHTML}\n` +
    `<style>\n${css.replace(/<\/(style)/gi, '<\\/$1')}\n</style>\n` +
    `<script>\n${script}\n</script>\n</head>\n<body class="exported">\n${page.outerHTML}\n` +
    `<script type="application/json" id="board-data">${json}</script>\n` +
    `<script>${boot}</script>\n</body>\n</html>\n`;
  download(new Blob([html], { type: 'text/html;charset=utf-8' }), 'sapdi-board.html');
}

/* The "Export PNG" and "Export HTML" buttons of the board's page head. */
export function exportButtons(view, { table, charts }) {
  const png = h('button', { id: 'export-png', type: 'button', class: 'button' }, 'Export PNG');
  const html = h('button', { id: 'export-html', type: 'button', class: 'button' }, 'Export HTML');

  function update() {
    png.disabled = view.board.charts.length === 0;
    png.title = view.board.charts.length ? 'Download the board\'s charts as one PNG image' : 'Add a chart first';
    html.disabled = view.board.runs.length === 0;
    html.title = 'Download the board as one HTML file that opens offline';
  }

  async function run(button, task) {
    button.disabled = true;
    try {
      await task();
      setError('export', null);
    } catch (error) {
      setError('export', `The export failed: ${error.message}`);
    } finally {
      button.disabled = false;
      update();
    }
  }

  png.addEventListener('click', () => run(png, () => exportBoardPng(charts, boardTitle(view))));
  html.addEventListener('click', () => run(html, () => exportBoardHtml(table, charts, boardTitle(view))));
  return { buttons: [png, html], update };
}
