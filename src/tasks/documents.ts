import { lazySchema, type Infer, type Zod } from './support/lazy-schema.js';
import { file, type FileTarget } from '../engine/target.js';
import { PlanTask, type PlanConfig, type PlanContext } from './plan-task.js';
import { CTX_DOCS, RelatedResourcesTask } from './assessment.js';
import { IdentifyPurposeTask } from './setup.js';
import { ExpertReviewTask, SWOTAnalysisTask } from './swot-experts.js';
import { TeamMarkdownTask } from './team.js';
import { readDocs, readJson } from './support/docs.js';
import { runPerItem } from './support/items.js';
import { bullets, doc, field, section } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { Transcript } from './support/transcript.js';

const strings = (z: Zod, max: number) => z.array(z.string().min(1)).max(max);

const dataSchema = lazySchema((z) =>
  z.object({
    data_collection_list: z
      .array(
        z.object({
          title: z.string().min(1),
          data_to_collect: strings(z, 6).min(1),
          simulation_steps: strings(z, 5).describe('How to estimate it now, with tools or public data.'),
          expert_validation_steps: strings(z, 5).describe('Whom to ask to confirm it.'),
          responsible_parties: strings(z, 4),
          assumptions: strings(z, 4),
          smart_validation_objective: z.string().min(1),
          notes: strings(z, 4),
        }),
      )
      .min(2)
      .max(8),
    summary: z.string().min(1),
  }),
);
type DataCollection = Infer<typeof dataSchema>;

const DATA_INPUTS = [...CTX_DOCS, RelatedResourcesTask, TeamMarkdownTask, SWOTAnalysisTask, ExpertReviewTask];

/** The data needed to validate the plan, and how to get and check it. */
export class DataCollectionTask extends OneCallTask<DataCollection> {
  override requires() {
    return this.need(...DATA_INPUTS);
  }
  override output() {
    return { raw: file('017-1-data_collection_raw.json'), md: file('017-2-data_collection.md') };
  }
  protected readonly schemaName = 'data_collection';
  protected readonly schema = dataSchema;
  protected readonly system =
    `List the data this plan rests on that has not been checked yet (costs, demand, regulation, site conditions, technical performance…). For each area: what to collect, how to estimate it now (simulation steps), which experts confirm it, who is responsible, the assumptions, and a SMART validation objective.`;
  protected render(v: DataCollection) {
    return {
      md: doc(
        ...v.data_collection_list.map((d, i) =>
          section(
            2,
            `${i + 1}. ${d.title}`,
            section(3, 'Data to Collect', bullets(d.data_to_collect)),
            section(3, 'Simulation Steps', bullets(d.simulation_steps)),
            section(3, 'Expert Validation Steps', bullets(d.expert_validation_steps)),
            section(3, 'Responsible Parties', bullets(d.responsible_parties)),
            section(3, 'Assumptions', bullets(d.assumptions)),
            field('SMART Validation Objective', d.smart_validation_objective),
            section(3, 'Notes', bullets(d.notes)),
          ),
        ),
        section(2, 'Summary', v.summary),
      ),
    };
  }
}

export const documentSchema = lazySchema((z) =>
  z.object({
    id: z.string().min(1),
    document_name: z.string().min(1),
    description: z.string().min(1),
    responsible_role_type: z.string().min(1),
    recency_requirement: z.string().min(1).optional(),
    steps_to_find: z.array(z.string().min(1)).optional(),
    access_difficulty: z.string().min(1).optional(),
    document_template_primary: z.string().min(1).optional(),
    steps_to_create: z.array(z.string().min(1)).optional(),
    approval_authorities: z.string().min(1).optional(),
    essential_information: z.array(z.string().min(1)).optional(),
    risks_of_poor_quality: z.array(z.string().min(1)).optional(),
    worst_case_scenario: z.string().min(1).optional(),
    best_case_scenario: z.string().min(1).optional(),
    fallback_alternative_approaches: z.array(z.string().min(1)).optional(),
  }),
);
export type PlanDocument = Infer<typeof documentSchema>;
/** Documents as their readers take them: the original pipeline writes a field it has no value for as null. */
const documentsSchema = lazySchema((z) => z.array(z.preprocess(withoutNulls, documentSchema.get())));

function withoutNulls(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
}

