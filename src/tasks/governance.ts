import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext, type PlanTaskClass } from './plan-task.js';
import { CTX_DOCS } from './assessment.js';
import { readTaskDoc } from './support/docs.js';
import { bullets, doc, field, heading, section, table } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';

const GOVERNANCE_ROLE = `You design the governance of a project: who decides, who checks, how problems are escalated and how progress is watched. Be specific to this project and consistent with the governance parts already written (if any are given).`;

/** A governance phase: reads the ctx docs and every earlier phase. */
abstract class GovernancePhaseTask<T> extends OneCallTask<T> {
  protected abstract readonly earlierPhases: readonly PlanTaskClass[];
  override requires() {
    return this.need(...CTX_DOCS, ...this.earlierPhases);
  }
}

const auditSchema = lazySchema((z) =>
  z.object({
    corruption_risks: z.array(z.string().min(1)).min(2).max(6),
    misallocation_risks: z.array(z.string().min(1)).min(2).max(6),
    audit_procedures: z.array(z.string().min(1)).min(2).max(6),
    transparency_measures: z.array(z.string().min(1)).min(2).max(6),
  }),
);
type Audit = Infer<typeof auditSchema>;

export class GovernancePhase1AuditTask extends GovernancePhaseTask<Audit> {
  protected readonly earlierPhases = [];
  override output() {
    return { raw: file('006-1-governance_phase1_audit_raw.json'), md: file('006-2-governance_phase1_audit.md') };
  }
  protected readonly schemaName = 'governance_audit';
  protected readonly schema = auditSchema;
  protected readonly system =
    `${GOVERNANCE_ROLE}\nPhase 1, audit: list the concrete ways money or authority could be abused or wasted in this project (corruption, misallocation), the audit procedures that catch them (with frequency and who performs them) and the transparency measures that prevent them.`;
  protected render(v: Audit) {
    return {
      md: doc(
        section(2, 'Corruption Risks', bullets(v.corruption_risks)),
        section(2, 'Misallocation Risks', bullets(v.misallocation_risks)),
        section(2, 'Audit Procedures', bullets(v.audit_procedures)),
        section(2, 'Transparency Measures', bullets(v.transparency_measures)),
      ),
    };
  }
}

const bodiesSchema = lazySchema((z) =>
  z.object({
    bodies: z
      .array(
        z.object({
          name: z.string().min(1),
          rationale: z.string().min(1),
          responsibilities: z.array(z.string().min(1)).min(1).max(6),
          initial_setup_actions: z.array(z.string().min(1)).max(5),
          membership: z.array(z.string().min(1)).min(1).max(8),
          decision_rights: z.string().min(1),
          decision_mechanism: z.string().min(1),
          meeting_cadence: z.string().min(1),
          escalation_path: z.string().min(1),
        }),
      )
      .min(2)
      .max(5),
  }),
);
type Bodies = Infer<typeof bodiesSchema>;

export class GovernancePhase2BodiesTask extends GovernancePhaseTask<Bodies> {
  protected readonly earlierPhases = [GovernancePhase1AuditTask];
  override output() {
    return { raw: file('006-3-governance_phase2_bodies_raw.json'), md: file('006-4-governance_phase2_bodies.md') };
  }
  protected readonly schemaName = 'governance_bodies';
  protected readonly schema = bodiesSchema;
  protected readonly system =
    `${GOVERNANCE_ROLE}\nPhase 2, bodies: define the internal governance bodies (steering committee, project office, technical or ethics advisory group… only those this project needs), each with its rationale, responsibilities, first setup actions, members by role, decision rights and mechanism, meeting cadence and escalation path.`;
  protected render(v: Bodies) {
    return {
      md: doc(
        ...v.bodies.map((b, i) =>
          section(
            2,
            `${i + 1}. ${b.name}`,
            field('Rationale', b.rationale),
            section(3, 'Responsibilities', bullets(b.responsibilities)),
            section(3, 'Initial Setup Actions', bullets(b.initial_setup_actions)),
            section(3, 'Membership', bullets(b.membership)),
            field('Decision Rights', b.decision_rights),
            field('Decision Mechanism', b.decision_mechanism),
            field('Meeting Cadence', b.meeting_cadence),
            field('Escalation Path', b.escalation_path),
          ),
        ),
      ),
    };
  }
}

