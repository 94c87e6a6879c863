import { clear, h, paths, svg } from './dom.js';
import { formatCost, formatDuration, plural } from './format.js';

const truncate = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * The run's graph as SVG, laid out by the server: one box per task coloured by its state, with its duration,
 * calls and cost; edges as the layout routed them (the transitive reduction). Wheel or buttons zoom, dragging pans, a click (or Enter)
 * opens the task. A refresh with the same tasks updates the boxes in place and keeps the view where it is.
 *
 * A pipeline whose tasks belong to stages gets a control to collapse every stage, or one, into a box of its
 * own (the stage's name, its task count, how many of its tasks show each state, their calls and cost summed;
 * laid out by the server too); a click on a stage's box expands it again.
 */

export interface GraphNodeView {
  id: string;
  kind: 'task' | 'stage';
  stage: string | null;
  state: string | null;
  shown: string;
  reason: string;
  outputs: string[];
  durationMs: number | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedCalls: number;
  attempts: number;
  /** A stage's box: the tasks it stands for, and how many show each state. */
  members?: string[];
  states?: Record<string, number>;
  x: number;
  y: number;
}

export interface GraphView {
  width: number;
  height: number;
  nodeWidth: number;
  nodeHeight: number;
  /** Tasks in the graph, collapsed or not. */
  tasks: number;
  /** The pipeline's stages (none: no collapsing), and those drawn collapsed. */
  stages: { name: string; tasks: number }[];
  collapsed: string[];
  nodes: GraphNodeView[];
  /** Every edge (between collapsed stages, aggregated: `count` task edges); only `paths` (those no longer path implies) are drawn. */
  edges: { from: string; to: string; count?: number }[];
  paths: { from: string; to: string; points: { x: number; y: number }[] }[];
}

export const STATES = ['fresh', 'running', 'stale', 'missing', 'failed', 'blocked', 'cancelled', 'pinned'] as const;

/** `5 fresh · 1 running`, in the legend's order. */
export function stateSummary(states: Readonly<Record<string, number>>): string {
  const names = [...STATES, ...Object.keys(states).filter((s) => !(STATES as readonly string[]).includes(s))];
  return names
    .filter((s) => (states[s] ?? 0) > 0)
    .map((s) => `${states[s]} ${s}`)
    .join(' · ');
}

/** Which stages to draw collapsed: every one, or those named. */
export type Collapse = 'all' | readonly string[];

export class GraphPanel {
  readonly element: HTMLElement;
  private readonly canvas: SVGSVGElement;
  private readonly world: SVGGElement;
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private shape = '';
  private width = 1;
  private height = 1;
  private readonly boxes = new Map<string, SVGGElement>();
  private dragging: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
  private readonly note: HTMLSpanElement;
  private readonly stageTools: HTMLSpanElement;
  private stageKey = '';
  private stages: GraphView['stages'] = [];
  private collapsed: ReadonlySet<string> = new Set();
  private critical: ReadonlySet<string> = new Set();

