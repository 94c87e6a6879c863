import { ApiError, getJson, post } from './api.js';
import { append, badge, clear, h, paths } from './dom.js';
import { formatDuration, formatTime, plural } from './format.js';

/**
 * Rebuilding from the dashboard: on a task's page the two actions (this task; this task and everything
 * downstream), each first as its dry run — the tasks it would run, the estimate of calls and cost, the text
 * `plan build … --dry-run` prints — then, once confirmed, the real build in a child process of the dashboard,
 * whose progress (its `--json` events) and exit the task's and the run's pages show live.
 */

export interface RebuildEntryView {
  seq: number;
  at: string;
  kind: 'event' | 'stdout' | 'stderr';
  event?: Record<string, unknown>;
  text?: string;
}

export interface RebuildJobView {
  id: number;
  runId: string;
  taskId: string;
  scope: 'task' | 'downstream';
  command: string;
  pid: number | null;
  running: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  dropped: number;
  entries: RebuildEntryView[];
}

interface PreviewView {
  preview: {
    command: string;
    exitCode: number | null;
    output: string;
    messages: string;
    wouldRun: { taskId: string; state: string; reason: string }[];
    decided: number;
    estimate: string | null;
    summary: string | null;
  };
  busy: string | null;
}

const api = (runId: string): string => `/api/runs/${encodeURIComponent(runId)}`;

/** One line of the build's output as the terminal view would say it. */
function describe(entry: RebuildEntryView): string | null {
  if (entry.kind !== 'event') return entry.text ?? '';
  const e = entry.event!;
  const task = String(e.taskId ?? '');
  switch (e.type) {
    case 'build-started':
      return `build of ${String(e.tasks)} tasks started`;
    case 'task-started':
      return `run   ${task}${e.try !== undefined && Number(e.try) > 1 ? ` (try ${String(e.try)})` : ''} — ${String(e.reason ?? '')}`;
    case 'task-complete':
      return `done  ${task} ${formatDuration(Number(e.durationMs ?? 0))}`;
    case 'task-failed':
      return `FAIL  ${task}: ${String(e.error ?? '')}${e.retryInMs === null || e.retryInMs === undefined ? '' : ` (retry in ${formatDuration(Number(e.retryInMs))})`}`;
    case 'task-cancelled':
      return `cancelled ${task}`;
    case 'task-blocked':
      return `blocked ${task} by ${String(e.by ?? '')}`;
    case 'task-recovered':
      return `recovered ${task}`;
    case 'edit-replaced':
      return `${task} replaces your edit of ${String(e.path ?? '')}${e.version === null ? '' : ` (kept as v${String(e.version)})`}`;
    case 'file-edited':
      return `edited ${String(e.path ?? '')}: kept, stored as a new version`;
    case 'build-stopping':
      return `stopping: ${String(e.reason ?? '')}`;
    case 'build-finished': {
      const s = (e.summary ?? {}) as { ran?: number; fresh?: number; tasks?: number; durationMs?: number };
      return `build ${String(e.status)}: ran ${plural(s.ran ?? 0, 'task')}, ${s.fresh ?? 0} fresh of ${s.tasks ?? 0} in ${formatDuration(s.durationMs ?? 0)}`;
    }
    case 'interaction-started':
    case 'interaction-finished':
    case 'task-log':
    case 'task-persisted':
      return null;
    default:
      return JSON.stringify(e);
  }
}

/** A rebuild's progress and exit: its command, the tasks done of those started, its output as lines. */
export class RebuildJobPanel {
  readonly element: HTMLElement;
  private job: RebuildJobView | null = null;
  private readonly status = h('p', { class: 'rebuild-status' });
  private readonly log = h('pre', { class: 'rebuild-log' });

  constructor(
    private readonly runId: string,
    private readonly title: string,
  ) {
    this.element = h('section', { class: 'rebuild-job' });
    this.element.hidden = true;
  }

  /** The newest rebuild of the run, from the server. */
  async refresh(): Promise<void> {
    const { job } = await getJson<{ job: RebuildJobView | null }>(`${api(this.runId)}/rebuild`);
    this.show(job);
  }

  show(job: RebuildJobView | null): void {
    // A snapshot older than what the live feed already brought (a fetch that crossed its events) is dropped.
    const mine = this.job;
    if (job !== null && mine !== null && job.id === mine.id) {
      const seq = (j: RebuildJobView): number => j.entries.at(-1)?.seq ?? 0;
      if ((job.running && !mine.running) || seq(job) < seq(mine)) return;
    }
    if (job !== null && mine !== null && job.id < mine.id) return;
    this.job = job;
    this.element.hidden = job === null;
    if (job === null) return;
    clear(this.element);
    clear(this.log);
    for (const entry of job.entries) this.addLine(entry);
    append(this.element, h('h2', {}, this.title), h('p', {}, h('code', {}, job.command)), this.status, this.log);
    this.drawStatus();
  }

  /** A `rebuild` event of the live feed: a line of output, the start of a new rebuild, or its exit. */
  onEvent(data: Record<string, unknown>): void {
    const jobId = Number(data.jobId);
    if (data.started !== undefined) {
      this.show(data.started as RebuildJobView);
      return;
    }
    if (this.job === null || this.job.id !== jobId) {
      void this.refresh().catch(() => undefined);
      return;
    }
    if (data.entry !== undefined) {
      const entry = data.entry as RebuildEntryView;
      const last = this.job.entries.at(-1)?.seq ?? 0;
      if (entry.seq <= last) return;
      if (entry.seq !== last + 1 && this.job.entries.length > 0) {
        void this.refresh().catch(() => undefined);
        return;
      }
      this.job.entries.push(entry);
      this.addLine(entry);
      this.drawStatus();
    }
    if (data.exit !== undefined) {
      const exit = data.exit as { code: number | null; signal: string | null; finishedAt: string | null };
      Object.assign(this.job, { running: false, exitCode: exit.code, signal: exit.signal, finishedAt: exit.finishedAt });
      this.drawStatus();
    }
  }