const identifySchema = lazySchema((z) =>
  z.object({
    documents_to_create: z
      .array(
        z.object({
          document_name: z.string().min(1),
          description: z.string().min(1),
          responsible_role_type: z.string().min(1),
          document_template_primary: z.string().min(1).describe('A standard template or framework to start from.'),
          steps_to_create: strings(z, 5),
          approval_authorities: z.string().min(1),
        }),
      )
      .min(2)
      .max(10),
    documents_to_find: z
      .array(
        z.object({
          document_name: z.string().min(1),
          description: z.string().min(1).describe('Existing data, laws, statistics or reports the plan needs.'),
          recency_requirement: z.string().min(1),
          responsible_role_type: z.string().min(1),
          steps_to_find: strings(z, 5),
          access_difficulty: z.string().min(1),
        }),
      )
      .min(2)
      .max(10),
  }),
);
type Identified = Infer<typeof identifySchema>;

/** The documents the project must create (charter, budget, policies…) and the ones it must find. */
export class IdentifyDocumentsTask extends OneCallTask<Identified> {
  override requires() {
    return this.need(IdentifyPurposeTask, ...DATA_INPUTS);
  }
  override output() {
    return {
      raw: file('017-3-identified_documents_raw.json'),
      md: file('017-4-identified_documents.md'),
      find: file('017-5-identified_documents_to_find.json'),
      create: file('017-6-identified_documents_to_create.json'),
    };
  }
  protected readonly schemaName = 'identify_documents';
  protected readonly schema = identifySchema;
  protected readonly system =
    `List the documents this project needs in its first months. To create: the documents the team must write (project charter, budget, risk register, permits applications, policies, specifications…), each with a template to start from, steps and who approves it. To find: existing documents, data and regulations the team must obtain, with how recent they must be, steps to find them and how hard they are to get.`;
  protected render(v: Identified) {
    const create: PlanDocument[] = v.documents_to_create.map((d, i) => ({ id: `create-${i + 1}`, ...d }));
    const find: PlanDocument[] = v.documents_to_find.map((d, i) => ({ id: `find-${i + 1}`, ...d }));
    return {
      create,
      find,
      md: doc(section(1, 'Documents to Create', ...create.map(documentSection)), section(1, 'Documents to Find', ...find.map(documentSection))),
    };
  }
}

function documentSection(d: PlanDocument, index: number): string {
  const optional = (label: string, value: string | undefined) => value !== undefined && field(label, value);
  const optionalList = (label: string, value: string[] | undefined) => value !== undefined && section(3, label, bullets(value));
  return section(
    2,
    `${index + 1}. ${d.document_name}`,
    field('ID', d.id),
    field('Description', d.description),
    field('Responsible role', d.responsible_role_type),
    optional('Recency requirement', d.recency_requirement),
    optional('Access difficulty', d.access_difficulty),
    optional('Primary template', d.document_template_primary),
    optional('Approval authorities', d.approval_authorities),
    optionalList('Steps to find', d.steps_to_find),
    optionalList('Steps to create', d.steps_to_create),
    optionalList('Essential information', d.essential_information),
    optionalList('Risks of poor quality', d.risks_of_poor_quality),
    optional('Worst case scenario', d.worst_case_scenario),
    optional('Best case scenario', d.best_case_scenario),
    optionalList('Fallback alternative approaches', d.fallback_alternative_approaches),
  );
}

const filterSchema = lazySchema((z) =>
  z.object({
    document_list: z
      .array(z.object({ id: z.string().min(1), rationale: z.string().min(1), priority: z.enum(['Critical', 'High', 'Medium', 'Low']) }))
      .min(1)
      .max(8),
    summary: z.string().min(1),
  }),
);

/** Keeps the ~5 documents (of one kind) that matter most; falls back to the first five if no id is valid. */
abstract class FilterDocumentsTask extends PlanTask {
  protected abstract readonly kind: 'find' | 'create';
  override requires() {
    return this.need(...CTX_DOCS, IdentifyPurposeTask, IdentifyDocumentsTask);
  }
  override async run(ctx: PlanContext): Promise<void> {
    const all = await readJson(ctx, this.dep(IdentifyDocumentsTask).output()[this.kind], documentsSchema);
    const transcript = new Transcript(ctx.llm);
    const answer = await transcript.ask({
      system: `From the documents to ${this.kind} below, keep the about five that matter most in the first months of this project: those that unblock decisions, funding, permits or safety. Refer to them by id, say why and set a priority.`,
      user: `${await readDocs(ctx, this.need(...CTX_DOCS, IdentifyPurposeTask))}\n\nDocuments to ${this.kind}:\n${JSON.stringify(all, null, 2)}`,
      schema: filterSchema,
      name: `filter_documents_to_${this.kind}`,
    });
    const picked = answer.document_list.flatMap((p) => all.filter((d) => d.id === p.id));
    const unique = [...new Set(picked)].slice(0, 5);
    const kept = unique.length > 0 ? unique : all.slice(0, 5);
    writeOutputs(ctx, this.output(), { raw: transcript.toJson({ ...answer, kept_ids: kept.map((d) => d.id) }), clean: kept });
  }
}