  /** `onCollapse`: the page asked for other stages collapsed (it fetches the graph so and draws it again). */
  constructor(
    private readonly runId: string,
    private readonly onCollapse: (collapse: Collapse) => void = () => undefined,
  ) {
    this.world = svg('g', { class: 'world' });
    this.canvas = svg('svg', { class: 'graph', role: 'img', 'aria-label': 'task graph' }, this.markers(), this.world);
    const button = (label: string, title: string, act: () => void): HTMLButtonElement =>
      h('button', { title, attrs: { type: 'button' }, on: { click: act } }, label);
    this.note = h('span', { class: 'muted' });
    this.stageTools = h('span', { class: 'stage-tools' });
    this.element = h(
      'div',
      { class: 'graph-panel' },
      h(
        'div',
        { class: 'graph-tools' },
        button('+', 'zoom in', () => this.zoomBy(1.25)),
        button('−', 'zoom out', () => this.zoomBy(0.8)),
        button('fit', 'fit the whole graph', () => this.fit()),
        this.stageTools,
        this.note,
        h('span', { class: 'legend' }, ...STATES.map((s) => h('span', { class: `badge state-${s}` }, s))),
      ),
      this.canvas,
    );
    this.canvas.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.onPointerMove(e));
    this.canvas.addEventListener('pointerup', () => this.onPointerUp());
    this.canvas.addEventListener('pointerleave', () => this.onPointerUp());
  }

  /** Draws the graph, or updates it in place when its tasks and edges are the same as last time. */
  draw(graph: GraphView, critical: ReadonlySet<string> = new Set()): void {
    this.critical = critical;
    this.drawStageTools(graph);
    const shape = `${graph.nodes.map((n) => n.id).join('\n')}|${graph.edges.length}`;
    if (shape !== this.shape) {
      this.shape = shape;
      this.rebuild(graph);
      this.start();
    } else {
      for (const node of graph.nodes) this.fill(this.boxes.get(node.id)!, node);
    }
  }

  /** The stage control: collapse every stage, expand every one, or pick stages one by one; absent without stages. */
  private drawStageTools(graph: GraphView): void {
    const key = JSON.stringify([graph.stages, graph.collapsed]);
    if (key === this.stageKey) return;
    this.stageKey = key;
    this.stages = graph.stages;
    this.collapsed = new Set(graph.collapsed);
    // The list of stages stays open while stages are ticked one by one.
    const wasOpen = this.stageTools.querySelector('details')?.open === true;
    clear(this.stageTools);
    if (graph.stages.length === 0) return;
    const all = graph.stages.map((s) => s.name);
    const ask = (next: ReadonlySet<string>): void => this.onCollapse(next.size === all.length ? 'all' : all.filter((name) => next.has(name)));
    const collapseAll = h(
      'button',
      {
        title: 'draw each stage as one box',
        attrs: { type: 'button', 'data-action': 'collapse-stages' },
        on: { click: () => this.onCollapse('all') },
      },
      'collapse stages',
    );
    collapseAll.disabled = this.collapsed.size === all.length;
    const expandAll = h(
      'button',
      { title: 'draw every task', attrs: { type: 'button', 'data-action': 'expand-stages' }, on: { click: () => this.onCollapse([]) } },
      'expand all',
    );
    expandAll.disabled = this.collapsed.size === 0;
    const choices = graph.stages.map((stage) => {
      const box = h('input', {
        attrs: { type: 'checkbox', name: 'stage', value: stage.name },
        on: {
          change: () => {
            const next = new Set(this.collapsed);
            if (box.checked) next.add(stage.name);
            else next.delete(stage.name);
            ask(next);
          },
        },
      });
      box.checked = this.collapsed.has(stage.name);
      return h('label', {}, box, ` ${stage.name} (${plural(stage.tasks, 'task')})`);
    });
    this.stageTools.append(
      collapseAll,
      expandAll,
      h(
        'details',
        { class: 'stage-menu', attrs: wasOpen ? { open: '' } : {} },
        h('summary', {}, `stages (${this.collapsed.size} of ${graph.stages.length} collapsed)`),
        h('div', { class: 'stage-choices' }, ...choices),
      ),
    );
  }

  /** A click on a collapsed stage's box: that stage drawn as its tasks again. */
  private expand(stage: string): void {
    const next = new Set(this.collapsed);
    next.delete(stage);
    this.onCollapse(this.stages.map((s) => s.name).filter((name) => next.has(name)));
  }

  private rebuild(graph: GraphView): void {
    clear(this.world);
    this.boxes.clear();
    this.width = Math.max(graph.width, 1);
    this.height = Math.max(graph.height, 1);
    const drawn = `${graph.paths.length} of ${graph.edges.length} edges drawn`;
    this.note.textContent =
      graph.collapsed.length > 0
        ? `${graph.tasks} tasks in ${graph.nodes.length} box${graph.nodes.length === 1 ? '' : 'es'}, ${graph.collapsed.length} of ${graph.stages.length} stages collapsed · ${graph.paths.length < graph.edges.length ? `${drawn} (the rest are implied by longer paths)` : `${graph.edges.length} edges`}`
        : graph.paths.length < graph.edges.length
          ? `${graph.nodes.length} tasks · ${drawn} (the rest are implied by longer paths)`
          : `${graph.nodes.length} tasks · ${graph.edges.length} edges`;
    const edges = svg('g', { class: 'edges' });
    for (const edge of graph.paths) {
      if (edge.points.length < 2) continue;
      const d = edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
      edges.appendChild(svg('path', { d, class: 'edge', 'marker-end': 'url(#arrow)', 'data-from': edge.from, 'data-to': edge.to }));
    }
    const nodes = svg('g', { class: 'nodes' });
    const w = graph.nodeWidth;
    const hgt = graph.nodeHeight;
    for (const node of graph.nodes) {
      const stage = node.kind === 'stage';
      const box = svg(
        'g',
        { class: 'node', transform: `translate(${node.x - w / 2},${node.y - hgt / 2})`, tabindex: 0, role: stage ? 'button' : 'link' },
        svg('title'),
        // A stage's box is drawn as a stack: the cards of its tasks behind it.
        stage ? svg('rect', { class: 'stack', x: 6, y: -6, width: w, height: hgt, rx: 6, ry: 6 }) : null,
        stage ? svg('rect', { class: 'stack', x: 3, y: -3, width: w, height: hgt, rx: 6, ry: 6 }) : null,
        svg('rect', { class: 'box', width: w, height: hgt, rx: 6, ry: 6 }),
        svg('text', { x: 8, y: 17, class: 'label' }),
        svg('text', { x: 8, y: 34, class: 'facts' }),
        svg('text', { x: 8, y: 50, class: 'facts' }),
      );
      if (stage) box.dataset.stage = node.stage ?? '';
      else box.dataset.task = node.id;
      const open = (): void => {
        if (stage) this.expand(node.stage ?? '');
        else window.location.href = paths.task(this.runId, node.id);
      };
      box.addEventListener('click', () => {
        if (this.dragging?.moved !== true) open();
      });
      box.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') open();
      });
      this.fill(box, node);
      this.boxes.set(node.id, box);
      nodes.appendChild(box);
    }
    this.world.append(edges, nodes);
  }

  /** The box's colour, its texts and its tooltip from the node's figures. */
  private fill(box: SVGGElement, node: GraphNodeView): void {
    const stage = node.kind === 'stage';
    const critical = stage ? (node.members ?? []).some((m) => this.critical.has(m)) : this.critical.has(node.id);
    box.setAttribute('class', `node${stage ? ' stage' : ''} state-${node.shown}${critical ? ' critical' : ''}`);
    box.dataset.state = node.shown;
    const title = box.querySelector('title')!;
    const [label, line1, line2] = Array.from(box.querySelectorAll('text'));
    const figures =
      node.calls > 0
        ? `${plural(node.calls, 'call')} · ${formatCost(node.costUsd, node.unpricedCalls)}`
        : node.attempts > 0
          ? plural(node.attempts, 'attempt')
          : 'not run';
    if (stage) {
      const members = node.members ?? [];
      const summary = stateSummary(node.states ?? {});
      title.textContent = `${node.stage}: ${plural(members.length, 'task')} — ${summary}\n${members.join(', ')}\n(click to expand)`;
      label!.textContent = truncate(`${node.stage} · ${plural(members.length, 'task')}`, 30);
      line1!.textContent = truncate(summary, 34);
      line2!.textContent = node.durationMs === null ? figures : `${figures} · ${formatDuration(node.durationMs)}`;
      return;
    }
    title.textContent = `${node.id}\n${node.shown} — ${node.reason}`;
    label!.textContent = truncate(node.id, 30);
    line1!.textContent = [node.shown, node.durationMs === null ? null : formatDuration(node.durationMs)].filter(Boolean).join(' · ');
    line2!.textContent = figures;
  }

  private markers(): SVGDefsElement {
    return svg(
      'defs',
      {},
      svg(
        'marker',
        { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }),
      ),
    );
  }

  /** The whole graph in view. */
  fit(): void {
    const { width, height } = this.viewport();
    this.scale = Math.min(1, width / this.width, height / this.height);
    this.tx = (width - this.width * this.scale) / 2;
    this.ty = (height - this.height * this.scale) / 2;
    this.apply();
  }

  /** The first view: the whole graph when its labels stay readable, else its start at a readable size (pan for the rest). */
  private start(): void {
    const { height } = this.viewport();
    this.fit();
    if (this.scale >= 0.5) return;
    this.scale = Math.min(0.85, Math.max(0.5, height / this.height));
    this.tx = 0;
    this.ty = 0;
    this.apply();
  }

  private viewport(): { width: number; height: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { width: Math.max(rect.width, 1), height: Math.max(rect.height, 1) };
  }

  private zoomBy(factor: number, cx?: number, cy?: number): void {
    const { width, height } = this.viewport();
    const x = cx ?? width / 2;
    const y = cy ?? height / 2;
    const next = Math.min(8, Math.max(0.2, this.scale * factor));
    // Keep the point under the cursor where it is.
    this.tx = x - ((x - this.tx) * next) / this.scale;
    this.ty = y - ((y - this.ty) * next) / this.scale;
    this.scale = next;
    this.apply();
  }

  private apply(): void {
    this.world.setAttribute('transform', `translate(${this.tx},${this.ty}) scale(${this.scale})`);
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const rect = this.canvas.getBoundingClientRect();
    this.zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top);
  }

  private onPointerDown(e: PointerEvent): void {
    this.dragging = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
  }

  private onPointerMove(e: PointerEvent): void {
    if (this.dragging === null || (e.buttons & 1) === 0) return;
    const dx = e.clientX - this.dragging.x;
    const dy = e.clientY - this.dragging.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) this.dragging.moved = true;
    this.tx = this.dragging.tx + dx;
    this.ty = this.dragging.ty + dy;
    this.apply();
  }

  private onPointerUp(): void {
    // Cleared after the click that may follow, so a drag does not open a task.
    setTimeout(() => {
      this.dragging = null;
    }, 0);
  }
}
