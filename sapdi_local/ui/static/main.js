/*
 * The metrics explorer page: a client of the read-only JSON API under /api/, with Plotly
 * (loaded before the modules from /static/plotly.min.js) drawing every chart. This module
 * shows the view the address names (the routes are in routes.js) and keeps the page live.
 *
 * The page reads the database live: with the "Live" switch on it polls every 5 seconds.
 * A query parameter before the hash shortens that, for tests: /?poll=500#/...
 * (in milliseconds, at least 100).
 *
 * Everything taken from the database reaches the page as text (textContent, attributes),
 * never as markup.
 */

import { h, emptyState, $ } from './dom.js';
import { state } from './state.js';
import { setError } from './api.js';
import { parseRoute, updateBoardLink } from './routes.js';
import { plotlyReady } from './charts.js';
import { refreshHeader } from './header.js';
import { refreshSidebar, markActiveCollection } from './sidebar.js';
import { homeView } from './views/home.js';
import { collectionView } from './views/collection.js';
import { runView } from './views/run.js';
import { boardView } from './views/board.js';

const POLL_MS = (() => {
  const value = Number(new URLSearchParams(window.location.search).get('poll'));
  return Number.isFinite(value) && value >= 100 ? value : 5000;
})();

function notFoundView(route) {
  const view = { dead: false };
  view.start = () => {
    setError('view', `There is no page at #${route.path}; the explorer has #/, #/collection, #/run/ID and #/board.`);
    $('#main').append(emptyState('Page not found', null, h('a', { class: 'button', href: '#/' }, 'Back to the collections')));
  };
  view.refresh = async () => {};
  view.destroy = () => {
    view.dead = true;
  };
  return view;
}

// ---------------------------------------------------------------- routing and polling

function showRoute() {
  const route = parseRoute(window.location.hash || '#/');
  if (state.view) state.view.destroy();
  for (const source of ['view', 'charts', 'export']) setError(source, null);
  const main = $('#main');
  main.replaceChildren();
  const kind = route.segments[0];
  let view;
  if (!kind) view = homeView(route);
  else if (kind === 'collection') view = collectionView(route);
  else if (kind === 'run' && route.segments.length > 1) view = runView(route);
  else if (kind === 'board') view = boardView(route);
  else view = notFoundView(route);
  state.view = view;
  markActiveCollection();
  if (kind !== 'board') updateBoardLink();
  view.start();
  window.scrollTo(0, 0);
}

let pollTimer = null;
let polling = false;

function schedulePoll() {
  clearTimeout(pollTimer);
  if (state.live) pollTimer = setTimeout(poll, POLL_MS);
}

async function poll() {
  if (!state.live) return;
  if (polling) {
    schedulePoll();
    return;
  }
  polling = true;
  try {
    await Promise.all([refreshHeader(), refreshSidebar()]);
    const view = state.view;
    if (view && !view.dead && view.refresh) await view.refresh();
  } catch (error) {
    setError('page', `The page hit an unexpected error: ${error.message}`);
  } finally {
    polling = false;
    schedulePoll();
  }
}

async function init() {
  if (!plotlyReady()) {
    setError('plotly', 'Plotly\'s JavaScript (/static/plotly.min.js) did not load, so charts cannot be drawn; reinstall with pip install "sapdi-local[ui]".');
  }
  const live = $('#live-toggle');
  state.live = live.checked;
  live.addEventListener('change', () => {
    state.live = live.checked;
    document.body.classList.toggle('not-live', !state.live);
    if (state.live) poll();
    else clearTimeout(pollTimer);
  });
  window.addEventListener('hashchange', showRoute);
  await Promise.all([refreshHeader(), refreshSidebar()]);
  showRoute();
  schedulePoll();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
