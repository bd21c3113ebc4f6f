/* What the page knows of the database, shared by the header, the sidebar and the views. */

import { collator } from './format.js';

export const state = {
  db: null,
  dbText: null,
  collections: null,
  collectionsText: null,
  live: true,
  view: null,
};

export function systemParameters() {
  return new Set((state.db && state.db.system_parameters) || ['start', 'end']);
}

export function systemTags() {
  return new Set((state.db && state.db.system_tags) || ['runName']);
}

export function userEntries(mapping, system) {
  return Object.keys(mapping || {})
    .filter((name) => !system.has(name))
    .sort(collator.compare)
    .map((name) => [name, mapping[name]]);
}

export function displayNameOf(scenario, collection) {
  for (const item of (state.collections && state.collections.scenarios) || []) {
    if (item.name !== scenario) continue;
    for (const entry of item.collections) if (entry.name === collection) return entry.display_name;
  }
  return null;
}
