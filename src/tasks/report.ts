import { file, type FileTarget } from '../engine/target.js';
import { PlanTask, type PlanConfig, type PlanContext, type PlanTaskClass } from './plan-task.js';
import { PreProjectAssessmentTask, ProjectPlanTask, RelatedResourcesTask } from './assessment.js';
import { ConsolidateAssumptionsMarkdownTask } from './assumptions.js';
import { DataCollectionTask, MarkdownWithDocumentsToCreateAndFindTask } from './documents.js';
import { ConsolidateGovernanceTask } from './governance.js';
import { StrategicDecisionsMarkdownTask } from './levers.js';
import { ConvertPitchToMarkdownTask } from './pitch.js';
import { ExecutiveSummaryTask, PremortemTask, QuestionsAndAnswersTask, ReviewPlanTask, SelfAuditTask } from './review.js';
import { ScenariosMarkdownTask } from './scenarios.js';
import { CreateScheduleTask } from './schedule.js';
import { PremiseAttackTask, RedlineGateTask } from './setup.js';
import { ExpertReviewTask, SWOTAnalysisTask } from './swot-experts.js';
import { TeamMarkdownTask } from './team.js';
import { CreateWBSLevel1Task, WBSProjectLevel1AndLevel2AndLevel3Task } from './wbs.js';
import { parseCsv } from './support/csv.js';
import { readJsonString } from './support/docs.js';
import { escapeHtml, htmlPage, markdownToHtml } from './support/html.js';
import { writeOutputs } from './support/outputs.js';

interface ReportSection {
  title: string;
  task: PlanTaskClass;
  /** Which file of the task to show; its prompt documents by default. */
  pick?: (task: PlanTask) => FileTarget;
}

const REPORT_SECTIONS: readonly ReportSection[] = [
  { title: 'Executive Summary', task: ExecutiveSummaryTask },
  { title: 'Pitch', task: ConvertPitchToMarkdownTask },
  { title: 'Project Plan', task: ProjectPlanTask },
  { title: 'Strategic Decisions', task: StrategicDecisionsMarkdownTask },
  { title: 'Scenarios', task: ScenariosMarkdownTask },
  { title: 'Assumptions', task: ConsolidateAssumptionsMarkdownTask, pick: (t) => t.output().full! },
  { title: 'Pre-Project Assessment', task: PreProjectAssessmentTask },
  { title: 'Governance', task: ConsolidateGovernanceTask },
  { title: 'Related Resources', task: RelatedResourcesTask },
  { title: 'Team', task: TeamMarkdownTask },
  { title: 'SWOT Analysis', task: SWOTAnalysisTask },
  { title: 'Expert Criticism', task: ExpertReviewTask },
  { title: 'Data Collection', task: DataCollectionTask },
  { title: 'Documents to Create and Find', task: MarkdownWithDocumentsToCreateAndFindTask },
  { title: 'Work Breakdown Structure', task: WBSProjectLevel1AndLevel2AndLevel3Task, pick: (t) => t.output().csv! },
  { title: 'Schedule', task: CreateScheduleTask, pick: (t) => t.output().csv! },
  { title: 'Review Plan', task: ReviewPlanTask },
  { title: 'Questions & Answers', task: QuestionsAndAnswersTask, pick: (t) => t.output().md! },
  { title: 'Premortem', task: PremortemTask },
  { title: 'Self Audit', task: SelfAuditTask },
  { title: 'Premise Attack', task: PremiseAttackTask },
  { title: 'Redline Gate', task: RedlineGateTask },
];

/** Any JSON value as escaped HTML: objects as labelled blocks, arrays as lists. */
export function jsonToHtml(value: unknown): string {
  if (Array.isArray(value)) return `<ul>${value.map((v) => `<li>${jsonToHtml(v)}</li>`).join('')}</ul>`;
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([key, v]) => `<div><strong>${escapeHtml(key.replace(/_/g, ' '))}:</strong> ${jsonToHtml(v)}</div>`)
      .join('');
  }
  return escapeHtml(String(value));
}

/** A CSV as an escaped HTML table. */
export function csvToHtml(text: string): string {
  const [head = [], ...rows] = parseCsv(text);
  const cells = (row: string[], tag: string) => row.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('');
  return `<table><thead><tr>${cells(head, 'th')}</tr></thead><tbody>${rows.map((r) => `<tr>${cells(r, 'td')}</tr>`).join('')}</tbody></table>`;
}

/** One document as HTML, by its kind. */
export function documentToHtml(path: string, text: string): string {
  if (path.endsWith('.md')) return markdownToHtml(text, 2);
  if (path.endsWith('.csv')) return csvToHtml(text);
  if (path.endsWith('.json')) {
    try {
      const data = JSON.parse(text) as unknown;
      return jsonToHtml(typeof data === 'object' && data !== null && 'response' in data ? (data as { response: unknown }).response : data);
    } catch {
      return `<pre>${escapeHtml(text)}</pre>`;
    }
  }
  return `<pre>${escapeHtml(text)}</pre>`;
}

/** The whole report page from its title and sections (title and bodies are model text: all escaped). */
export function renderReport(title: string, sections: readonly { title: string; path: string; text: string }[]): string {
  const toc = sections.map((s, i) => `<li><a href="#s${i + 1}">${escapeHtml(s.title)}</a></li>`).join('');
  const body = sections
    .map(
      (s, i) => `<section id="s${i + 1}"><details open><summary><h2 style="display:inline">${escapeHtml(s.title)}</h2></summary>
<p class="source">${escapeHtml(s.path)}</p>
${documentToHtml(s.path, s.text)}
</details></section>`,
    )
    .join('\n');
  return htmlPage({
    title,
    css: '.source{color:#888;font-size:12px}nav ul{columns:2}',
    body: `<h1>${escapeHtml(title)}</h1>\n<nav><ul>${toc}</ul></nav>\n${body}`,
  });
}

/** One self-contained HTML report of the plan's documents. */
export class ReportTask extends PlanTask {
  override requires() {
    return this.need(CreateWBSLevel1Task, ...REPORT_SECTIONS.map((s) => s.task));
  }
  override output() {
    return { html: file('030-report.html') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const title = await readJsonString(ctx, this.dep(CreateWBSLevel1Task).output().title);
    const sections = await Promise.all(
      reportTargets(this.config).map(async ({ title: sectionTitle, target }) => ({
        title: sectionTitle,
        path: target.path,
        text: await ctx.read(target),
      })),
    );
    writeOutputs(ctx, this.output(), { html: renderReport(title, sections) });
  }
}

function reportTargets(config: PlanConfig): { title: string; target: FileTarget }[] {
  return REPORT_SECTIONS.flatMap((s) => {
    const task = new s.task(config);
    const targets = s.pick ? [s.pick(task)] : task.docTargets();
    return targets.map((target) => ({ title: s.title, target }));
  });
}
