/*
 * Plotly draws parallel coordinates with WebGL through regl, and regl makes its drawing
 * commands with Function(...): code from text, which the page's Content-Security-Policy
 * (no 'unsafe-eval') refuses, and Plotly then says "WebGL is not supported". The code regl
 * asks for is the same every time; parcoords-regl.js holds it, for the installed Plotly, as
 * functions (as Plotly's own "strict" bundle does). While a chart is drawn, Function stands
 * in for a lookup of the code asked for among them, by its exact text; any other code goes
 * to the real Function (and is refused, as before). Plotly keeps what regl made, so later
 * charts ask for nothing.
 */

import { FUNCTIONS, PLOTLY_VERSION } from './parcoords-regl.js';

const table = new Map(FUNCTIONS.map((fn) => [fn.toString(), fn]));
let drawing = 0;
let realFunction = null;

function standIn(...parts) {
  const body = parts[parts.length - 1];
  const found = table.get(`function (${parts.slice(0, -1).join(', ')}) {\n${body}\n}`);
  return found || realFunction.apply(null, parts);
}

/* `draw()` (a promise) run with the stand-in in place of Function. */
export async function withPrecompiledRegl(draw) {
  if (drawing++ === 0) {
    realFunction = window.Function;
    standIn.prototype = realFunction.prototype;
    window.Function = standIn;
  }
  try {
    return await draw();
  } finally {
    drawing -= 1;
    if (drawing === 0) window.Function = realFunction;
  }
}

/* Why the chart is not drawn when Plotly could not set up WebGL in `chart`, or null. */
export function webglProblem(chart) {
  if (!/WebGL is not supported/.test(chart.textContent)) return null;
  const version = window.Plotly && window.Plotly.version;
  return version && version !== PLOTLY_VERSION
    ? `The chart needs WebGL code made for Plotly ${PLOTLY_VERSION}, and Plotly ${version} is installed: see parcoords-regl.js.`
    : 'This browser cannot draw the chart: it needs WebGL.';
}
