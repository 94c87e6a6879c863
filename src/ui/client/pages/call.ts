import { getJson } from '../api.js';
import type { Page } from '../app.js';
import { append, badge, h, paths } from '../dom.js';
import { formatDuration, formatTime, formatUsd } from '../format.js';
import { prettyJson } from '../render-file.js';

/** One model call: who asked and who answered, its figures, the messages by role, the response and the reasoning. */

export interface CallSummary {
  id: number;
  taskId: string;
  attemptId: number;
  itemKey: string | null;
  turn: number | null;
  provider: string;
  requestedModel: string;
  answeredModel: string | null;
  status: string;
  replayedFrom: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  tokensEstimated: boolean;
  reasoningTokens: number | null;
  costUsd: number | null;
  durationMs: number | null;
  errorClass: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
  startedAt: string | null;
  finishedAt: string | null;
}

interface CallDetail extends CallSummary {
  requestHash: string;
  responseFormat: string | null;
  price: unknown;
  messages: unknown;
  responseText: string | null;
  reasoningText: string | null;
}

export const CALL_HEADERS = ['call', 'item', 'model', 'status', 'tokens in/out', 'cost', 'latency', 'started'];

/** As `plan llm` lists a call: a cost of a call with tokens and no price is unknown, one without tokens cost nothing. */
export function callCost(c: Pick<CallSummary, 'costUsd' | 'inputTokens' | 'outputTokens'>): string {
  if (c.costUsd !== null) return formatUsd(c.costUsd);
  return c.inputTokens !== null || c.outputTokens !== null ? 'unknown' : '-';
}

export function callRow(runId: string, c: CallSummary): (HTMLElement | string)[] {
  return [
    h('a', { href: paths.call(runId, c.id) }, String(c.id)),
    c.itemKey ?? '',
    c.answeredModel ?? c.requestedModel,
    h('span', {}, badge(c.status), c.replayedFrom === null ? '' : ` from ${c.replayedFrom}`),
    `${c.inputTokens ?? '-'}/${c.outputTokens ?? '-'}${c.tokensEstimated ? '~' : ''}`,
    callCost(c),
    formatDuration(c.durationMs),
    formatTime(c.startedAt, true),
  ];
}

export async function callPage(page: Page, runId: string, id: number): Promise<void> {
  const { call } = await getJson<{ call: CallDetail }>(`/api/runs/${encodeURIComponent(runId)}/calls/${id}`);
  page.crumbs(h('a', { href: paths.run(runId) }, runId), h('a', { href: paths.task(runId, call.taskId) }, call.taskId), h('span', {}, `call ${id}`));
  document.title = `plan · call ${id}`;
  const facts: [string, string | HTMLElement][] = [
    ['task', h('a', { href: paths.task(runId, call.taskId) }, call.taskId)],
    ['attempt', String(call.attemptId)],
    ['asked', `${call.requestedModel} via ${call.provider}`],
    ['answered', call.answeredModel ?? '-'],
    [
      'tokens',
      `${call.inputTokens ?? '-'} in, ${call.outputTokens ?? '-'} out${call.tokensEstimated ? ' (estimated)' : ''}${call.reasoningTokens ? ` (${call.reasoningTokens} reasoning)` : ''}`,
    ],
    ['cost', `${call.costUsd === null ? 'unknown' : formatUsd(call.costUsd)}${priceText(call.price)}`],
    ['latency', formatDuration(call.durationMs)],
    ['started', `${formatTime(call.startedAt, true)}${call.finishedAt ? ` · finished ${formatTime(call.finishedAt, true)}` : ''}`],
    ['format', call.responseFormat ?? '-'],
    ['request', call.requestHash],
  ];
  if (call.itemKey !== null) facts.splice(2, 0, ['item', call.itemKey]);
  if (call.turn !== null) facts.splice(2, 0, ['turn', String(call.turn)]);
  if (call.replayedFrom !== null)
    facts.unshift(['replayed', h('a', { href: paths.call(runId, call.replayedFrom) }, `the answer of call ${call.replayedFrom}, not asked again`)]);
  const error = [call.errorClass, call.httpStatus === null ? null : `HTTP ${call.httpStatus}`, call.errorMessage].filter(Boolean).join(': ');

  append(
    page.main,
    h('h1', {}, `Call ${call.id} `, badge(call.status), call.replayedFrom === null ? null : h('span', { class: 'badge replayed' }, 'replayed')),
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    error ? h('p', { class: 'error' }, error) : null,
    h('h2', {}, 'Messages'),
    ...messagesOf(call.messages).map((m) =>
      h('section', { class: `message role-${m.role.replace(/[^a-z]/gi, '')}` }, h('h3', {}, m.role), h('pre', {}, m.content)),
    ),
    h('h2', {}, 'Response'),
    call.responseText === null ? h('p', { class: 'muted' }, '(none)') : h('pre', { class: 'response' }, prettyJson(call.responseText)),
    call.reasoningText ? h('section', {}, h('h2', {}, 'Reasoning'), h('pre', { class: 'reasoning' }, call.reasoningText)) : null,
  );
}

function priceText(price: unknown): string {
  if (price === null || typeof price !== 'object') return '';
  const { inputPerM, outputPerM } = price as { inputPerM?: unknown; outputPerM?: unknown };
  if (typeof inputPerM !== 'number' || typeof outputPerM !== 'number') return ` · price ${JSON.stringify(price)}`;
  return ` · at $${inputPerM} / $${outputPerM} per million tokens in / out`;
}

/** The messages as sent, when they are the usual `{ role, content }` list; anything else is shown as JSON. */
function messagesOf(messages: unknown): { role: string; content: string }[] {
  if (Array.isArray(messages) && messages.every((m) => typeof m === 'object' && m !== null && typeof (m as { role?: unknown }).role === 'string')) {
    return messages.map((m: { role: string; content?: unknown }) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content, null, 2),
    }));
  }
  return [{ role: 'request', content: JSON.stringify(messages, null, 2) }];
}
