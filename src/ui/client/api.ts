/** Talking to the dashboard's server: JSON reads, the one action (with its token), and the live feed. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = (await res.json().catch(() => ({ error: res.statusText }))) as T & { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? res.statusText);
  return body;
}

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="plan-csrf"]')?.content ?? '';
}

export async function post<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(path, { method: 'POST', headers: { 'x-plan-csrf': csrfToken(), accept: 'application/json' } });
  const body = (await res.json().catch(() => ({ error: res.statusText }))) as T & { error?: string };
  if (res.status >= 400 && res.status !== 409) throw new ApiError(res.status, body.error ?? res.statusText);
  return { status: res.status, body };
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/**
 * Calls `refresh` whenever the server says what the page shows changed, and after every reconnect (events may
 * have been missed while away). Refreshes never overlap: a change during one runs one more after it.
 */
export function watchLive(
  topic: string | null,
  refresh: () => Promise<void>,
  onState: (state: LiveState) => void,
  /** Handlers of other event types (e.g. `rebuild`), given each event's data. */
  extra: Record<string, (data: Record<string, unknown>) => void> = {},
): () => void {
  const source = new EventSource(topic === null ? '/api/events' : `/api/events?run=${encodeURIComponent(topic)}`);
  let running = false;
  let again = false;
  let connectedBefore = false;
  const schedule = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await refresh().catch(() => undefined);
      } while (again);
    } finally {
      running = false;
    }
  };
  onState('connecting');
  source.addEventListener('hello', () => {
    onState('live');
    if (connectedBefore) void schedule();
    connectedBefore = true;
  });
  source.addEventListener('change', () => void schedule());
  for (const [type, handle] of Object.entries(extra)) {
    source.addEventListener(type, (event) => {
      try {
        handle(JSON.parse((event as MessageEvent<string>).data) as Record<string, unknown>);
      } catch {
        // A malformed event is dropped; the next refresh shows the state anyway.
      }
    });
  }
  source.addEventListener('error', () => onState('reconnecting'));
  return () => source.close();
}
