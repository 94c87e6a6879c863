import { escapeHtml, htmlPage, jsonForScript } from './html.js';
import type { ScheduledItem } from './schedule-compute.js';

/** Mermaid's gantt syntax breaks on these; they are replaced in names (the page escapes the rest). */
const mermaidText = (text: string): string =>
  text
    .replace(/[:;#\n\r]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim() || '-';
const mermaidId = (id: string): string => `t${id.replace(/[^0-9A-Za-z]/g, '_')}`;

/** The Mermaid source of the Gantt chart: one section per phase, one bar per task. */
export function mermaidGantt(title: string, items: readonly ScheduledItem[]): string {
  const lines = ['gantt', `    title ${mermaidText(title)}`, '    dateFormat YYYY-MM-DD', '    axisFormat %Y-%m-%d'];
  for (const phase of items.filter((i) => i.depth === 1)) {
    lines.push(`    section ${mermaidText(phase.name)}`);
    const units = items.filter((i) => i.parentId === phase.id);
    for (const unit of units.length > 0 ? units : [phase]) {
      lines.push(`    ${mermaidText(unit.name)} :${mermaidId(unit.id)}, ${unit.start}, ${unit.days}d`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A page holding the Mermaid source (no script, no network) and the schedule as a table. */
export function mermaidPage(title: string, items: readonly ScheduledItem[]): string {
  const rows = items
    .map(
      (i) =>
        `<tr><td>${escapeHtml(i.id)}</td><td style="padding-left:${8 + i.depth * 16}px">${escapeHtml(i.name)}</td><td>${i.start}</td><td>${i.end}</td><td>${i.days}</td></tr>`,
    )
    .join('\n');
  return htmlPage({
    title: `${title} — Gantt (Mermaid)`,
    body: `<h1>${escapeHtml(title)} — Gantt chart</h1>
<p>The Mermaid source of the chart; paste it into any Mermaid viewer to draw it.</p>
<pre class="mermaid">${escapeHtml(mermaidGantt(title, items))}</pre>
<h2>Schedule</h2>
<table><thead><tr><th>ID</th><th>Name</th><th>Start</th><th>End</th><th>Days</th></tr></thead><tbody>
${rows}
</tbody></table>`,
  });
}

const GANTT_CSS = `
.gantt{display:grid;grid-template-columns:minmax(220px,34%) 1fr;border:1px solid #ddd;font-size:13px}
.names,.chart{overflow:hidden}.chart{overflow-x:auto;position:relative}
.row{height:26px;line-height:26px;border-bottom:1px solid #f0f0f0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.names .row{padding-right:8px}.names .row.group{font-weight:600;cursor:pointer}
.track{position:relative}.bar{position:absolute;top:5px;height:16px;border-radius:3px;background:#4a90d9}
.bar.d0{background:#2c3e50}.bar.d1{background:#7f8c8d}.bar.d3{background:#9cc3ec}
.scale{height:26px;position:relative;border-bottom:1px solid #ddd;background:#fafafa}
.tick{position:absolute;top:0;height:100%;border-left:1px solid #e3e3e3;font-size:11px;padding-left:3px;color:#666}
.toolbar{margin:8px 0}.toolbar button{margin-right:6px}#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:6px 8px;border-radius:4px;font-size:12px;display:none;max-width:360px}`;

/**
 * Our own interactive Gantt chart (no library, no network): zoom, collapsible phases, tooltips. The data
 * sits in a JSON script element and is put on the page with `textContent` only.
 */
const GANTT_SCRIPT = `
(function(){
var items=JSON.parse(document.getElementById('gantt-data').textContent);
var dayWidth=12, collapsed={};
var total=items.reduce(function(m,i){return Math.max(m,i.offset+i.days)},1);
var names=document.getElementById('names'), chart=document.getElementById('chart'), tip=document.getElementById('tip');
function hidden(item){var p=item.parentId;while(p!==null){if(collapsed[p])return true;var parent=items.find(function(i){return i.id===p});p=parent?parent.parentId:null}return false}
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e}
function render(){
names.textContent='';chart.textContent='';
var scale=el('div','scale');scale.style.width=(total*dayWidth)+'px';names.appendChild(el('div','row','Task'));
var step=dayWidth>=12?7:(dayWidth>=4?30:90);
for(var d=0;d<total;d+=step){var t=el('div','tick',items[0]?addDays(items[0].start,d):'');t.style.left=(d*dayWidth)+'px';scale.appendChild(t)}
chart.appendChild(scale);
items.forEach(function(item){
 if(hidden(item))return;
 var hasKids=items.some(function(i){return i.parentId===item.id});
 var name=el('div','row'+(hasKids?' group':''),(hasKids?(collapsed[item.id]?'\\u25B8 ':'\\u25BE '):'')+item.id+' '+item.name);
 name.style.paddingLeft=(6+item.depth*14)+'px';name.title=item.name;
 if(hasKids)name.onclick=function(){collapsed[item.id]=!collapsed[item.id];render()};
 names.appendChild(name);
 var track=el('div','row track');track.style.width=(total*dayWidth)+'px';
 var bar=el('div','bar d'+item.depth);bar.style.left=(item.offset*dayWidth)+'px';bar.style.width=Math.max(2,item.days*dayWidth-1)+'px';
 bar.onmousemove=function(e){tip.textContent=item.id+' '+item.name+' \\u2014 '+item.start+' \\u2192 '+item.end+' ('+item.days+' days)'+(item.dependsOn.length?'; after '+item.dependsOn.join(', '):'');tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px'};
 bar.onmouseleave=function(){tip.style.display='none'};
 track.appendChild(bar);chart.appendChild(track);
});
}
function addDays(date,n){var d=new Date(date+'T00:00:00Z');d.setUTCDate(d.getUTCDate()+n);return d.toISOString().slice(0,10)}
document.getElementById('zoom-in').onclick=function(){dayWidth=Math.min(48,dayWidth*2);render()};
document.getElementById('zoom-out').onclick=function(){dayWidth=Math.max(1,dayWidth/2);render()};
document.getElementById('collapse').onclick=function(){items.forEach(function(i){if(i.depth===1)collapsed[i.id]=true});render()};
document.getElementById('expand').onclick=function(){collapsed={};render()};
render();
})();`;

export function interactiveGanttPage(title: string, items: readonly ScheduledItem[]): string {
  return htmlPage({
    title: `${title} — Gantt`,
    css: GANTT_CSS,
    body: `<h1>${escapeHtml(title)} — Gantt chart</h1>
<div class="toolbar"><button id="zoom-in">Zoom in</button><button id="zoom-out">Zoom out</button><button id="collapse">Collapse phases</button><button id="expand">Expand all</button></div>
<div class="gantt"><div class="names" id="names"></div><div class="chart" id="chart"></div></div>
<div id="tip"></div>
<script type="application/json" id="gantt-data">${jsonForScript(items)}</script>`,
    script: GANTT_SCRIPT,
  });
}
