/*
 * How line charts are drawn: a log-scale y axis and smoothing, as TensorBoard smooths (an
 * exponential moving average, debiased so the first points are not pulled towards zero;
 * the raw line stays behind it, faint). Both live in the page address, as  log=1  and
 * smooth=0.6  (0 to 0.99), so a reload or a link draws the same charts.
 */

import { h, debounce } from './dom.js';

export const MAX_SMOOTHING = 0.99;

/* The options an address names; anything else is the default (linear, unsmoothed). */
export function chartOptionsFromRoute(route) {
  const smooth = Number(route.get('smooth'));
  return {
    log: route.get('log') === '1',
    smooth: Number.isFinite(smooth) ? Math.min(Math.max(smooth, 0), MAX_SMOOTHING) : 0,
  };
}

/* The options as [key, value] pairs of an address; the defaults are left out. */
export function chartOptionPairs(options) {
  return [
    ['log', options.log ? '1' : ''],
    ['smooth', options.smooth > 0 ? options.smooth.toFixed(2) : ''],
  ];
}

/*
 * The exponential moving average of `values` with `weight` (0: the values themselves),
 * debiased: the i-th point is the average so far divided by 1 - weight^(i+1). Values that
 * are not finite numbers are kept as they are and left out of the average.
 */
export function smoothed(values, weight) {
  if (!(weight > 0)) return values.slice();
  let last = 0;
  let count = 0;
  return values.map((value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return value;
    last = last * weight + (1 - weight) * value;
    count += 1;
    return last / (1 - weight ** count);
  });
}

/*
 * The controls of `options` (changed in place): a "Log scale" switch and a smoothing
 * slider; `onChange()` follows each change (a slider's moves, shortly after it stops).
 */
export function chartControls(options, onChange) {
  const log = h('input', { type: 'checkbox', id: 'chart-log', checked: options.log });
  const slider = h('input', {
    type: 'range', id: 'chart-smoothing', min: '0', max: String(MAX_SMOOTHING), step: '0.01',
    value: String(options.smooth), 'aria-label': 'Smoothing of the lines (exponential moving average)',
  });
  const shown = h('output', { class: 'smoothing-value', for: 'chart-smoothing' }, options.smooth.toFixed(2));
  const changed = debounce(onChange, 120);
  log.addEventListener('change', () => {
    options.log = log.checked;
    onChange();
  });
  slider.addEventListener('input', () => {
    const value = Number(slider.value);
    options.smooth = Number.isFinite(value) ? Math.min(Math.max(value, 0), MAX_SMOOTHING) : 0;
    shown.textContent = options.smooth.toFixed(2);
    changed();
  });
  return h(
    'div',
    { class: 'chart-controls' },
    h('label', { class: 'chart-control', title: 'Show the y axes on a log scale' }, log, h('span', null, 'Log scale')),
    h('label', { class: 'chart-control', title: 'Smooth the lines (the raw line stays, faint)' }, h('span', null, 'Smoothing'), slider, shown),
  );
}
