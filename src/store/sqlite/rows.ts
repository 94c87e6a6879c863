/** The SQLite store's rows map as the shared ones do (see ../rows.ts). */
export { toAttempt, toContentVersion, toInteraction, toRun, type Row } from '../rows.js';
