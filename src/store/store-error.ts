/**
 * A database problem, with a message a person can act on (which file, what went wrong). Never carries
 * credentials: URLs are shown without their password.
 */
export class StoreError extends Error {
  override name = 'StoreError';
  /** SQLite's or PostgreSQL's error code, when there is one (e.g. SQLITE_BUSY, SQLITE_FULL). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }

  static from(error: unknown, context: string): StoreError {
    if (error instanceof StoreError) return error;
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    const text = error instanceof Error ? error.message : String(error);
    return new StoreError(`${context}: ${describe(typeof code === 'string' ? code : undefined, text)}`, typeof code === 'string' ? code : undefined);
  }
}

function describe(code: string | undefined, text: string): string {
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return `the file is not a plan database or is corrupt (${text}); it was left untouched`;
    case 'SQLITE_BUSY':
      return `another process holds the database's write lock and did not release it in time (${text})`;
    case 'SQLITE_FULL':
      return `the disk is full (${text})`;
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
      return `the database file or its folder is not writable (${text})`;
    default:
      return text;
  }
}