const implSchema = lazySchema((z) =>
  z.object({
    steps: z
      .array(
        z.object({
          step: z.string().min(1),
          responsible_body: z.string().min(1),
          timeframe: z.string().min(1).describe('e.g. "Project week 2".'),
          key_outputs: z.array(z.string().min(1)).max(4),
          dependencies: z.array(z.string().min(1)).max(4),
        }),
      )
      .min(3)
      .max(12),
  }),
);
type Impl = Infer<typeof implSchema>;

export class GovernancePhase3ImplPlanTask extends GovernancePhaseTask<Impl> {
  protected readonly earlierPhases = [GovernancePhase1AuditTask, GovernancePhase2BodiesTask];
  override output() {
    return { raw: file('006-5-governance_phase3_impl_plan_raw.json'), md: file('006-6-governance_phase3_impl_plan.md') };
  }
  protected readonly schemaName = 'governance_implementation_plan';
  protected readonly schema = implSchema;
  protected readonly system =
    `${GOVERNANCE_ROLE}\nPhase 3, implementation: the ordered steps that set up the governance bodies and procedures, each with the responsible body, a timeframe, its outputs and what it depends on.`;
  protected render(v: Impl) {
    return {
      md: doc(
        ...v.steps.map((s, i) =>
          section(
            3,
            `${i + 1}. ${s.step}`,
            field('Responsible Body/Role', s.responsible_body),
            field('Suggested Timeframe', s.timeframe),
            section(4, 'Key Outputs/Deliverables', bullets(s.key_outputs)),
            section(4, 'Dependencies', bullets(s.dependencies)),
          ),
        ),
      ),
    };
  }
}

const matrixSchema = lazySchema((z) =>
  z.object({
    rows: z
      .array(
        z.object({
          issue: z.string().min(1),
          escalation_level: z.string().min(1),
          approval_process: z.string().min(1),
          rationale: z.string().min(1),
          negative_consequences: z.string().min(1).describe('What happens if it is not escalated.'),
        }),
      )
      .min(2)
      .max(8),
  }),
);
type Matrix = Infer<typeof matrixSchema>;

export class GovernancePhase4DecisionEscalationMatrixTask extends GovernancePhaseTask<Matrix> {
  protected readonly earlierPhases = [GovernancePhase1AuditTask, GovernancePhase2BodiesTask, GovernancePhase3ImplPlanTask];
  override output() {
    return {
      raw: file('006-7-governance_phase4_decision_escalation_matrix_raw.json'),
      md: file('006-8-governance_phase4_decision_escalation_matrix.md'),
    };
  }
  protected readonly schemaName = 'decision_escalation_matrix';
  protected readonly schema = matrixSchema;
  protected readonly system =
    `${GOVERNANCE_ROLE}\nPhase 4, escalation: a decision escalation matrix. For each kind of issue this project will meet (budget overrun above a threshold, critical risk, deadlock, ethics or safety concern…), name the level it goes to, how it is approved, why, and the cost of not escalating.`;
  protected render(v: Matrix) {
    return {
      md: doc(
        table(
          ['Issue', 'Escalation level', 'Approval process', 'Rationale', 'Negative consequences'],
          v.rows.map((r) => [r.issue, r.escalation_level, r.approval_process, r.rationale, r.negative_consequences]),
        ),
      ),
    };
  }
}

const monitoringSchema = lazySchema((z) =>
  z.object({
    items: z
      .array(
        z.object({
          approach: z.string().min(1),
          monitoring_tools: z.string().min(1),
          frequency: z.string().min(1),
          responsible_role: z.string().min(1),
          adaptation_process: z.string().min(1),
          adaptation_trigger: z.string().min(1).describe('A measurable threshold, e.g. "cost variance above 10%".'),
        }),
      )
      .min(2)
      .max(8),
  }),
);
type Monitoring = Infer<typeof monitoringSchema>;

