/* The read-only JSON API under /api/, and the error banner that says what went wrong. */

import { $ } from './dom.js';
import { unique } from './format.js';

// ---------------------------------------------------------------- the API

/* An answer that is not 200: its message and status, and the rest of the API's error
 * object (details.parameter, details.position for a malformed expression). */
class ApiError extends Error {
  constructor(message, status, details) {
    super(message);
    this.status = status;
    this.details = details || {};
  }
}

/* GET an API address; answers {body, text}, or throws ApiError with the API's message. */
export async function apiRaw(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of params || []) {
    if (value !== undefined && value !== null && value !== '') query.append(key, value);
  }
  const search = query.toString();
  const url = path + (search ? `?${search}` : '');
  let response;
  try {
    response = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch (error) {
    throw new ApiError(
      `cannot reach the explorer server at ${window.location.host}; is "sapdi-local ui" still running?`,
      0,
    );
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    const message =
      body && body.error && typeof body.error.message === 'string'
        ? body.error.message
        : `${path} answered HTTP ${response.status}`;
    throw new ApiError(message, response.status, body && body.error);
  }
  if (body === null) throw new ApiError(`${path} did not answer JSON`, response.status);
  return { body, text };
}

export async function api(path, params) {
  return (await apiRaw(path, params)).body;
}

/* The query of one collection. scenario= and collection= are comma lists, as on the
 * command line, but a value that is a whole name (commas and all) names that one. */
export function scopeQuery(scenario, collection) {
  const params = [];
  if (scenario) params.push(['scenario', scenario]);
  if (collection) params.push(['collection', collection]);
  return params;
}

// ---------------------------------------------------------------- errors

const errors = new Map();

export function setError(source, message) {
  if (message) errors.set(source, String(message));
  else errors.delete(source);
  const banner = $('#error');
  const messages = unique([...errors.values()]);
  banner.textContent = messages.join('\n');
  banner.hidden = messages.length === 0;
}

window.addEventListener('error', (event) => {
  setError('page', `The page hit an unexpected error: ${event.message}`);
});
window.addEventListener('unhandledrejection', (event) => {
  const reason = event.reason;
  setError('page', `The page hit an unexpected error: ${reason && reason.message ? reason.message : reason}`);
});
