/** plan as a library: the engine, and the stores it persists to. */
export * from './engine/index.js';
export type { Store, RunRecord, AttemptRecord, ContentVersion, InteractionRecord } from './store/store.js';
export { openStore, defaultDbLocation } from './store/open.js';
export { openSqliteStore, SqliteStore } from './store/sqlite/sqlite-store.js';
