import { z } from 'zod';

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

export const wbsNodeSchema: z.ZodType<WbsNode> = z.lazy(() =>
  z.object({
    id: z.string(),
    name: z.string(),
    description: z.string().optional(),
    resources_needed: z.array(z.string()).optional(),
    children: z.array(wbsNodeSchema),
  }),
);

export const wbsProjectSchema = z.object({ wbs_project: wbsNodeSchema, final_deliverable: z.string().optional() });

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
