import type { z } from 'zod';
import { lazySchema } from './lazy-schema.js';

/**
 * The work breakdown structure: project (depth 0) → phases (1) → tasks (2) → subtasks (3). Ids are
 * positional and stable ("2", "2.3", "2.3.1"; the project is "0"), so prompts and files can cite them.
 */
export interface WbsNode {
  id: string;
  name: string;
  description?: string;
  resources_needed?: string[];
  children: WbsNode[];
}

export const wbsNodeSchema = lazySchema((z) => {
  const node: z.ZodType<WbsNode> = z.lazy(() =>
    z.object({
      id: z.string(),
      name: z.string(),
      description: z.string().optional(),
      resources_needed: z.array(z.string()).optional(),
      children: z.array(node),
    }),
  );
  return node;
});

/**
 * A WBS node as the original pipeline writes it: the name in `description`, the long description and the
 * resources (and, at the root, the final deliverable) in `extra_fields`, children in `task_children`.
 */
interface OriginalWbsNode {
  id: string;
  description: string;
  extra_fields?: { detailed_description?: string; resources_needed?: string[]; final_deliverable?: string } | null;
  task_children?: OriginalWbsNode[] | null;
}

const originalWbsNodeSchema = lazySchema((z) => {
  const node: z.ZodType<OriginalWbsNode> = z.lazy(() =>
    z.object({
      id: z.string(),
      description: z.string(),
      extra_fields: z
        .object({
          detailed_description: z.string().optional(),
          resources_needed: z.array(z.string()).optional(),
          final_deliverable: z.string().optional(),
        })
        .nullish(),
      task_children: z.array(node).nullish(),
    }),
  );
  return node;
});

function fromOriginal(node: OriginalWbsNode): WbsNode {
  const { detailed_description: description, resources_needed } = node.extra_fields ?? {};
  return {
    id: node.id,
    name: node.description,
    ...(description === undefined ? {} : { description }),
    ...(resources_needed === undefined ? {} : { resources_needed }),
    children: (node.task_children ?? []).map(fromOriginal),
  };
}

/** The WBS files (019, 023-3): ours, or the original pipeline's converted to ours as they are read. */
export const wbsProjectSchema = lazySchema((z) =>
  z.union([
    z.object({ wbs_project: wbsNodeSchema.get(), final_deliverable: z.string().optional() }),
    z.object({ wbs_project: originalWbsNodeSchema.get() }).transform(({ wbs_project: root }) => ({
      wbs_project: fromOriginal(root),
      ...(root.extra_fields?.final_deliverable === undefined ? {} : { final_deliverable: root.extra_fields.final_deliverable }),
    })),
  ]),
);

export const ROOT_ID = '0';

/** The units that get durations and are scheduled: every task, or a phase that has no tasks. */
export function scheduleUnits(root: WbsNode): WbsNode[] {
  return root.children.flatMap((phase) => (phase.children.length > 0 ? phase.children : [phase]));
}

/** Every node with its depth and parent, in tree order. */
export function flatten(root: WbsNode): { node: WbsNode; depth: number; parentId: string | null }[] {
  const out: { node: WbsNode; depth: number; parentId: string | null }[] = [];
  const walk = (node: WbsNode, depth: number, parentId: string | null): void => {
    out.push({ node, depth, parentId });
    for (const child of node.children) walk(child, depth + 1, node.id);
  };
  walk(root, 0, null);
  return out;
}

/** Rows for the WBS CSV: one column per level, then the id. */
export function wbsCsvRows(root: WbsNode): string[][] {
  return [
    ['Level 1', 'Level 2', 'Level 3', 'Level 4', 'Task ID'],
    ...flatten(root).map(({ node, depth }) => [...Array.from({ length: 4 }, (_, i) => (i === Math.min(depth, 3) ? node.name : '')), node.id]),
  ];
}
