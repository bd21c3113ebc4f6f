/* Values as the page shows them: numbers, metric values by their labels, dates, durations,
 * sizes; and names sorted as people read them (numbers by value). */

// A d3-format specifier, as Plotly's tickformat takes it: [[fill]align][sign][symbol][0]
// [width][,][.precision][~][type].
const D3_FORMAT = /^(?:.?[<>=^])?[-+( ]?[$#]?0?\d*,?(?:\.\d+)?~?[%bcdefgnorsxX]?$/;
export const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export function unique(items) {
  return [...new Set(items)];
}

function pad(number, width) {
  return String(number).padStart(width || 2, '0');
}

export function formatDate(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/* A unix time as Plotly takes dates: local wall-clock text with milliseconds. */
export function plotlyDate(seconds) {
  const date = new Date(seconds * 1000);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.` +
    pad(date.getMilliseconds(), 3)
  );
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function trimZeros(text) {
  return text.includes('e') || !text.includes('.') ? text : text.replace(/\.?0+$/, '');
}

export function formatNumber(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value === null || value === undefined ? '—' : String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toLocaleString('en-US');
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e6 || size < 1e-4)) return value.toExponential(3);
  return trimZeros(value.toPrecision(5));
}

/* A metric value as its label asks: a percentage, a fixed precision, or plain. */
export function formatMetric(value, format) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return formatNumber(value);
  if (format && format.percent) return `${trimZeros((value * 100).toFixed(2))}%`;
  const fixed = format && /^,?\.(\d+)f$/.exec(format.tick);
  if (fixed) return value.toFixed(Number(fixed[1]));
  const percent = format && /^,?\.(\d+)~?%$/.exec(format.tick);
  if (percent) return `${(value * 100).toFixed(Number(percent[1]))}%`;
  return formatNumber(value);
}

export function asNumber(text) {
  if (typeof text === 'number') return Number.isFinite(text) ? text : null;
  if (typeof text !== 'string' || text.trim() === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/* A run's name as the page shows it; a run whose stored name cannot be read (see the
 * API's "unreadable") by its id. */
export function runName(run) {
  return typeof run.name === 'string' ? run.name : `(unreadable name) ${String(run.id).slice(0, 8)}`;
}

export function runDuration(run) {
  if (typeof run.duration_seconds === 'number') return run.duration_seconds;
  if (run.status === 'RUNNING' && run.start_time) {
    return (Date.now() - new Date(run.start_time).getTime()) / 1000;
  }
  return null;
}

/* The format a metric's label asks for, from the first of `runs` that has one. */
export function labelFormat(runs, metric) {
  for (const run of runs) {
    let label = run && run.labels ? run.labels[metric] : undefined;
    if (typeof label === 'string') {
      try {
        label = JSON.parse(label);
      } catch (error) {
        continue;
      }
    }
    if (!label || typeof label !== 'object' || typeof label.format_string !== 'string') continue;
    const spec = label.format_string.trim();
    if (spec === 'percentage' || spec === 'percent') {
      return { percent: true, tick: '.1~%', hover: '.2~%', name: 'percentage' };
    }
    if (spec && D3_FORMAT.test(spec)) return { percent: false, tick: spec, hover: spec, name: spec };
  }
  return null;
}
