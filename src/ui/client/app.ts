import { ApiError, type LiveState } from './api.js';
import { clear, h } from './dom.js';
import { callPage } from './pages/call.js';
import { costsPage } from './pages/costs.js';
import { filePage } from './pages/file.js';
import { runPage } from './pages/run.js';
import { runsPage } from './pages/runs.js';
import { taskPage } from './pages/task.js';

/**
 * The dashboard's one script: every page path gets the same HTML, and this draws the page the path names
 * from the JSON API. Pages are whole loads (links are plain links), so the back button and new tabs just work.
 */

export interface Page {
  main: HTMLElement;
  /** Breadcrumbs after "runs". */
  crumbs(...items: (HTMLElement | string)[]): void;
  live(state: LiveState): void;
}

function shell(): Page {
  const crumbs = h('nav', { class: 'crumbs' });
  const liveBadge = h('span', { class: 'live', title: 'live updates' });
  const main = h('main', {});
  clear(document.body);
  const nav = h('nav', { class: 'links' }, h('a', { href: '/' }, 'runs'), h('a', { href: '/costs' }, 'costs'));
  document.body.append(h('header', {}, h('a', { href: '/', class: 'brand' }, 'plan'), crumbs, nav, liveBadge), main);
  return {
    main,
    crumbs(...items) {
      clear(crumbs);
      crumbs.append(h('a', { href: '/' }, 'runs'));
      for (const item of items) crumbs.append(h('span', { class: 'sep' }, '›'), item);
    },
    live(state) {
      liveBadge.textContent = state === 'live' ? '● live' : state === 'connecting' ? '○ connecting' : '○ reconnecting…';
      liveBadge.dataset.state = state;
    },
  };
}

async function route(): Promise<void> {
  const page = shell();
  const parts = window.location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(window.location.search);
  try {
    if (parts.length === 0) return await runsPage(page);
    if (parts[0] === 'costs' && parts.length === 1) return await costsPage(page);
    const [, runId, sub, id] = parts;
    if (parts[0] !== 'runs' || runId === undefined) throw new ApiError(404, 'no such page');
    if (sub === undefined) return await runPage(page, runId);
    if (sub === 'tasks' && id !== undefined) return await taskPage(page, runId, id);
    if (sub === 'calls' && id !== undefined) return await callPage(page, runId, Number(id));
    if (sub === 'file') return await filePage(page, runId, query.get('path') ?? '', query.get('version'));
    throw new ApiError(404, 'no such page');
  } catch (error) {
    clear(page.main);
    page.main.append(h('div', { class: 'error' }, error instanceof Error ? error.message : String(error)));
  }
}

void route();