export class GovernancePhase5MonitoringProgressTask extends GovernancePhaseTask<Monitoring> {
  protected readonly earlierPhases = [
    GovernancePhase1AuditTask,
    GovernancePhase2BodiesTask,
    GovernancePhase3ImplPlanTask,
    GovernancePhase4DecisionEscalationMatrixTask,
  ];
  override output() {
    return { raw: file('006-9-governance_phase5_monitoring_progress_raw.json'), md: file('006-10-governance_phase5_monitoring_progress.md') };
  }
  protected readonly schemaName = 'monitoring_progress';
  protected readonly schema = monitoringSchema;
  protected readonly system =
    `${GOVERNANCE_ROLE}\nPhase 5, monitoring: how progress against the plan is tracked (KPIs, budget, risks, stakeholder sentiment, compliance), with tools, frequency, the responsible role, and the measurable trigger that starts an adaptation.`;
  protected render(v: Monitoring) {
    return {
      md: doc(
        ...v.items.map((m, i) =>
          section(
            3,
            `${i + 1}. ${m.approach}`,
            field('Monitoring Tools/Platforms', m.monitoring_tools),
            field('Frequency', m.frequency),
            field('Responsible Role', m.responsible_role),
            field('Adaptation Process', m.adaptation_process),
            field('Adaptation Trigger', m.adaptation_trigger),
          ),
        ),
      ),
    };
  }
}

const extraSchema = lazySchema((z) =>
  z.object({
    validation_checks: z
      .array(z.object({ check: z.string().min(1), finding: z.string().min(1) }))
      .min(2)
      .max(8),
    tough_questions: z.array(z.string().min(1)).min(3).max(8),
    summary: z.string().min(1),
  }),
);
type Extra = Infer<typeof extraSchema>;

export class GovernancePhase6ExtraTask extends GovernancePhaseTask<Extra> {
  protected readonly earlierPhases = [
    GovernancePhase1AuditTask,
    GovernancePhase2BodiesTask,
    GovernancePhase3ImplPlanTask,
    GovernancePhase4DecisionEscalationMatrixTask,
    GovernancePhase5MonitoringProgressTask,
  ];
  override output() {
    return { raw: file('006-11-governance_phase6_extra_raw.json'), md: file('006-12-governance_phase6_extra.md') };
  }
  protected readonly schemaName = 'governance_extra';
  protected readonly schema = extraSchema;
  protected readonly system =
    `${GOVERNANCE_ROLE}\nPhase 6, review: check the governance written so far for completeness and consistency (does every body have a role, every risk an owner, every escalation a sponsor?), ask the tough questions the sponsors should ask regularly, and summarise.`;
  protected render(v: Extra) {
    return {
      md: doc(
        section(2, 'Governance Validation Checks', numbered(v.validation_checks)),
        section(2, 'Tough Questions', bullets(v.tough_questions)),
        section(2, 'Summary', v.summary),
      ),
    };
  }
}

function numbered(checks: Extra['validation_checks']): string {
  return checks.map((c, i) => `${i + 1}. ${field(c.check.replace(/\s+/g, ' '), c.finding.replace(/\s+/g, ' '))}`).join('\n');
}

const PHASES: readonly { title: string; task: PlanTaskClass }[] = [
  { title: 'Governance Audit', task: GovernancePhase1AuditTask },
  { title: 'Internal Governance Bodies', task: GovernancePhase2BodiesTask },
  { title: 'Governance Implementation Plan', task: GovernancePhase3ImplPlanTask },
  { title: 'Decision Escalation Matrix', task: GovernancePhase4DecisionEscalationMatrixTask },
  { title: 'Monitoring Progress', task: GovernancePhase5MonitoringProgressTask },
  { title: 'Governance Extra', task: GovernancePhase6ExtraTask },
];

/** The six governance phases in one document. */
export class ConsolidateGovernanceTask extends PlanTask {
  override requires() {
    return this.need(...PHASES.map((p) => p.task));
  }
  override output() {
    return { md: file('006-13-consolidate_governance.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const parts = await Promise.all(PHASES.map(async (p) => doc(heading(1, p.title), await readTaskDoc(ctx, new p.task(this.config))).trimEnd()));
    writeOutputs(ctx, this.output(), { md: doc(...parts) });
  }
}
