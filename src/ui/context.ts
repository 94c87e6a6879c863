import type { Store } from '../store/store.js';
import type { UiEngine } from './engine-callbacks.js';

/** What every handler of the dashboard reads through: the store, the engine's callbacks, the database's name. */
export interface UiContext {
  store: Store;
  engine: UiEngine;
  /** The database as messages show it (a PostgreSQL URL without its password). */
  location: string;
}

export { isoTime } from '../store/views.js';
