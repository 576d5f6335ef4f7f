/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and lists where the time went: the top frames by
 * self time, and self time grouped by package / area. Usable on its own:
 *   node --import tsx bench/cpu-profile-summary.ts var/bench/profiles/<file>.cpuprofile
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameShare {
  readonly name: string;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of samples outside idle/GC/program markers. */
  readonly busyPercent: number;
  readonly topFrames: readonly FrameShare[];
  /** Self time: the frame on top of the stack belongs to the area. */
  readonly byArea: readonly FrameShare[];
  /** Inclusive time: the area is anywhere on the stack (so shares add up to more than 100 %). */
  readonly byAreaInclusive: readonly FrameShare[];
  /** Inclusive time of the project's own functions (src/), callees included. */
  readonly projectInclusive: readonly FrameShare[];
}

/** Which part of the stack a script URL belongs to: a package, the project's own code, or Node. */
function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const project = /\/(src|demo|bench)\/([^/]+)/.exec(url);
  if (project?.[1] && project[2]) return project[1] === 'src' ? `src/${project[2]}` : project[1];
  return url;
}

/** `name file:line`; TypeScript compiled by tsx carries no line mapping (every line reads 1), so it is left out. */
function frameName(functionName: string, url: string, lineNumber: number): string {
  const line = /\.tsx?$/.test(url) ? '' : `:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'} ${shortUrl(url)}${line}`;
}

function shortUrl(url: string): string {
  const pkg = /node_modules\/(.*)$/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const project = /\/((?:src|demo|bench)\/.*)$/.exec(url);
  return project?.[1] ?? url;
}

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  });
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  const areasInclusive = new Map<string, number>();
  const projectInclusive = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') idleUs += functionName === '(idle)' ? us : 0;
    const name = url ? frameName(functionName, url, lineNumber) : functionName || '(anonymous)';
    frames.set(name, (frames.get(name) ?? 0) + us);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // Every area on this node's stack (counted once per sample), native frames excluded.
    const onStack = new Set<string>();
    const ownOnStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame?.url) continue;
      onStack.add(areaOf(frame.url, frame.functionName));
      if (/\/src\//.test(frame.url) && !frame.url.includes('node_modules')) {
        ownOnStack.add(frameName(frame.functionName, frame.url, frame.lineNumber));
      }
    }
    for (const name of onStack) areasInclusive.set(name, (areasInclusive.get(name) ?? 0) + us);
    for (const name of ownOnStack) projectInclusive.set(name, (projectInclusive.get(name) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const shares = (map: Map<string, number>): FrameShare[] =>
    [...map]
      .filter(([name]) => name !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return {
    totalMs: totalUs / 1000,
    busyPercent: totalUs > 0 ? (100 * busyUs) / totalUs : 0,
    topFrames: shares(frames),
    byArea: shares(areas),
    byAreaInclusive: shares(areasInclusive),
    projectInclusive: shares(projectInclusive),
  };
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const lines = [
    `  profiled ${(summary.totalMs / 1000).toFixed(1)} s, ${summary.busyPercent.toFixed(0)} % busy; shares below are of busy (non-idle) time`,
    '  self time by area:',
    ...summary.byArea.map((f) => `    ${f.percent.toFixed(1).padStart(5)} %  ${f.name}`),
    '  inclusive time by area (the area anywhere on the stack):',
    ...summary.byAreaInclusive.map((f) => `    ${f.percent.toFixed(1).padStart(5)} %  ${f.name}`),
    ...(summary.projectInclusive.length > 0
      ? ['  project functions (src/) by inclusive time:', ...summary.projectInclusive.map((f) => `    ${f.percent.toFixed(1).padStart(5)} %  ${f.name}`)]
      : []),
    '  top frames by self time:',
    ...summary.topFrames.map((f) => `    ${f.percent.toFixed(1).padStart(5)} %  ${f.name}`),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of process.argv.slice(2)) {
    console.log(file);
    console.log(formatProfileSummary(summariseProfile(file, 25)));
  }
}
