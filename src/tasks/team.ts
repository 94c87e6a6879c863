import type { z } from 'zod';
import { lazySchema, type Infer, type LazySchema } from './support/lazy-schema.js';
import { file, type FileTarget } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { CTX_DOCS, PreProjectAssessmentTask, RelatedResourcesTask } from './assessment.js';
import { readDocs, readJson } from './support/docs.js';
import { answerFor } from './support/match.js';
import { bullets, doc, field, section } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { Transcript } from './support/transcript.js';

export const memberSchema = lazySchema((z) =>
  z.object({
    // The original pipeline numbers its members (`"id": 1`); ours are strings.
    id: z.union([z.string().min(1), z.number().transform(String)]),
    category: z.string().min(1),
    explanation: z.string().min(1),
    consequences: z.string().min(1),
    count: z.string().min(1),
    contract_type: z.string().min(1).optional(),
    contract_type_justification: z.string().min(1).optional(),
    typical_job_activities: z.string().min(1).optional(),
    background_story: z.string().min(1).optional(),
    equipment_needs: z.string().min(1).optional(),
    facility_needs: z.string().min(1).optional(),
  }),
);
export type TeamMember = Infer<typeof memberSchema>;
const teamSchema = lazySchema((z) => z.array(memberSchema.get()));

const TEAM_CONTEXT = [...CTX_DOCS, PreProjectAssessmentTask, RelatedResourcesTask];

const findSchema = lazySchema((z) =>
  z.object({
    team_members: z
      .array(
        z.object({
          job_category_title: z.string().min(1),
          short_explanation: z.string().min(1).describe('What this role does for this project.'),
          people_needed: z.string().min(1).describe('How many, e.g. "2" or "1-3 depending on phase".'),
          consequences_of_not_having: z.string().min(1),
        }),
      )
      .min(3)
      .max(10),
  }),
);
type Found = Infer<typeof findSchema>;

/** The roles the project needs. */
export class FindTeamMembersTask extends OneCallTask<Found> {
  override requires() {
    return this.need(...TEAM_CONTEXT);
  }
  override output() {
    return { raw: file('008-1-find_team_members_raw.json'), json: file('008-2-find_team_members.json') };
  }
  protected readonly schemaName = 'find_team_members';
  protected readonly schema = findSchema;
  protected readonly system =
    `Name the roles this project needs to succeed, from leadership to the specialists and support staff that are easy to forget. For each: what it does here, how many people, and what goes wrong without it. Roles, not named people.`;
  protected render(v: Found) {
    const team: TeamMember[] = v.team_members.map((m, i) => ({
      id: String(i + 1),
      category: m.job_category_title,
      explanation: m.short_explanation,
      consequences: m.consequences_of_not_having,
      count: m.people_needed,
    }));
    return { json: team };
  }
}

/**
 * One enrichment of the team: a single call adds the same fields to every member. The answer is merged by
 * member id (or position), so a member the model skipped keeps what it had.
 */
abstract class EnrichTeamTask extends PlanTask {
  protected abstract readonly previous: () => PlanTask & { output(): { json: FileTarget } };
  protected abstract readonly fields: LazySchema<z.ZodObject<Record<string, z.ZodString>>>;
  protected abstract readonly instruction: string;
  protected abstract readonly schemaName: string;
  override requires() {
    return [...this.need(...TEAM_CONTEXT), this.previous()];
  }
  override async run(ctx: PlanContext): Promise<void> {
    const team = await readJson(ctx, this.previous().output().json, teamSchema);
    const schema = lazySchema((z) =>
      z.object({
        team_members: z
          .array(this.fields.get().extend({ id: z.string().min(1) }))
          .describe('One entry per team member, in the order given, with its id.'),
      }),
    );
    const transcript = new Transcript(ctx.llm);
    const answer = await transcript.ask({
      system: `You staff a project. ${this.instruction}`,
      user: await readDocs(ctx, this.requires()),
      schema,
      name: this.schemaName,
    });
    const enriched: TeamMember[] = team.map((member, i) => {
      const found = answerFor(answer.team_members as { id: string }[], member.id, i);
      if (!found) return member;
      const { id: _id, ...fields } = found as Record<string, string>;
      return { ...member, ...fields };
    });
    writeOutputs(ctx, this.output(), { raw: transcript.toJson(enriched), json: enriched });
  }
}

export class EnrichTeamMembersWithContractTypeTask extends EnrichTeamTask {
  protected readonly previous = () => this.dep(FindTeamMembersTask);
  override output() {
    return { raw: file('009-1-enrich_team_members_contract_type_raw.json'), json: file('009-2-enrich_team_members_contract_type.json') };
  }
  protected readonly schemaName = 'team_contract_type';
  protected readonly fields = lazySchema((z) =>
    z.object({
      contract_type: z.string().min(1).describe('full_time_employee, part_time_employee, independent_contractor, agency_temp or other.'),
      contract_type_justification: z.string().min(1),
    }),
  );
  protected readonly instruction =
    `For each role, choose how the people are engaged (full-time employee, part-time, independent contractor, agency temp, other) given the project's duration, budget and need for continuity, and justify it.`;
}