  private addLine(entry: RebuildEntryView): void {
    const text = describe(entry);
    if (text === null) return;
    this.log.append(h('span', { class: `line ${entry.kind}` }, `${text}\n`));
    this.log.scrollTop = this.log.scrollHeight;
  }

  private drawStatus(): void {
    const job = this.job!;
    const events = job.entries.filter((e) => e.kind === 'event').map((e) => e.event!);
    const started = events.filter((e) => e.type === 'task-started').length;
    const done = events.filter((e) => e.type === 'task-complete').length;
    const failed = events.filter((e) => e.type === 'task-failed').length;
    clear(this.status);
    const state = job.running ? 'running' : job.exitCode === 0 ? 'complete' : job.signal !== null || job.exitCode === 130 ? 'cancelled' : 'failed';
    this.element.dataset.state = state;
    this.element.dataset.exit = job.exitCode === null ? '' : String(job.exitCode);
    append(
      this.status,
      badge(state),
      ` pid ${job.pid ?? '-'} · started ${formatTime(job.startedAt, true)} · ${done} done of ${started} started${failed > 0 ? `, ${failed} failed` : ''}`,
      job.running
        ? ''
        : ` · exited ${job.signal === null ? job.exitCode : `by ${job.signal}`}${job.finishedAt === null ? '' : ` at ${formatTime(job.finishedAt, true)}`}`,
      job.dropped > 0 ? ` · the first ${job.dropped} lines are not kept` : '',
    );
  }
}

/** The task page's rebuild actions: preview (the dry run), then confirm. */
export function rebuildActions(runId: string, taskId: string, job: RebuildJobPanel): HTMLElement {
  const preview = h('div', { class: 'rebuild-preview' });
  const message = h('span', { class: 'muted' });
  const buttons: HTMLButtonElement[] = [];
  const action = (label: string, scope: 'task' | 'downstream'): HTMLButtonElement => {
    const button = h('button', { attrs: { type: 'button' }, data: { scope } }, label);
    button.addEventListener('click', () => void showPreview(scope));
    buttons.push(button);
    return button;
  };
  const root = h(
    'section',
    { class: 'rebuild' },
    h('h2', {}, 'Rebuild'),
    h('div', { class: 'actions' }, action('Rebuild this task', 'task'), action('Rebuild this task and everything downstream', 'downstream'), message),
    preview,
  );

  const base = `${api(runId)}/tasks/${encodeURIComponent(taskId)}`;
  const showPreview = async (scope: 'task' | 'downstream'): Promise<void> => {
    for (const b of buttons) b.disabled = true;
    message.textContent = 'dry run…';
    clear(preview);
    try {
      const { status, body } = await post<PreviewView & { error?: string }>(`${base}/rebuild-preview?scope=${scope}`);
      if (status !== 200) throw new ApiError(status, body.error ?? 'refused');
      message.textContent = '';
      drawPreview(scope, body);
    } catch (error) {
      message.textContent = error instanceof ApiError ? error.message : String(error);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };

  const drawPreview = (scope: 'task' | 'downstream', { preview: p, busy }: PreviewView): void => {
    const confirm = h('button', { class: 'primary', attrs: { type: 'button' } }, p.wouldRun.length === 0 ? 'Nothing to run' : 'Run it');
    confirm.disabled = busy !== null || p.wouldRun.length === 0 || p.exitCode !== 0;
    const dismiss = h('button', { attrs: { type: 'button' } }, 'Dismiss');
    const outcome = h('span', { class: 'muted' });
    dismiss.addEventListener('click', () => clear(preview));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      outcome.textContent = 'starting…';
      try {
        const { status, body } = await post<{ job?: RebuildJobView; error?: string }>(`${base}/rebuild?scope=${scope}`);
        if (status !== 202 || body.job === undefined) throw new ApiError(status, body.error ?? 'refused');
        outcome.textContent = `started (pid ${body.job.pid}): its progress is below and on the run's page`;
        job.show(body.job);
      } catch (error) {
        outcome.textContent = error instanceof ApiError ? error.message : String(error);
        confirm.disabled = false;
      }
    });
    append(
      preview,
      h('p', {}, 'The dry run: ', h('code', {}, p.command)),
      p.exitCode === 0 ? null : h('p', { class: 'error' }, `the dry run exited ${p.exitCode}: ${p.messages.trim()}`),
      busy === null ? null : h('p', { class: 'notice' }, busy),
      h('p', { class: 'rebuild-summary' }, p.summary ?? `${plural(p.wouldRun.length, 'task')} would run`),
      p.wouldRun.length === 0
        ? null
        : h(
            'ul',
            { class: 'would-run' },
            ...p.wouldRun.map((t) =>
              h('li', { data: { task: t.taskId } }, badge(t.state), ' ', h('a', { href: paths.task(runId, t.taskId) }, t.taskId), ` — ${t.reason}`),
            ),
          ),
      p.estimate === null ? null : h('p', { class: 'rebuild-estimate' }, p.estimate),
      h('details', {}, h('summary', {}, 'the dry run’s output'), h('pre', { class: 'dry-run' }, p.output, p.messages)),
      h('div', { class: 'actions' }, confirm, dismiss, outcome),
    );
  };
  return root;
}