export class FilterDocumentsToFindTask extends FilterDocumentsTask {
  protected readonly kind = 'find';
  override output() {
    return { raw: file('017-7-filter_documents_to_find_raw.json'), clean: file('017-8-filter_documents_to_find_clean.json') };
  }
}

export class FilterDocumentsToCreateTask extends FilterDocumentsTask {
  protected readonly kind = 'create';
  override output() {
    return { raw: file('017-9-filter_documents_to_create_raw.json'), clean: file('017-10-filter_documents_to_create_clean.json') };
  }
}

const draftSchema = lazySchema((z) =>
  z.object({
    essential_information: z.array(z.string().min(1)).min(2).max(8).describe('The questions the document must answer, concretely.'),
    risks_of_poor_quality: z.array(z.string().min(1)).min(1).max(5),
    worst_case_scenario: z.string().min(1),
    best_case_scenario: z.string().min(1),
    fallback_alternative_approaches: z.array(z.string().min(1)).min(1).max(4),
  }),
);

/** A draft outline per document (one call each), in a combined JSON file. */
abstract class DraftDocumentsTask extends PlanTask {
  override readonly usesSpeed = true;
  protected abstract readonly filter: new (
    config: PlanConfig,
  ) => PlanTask & { output(): { clean: FileTarget } };
  protected abstract readonly itemFilePrefix: string;
  protected abstract readonly verb: string;
  override requires() {
    return this.need(...CTX_DOCS, this.filter);
  }
  override async run(ctx: PlanContext): Promise<void> {
    const documents = await readJson(ctx, new this.filter(this.config).output().clean, documentsSchema);
    const context = await readDocs(ctx, this.need(...CTX_DOCS));
    const drafts = await runPerItem(ctx, {
      items: documents,
      speed: this.config.speed,
      key: (_d, n) => `document-${n}`,
      rawFile: (n) => `${this.itemFilePrefix}-${n}-draft_documents_to_${this.verb}_raw.json`,
      run: (document, t) =>
        t.ask({
          system: `Prepare the document described below for this project: the essential information it must contain, what goes wrong if it is poor, the worst and best case, and fallbacks if it cannot be ${this.verb === 'find' ? 'found' : 'written'} in time.\n\n${context}`,
          user: JSON.stringify(document, null, 2),
          schema: draftSchema,
          name: `draft_document_to_${this.verb}`,
        }),
    });
    writeOutputs(ctx, this.output(), { json: drafts.map((d) => ({ ...d.item, ...d.result })) });
  }
}

export class DraftDocumentsToFindTask extends DraftDocumentsTask {
  protected readonly filter = FilterDocumentsToFindTask;
  protected readonly itemFilePrefix = '017-11';
  protected readonly verb = 'find';
  override output() {
    return { json: file('017-12-draft_documents_to_find.json') };
  }
}

export class DraftDocumentsToCreateTask extends DraftDocumentsTask {
  protected readonly filter = FilterDocumentsToCreateTask;
  protected readonly itemFilePrefix = '017-13';
  protected readonly verb = 'create';
  override output() {
    return { json: file('017-14-draft_documents_to_create.json') };
  }
}

/** The documents section: the drafted documents to create and to find. */
export class MarkdownWithDocumentsToCreateAndFindTask extends PlanTask {
  override requires() {
    return this.need(DraftDocumentsToFindTask, DraftDocumentsToCreateTask);
  }
  override output() {
    return { md: file('017-15-documents_to_create_and_find.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const find = await readJson(ctx, this.dep(DraftDocumentsToFindTask).output().json, documentsSchema);
    const create = await readJson(ctx, this.dep(DraftDocumentsToCreateTask).output().json, documentsSchema);
    writeOutputs(ctx, this.output(), {
      md: doc(
        section(1, 'Documents to Create', create.length === 0 && bullets([]), ...create.map(documentSection)),
        section(1, 'Documents to Find', find.length === 0 && bullets([]), ...find.map(documentSection)),
      ),
    });
  }
}