export class EnrichTeamMembersWithBackgroundStoryTask extends EnrichTeamTask {
  protected readonly previous = () => this.dep(EnrichTeamMembersWithContractTypeTask);
  override output() {
    return { raw: file('010-1-enrich_team_members_background_story_raw.json'), json: file('010-2-enrich_team_members_background_story.json') };
  }
  protected readonly schemaName = 'team_background_story';
  protected readonly fields = lazySchema((z) =>
    z.object({
      typical_job_activities: z.string().min(1),
      background_story: z.string().min(1).describe('A short, realistic profile of a person who would fit: name, experience, why they fit.'),
    }),
  );
  protected readonly instruction =
    `For each role, describe its typical activities on this project and write a short background story of a plausible person who would fill it well.`;
}

export class EnrichTeamMembersWithEnvironmentInfoTask extends EnrichTeamTask {
  protected readonly previous = () => this.dep(EnrichTeamMembersWithBackgroundStoryTask);
  override output() {
    return { raw: file('011-1-enrich_team_members_environment_info_raw.json'), json: file('011-2-enrich_team_members_environment_info.json') };
  }
  protected readonly schemaName = 'team_environment_info';
  protected readonly fields = lazySchema((z) =>
    z.object({
      equipment_needs: z.string().min(1).describe('Tools, software, vehicles, protective gear…'),
      facility_needs: z.string().min(1).describe('Office, lab, site access, workshop…'),
    }),
  );
  protected readonly instruction = `For each role, list the equipment and the facilities the person needs to do the job on this project.`;
}

const reviewSchema = lazySchema((z) =>
  z.object({
    omissions: z
      .array(z.object({ issue: z.string().min(1), explanation: z.string().min(1), recommendation: z.string().min(1) }))
      .min(1)
      .max(5),
    potential_improvements: z
      .array(z.object({ issue: z.string().min(1), explanation: z.string().min(1), recommendation: z.string().min(1) }))
      .min(1)
      .max(5),
  }),
);
type TeamReview = Infer<typeof reviewSchema>;

/** A critique of the team: missing roles and improvements. */
export class ReviewTeamTask extends OneCallTask<TeamReview> {
  override requires() {
    return this.need(...TEAM_CONTEXT, EnrichTeamMembersWithEnvironmentInfoTask);
  }
  override output() {
    return { raw: file('012-review_team_raw.json') };
  }
  protected readonly schemaName = 'review_team';
  protected readonly schema = reviewSchema;
  protected readonly system =
    `Review the proposed team for this project. Find the roles or skills that are missing and the changes that would make the team work better (overlaps, unclear responsibilities, single points of failure, wrong contract types). Give a concrete recommendation for each.`;
  protected render() {
    return {};
  }
}

const reviewStoredSchema = lazySchema(() =>
  reviewSchema.get().extend({
    omissions: reviewSchema.get().shape.omissions.min(0),
    potential_improvements: reviewSchema.get().shape.potential_improvements.min(0),
  }),
);

/** The team document: every role with its enrichments, then the review. */
export class TeamMarkdownTask extends PlanTask {
  override requires() {
    return this.need(EnrichTeamMembersWithEnvironmentInfoTask, ReviewTeamTask);
  }
  override output() {
    return { md: file('013-team.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const team = await readJson(ctx, this.dep(EnrichTeamMembersWithEnvironmentInfoTask).output().json, teamSchema);
    const review = await readJson(ctx, this.dep(ReviewTeamTask).output().raw, reviewStoredSchema);
    const optional = (label: string, value: string | undefined) => value !== undefined && value.trim() !== '' && field(label, value);
    const issues = (list: TeamReview['omissions']) => list.map((o) => section(3, o.issue, o.explanation, field('Recommendation', o.recommendation)));
    writeOutputs(ctx, this.output(), {
      md: doc(
        ...team.map((m, i) =>
          section(
            2,
            `${i + 1}. ${m.category}`,
            field('Count', m.count),
            field('Role', m.explanation),
            field('Why it matters', m.consequences),
            optional('Contract Type', m.contract_type),
            optional('Contract Type Justification', m.contract_type_justification),
            optional('Typical Activities', m.typical_job_activities),
            optional('Background Story', m.background_story),
            optional('Equipment Needs', m.equipment_needs),
            optional('Facility Needs', m.facility_needs),
          ),
        ),
        section(1, 'Omissions', review.omissions.length === 0 && bullets([]), ...issues(review.omissions)),
        section(1, 'Potential Improvements', review.potential_improvements.length === 0 && bullets([]), ...issues(review.potential_improvements)),
      ),
    });
  }
}
