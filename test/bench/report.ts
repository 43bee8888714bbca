// Turns the per-system medians into the issue's rows: both systems' figures, the ratio, the target and whether
// each pullthrough variant meets it. The table is markdown, so it can be pasted into the README as is.

export type SystemId = 'distribution' | 'pullthrough-redis' | 'pullthrough-embedded';
export const PULLTHROUGH_IDS = ['pullthrough-redis', 'pullthrough-embedded'] as const;

/** Median figures of one system, keyed by metric. */
export type Metrics = Partial<Record<MetricKey, number>>;

export type MetricKey =
  | 'warmTagRps'
  | 'warmDigestRps'
  | 'warmSmallBlobRps'
  /** Not a row of its own: the S3 table's comparison for the redirect mirror (curl follows, wrk cannot). */
  | 'warmSmallBlobCurlRps'
  | 'warmLargeMBps1'
  | 'warmLargeMBps8'
  /** The warm small blob again after the system sat idle (a mirror between bursts of pulls). */
  | 'warmSmallBlobAfterIdleRps'
  | 'coldLargeTtfbMs'
  | 'coldLargeTotalS'
  /** CPU seconds (user + system) of all the system's processes per cold fill, from the request to 300 ms after its end. */
  | 'coldLargeCpuS'
  | 'coldHerdUpstreamGets'
  | 'coldHerdTotalS'
  | 'memoryPeakMiB'
  | 'economyManifestGetsAfterFirst'
  | 'economyManifestHeads'
  | 'economyUpstreamTotal';

interface Target {
  /** What pullthrough's figure is compared with. */
  against: 'distribution' | 'direct' | 'absolute';
  op: '>=' | '<=' | '==';
  value: number;
  text: string;
}

export interface RowSpec {
  key: MetricKey;
  row: string;
  unit: string;
  /** True when more is better (throughput); ratios are always pullthrough ÷ distribution. */
  higherIsBetter: boolean;
  target?: Target;
}

export interface RowSizes {
  /** Seconds the system sits idle before the after-idle row. */
  idleS: number;
  warmLarge: string;
  coldLarge: string;
  herd: string;
  herdClients: number;
  mem: string;
  memClients: number;
}

export function rowSpecs(economyWindows: number, z: RowSizes): RowSpec[] {
  return [
    { key: 'warmTagRps', row: 'warm tag manifest (16 conn)', unit: 'req/s', higherIsBetter: true, target: { against: 'distribution', op: '>=', value: 10, text: '≥ 10× distribution' } },
    { key: 'warmDigestRps', row: 'warm digest manifest (16 conn)', unit: 'req/s', higherIsBetter: true, target: { against: 'distribution', op: '>=', value: 2, text: '≥ 2× distribution' } },
    { key: 'warmSmallBlobRps', row: 'warm small blob 1 MiB (16 conn)', unit: 'req/s', higherIsBetter: true, target: { against: 'distribution', op: '>=', value: 1.5, text: '≥ 1.5× distribution' } },
    { key: 'warmLargeMBps1', row: `warm large blob ${z.warmLarge}, 1 client`, unit: 'MB/s', higherIsBetter: true, target: { against: 'distribution', op: '>=', value: 1, text: '≥ 1.0× distribution' } },
    { key: 'warmLargeMBps8', row: `warm large blob ${z.warmLarge}, 8 clients`, unit: 'MB/s', higherIsBetter: true, target: { against: 'distribution', op: '>=', value: 1, text: '≥ 1.0× distribution' } },
    { key: 'warmSmallBlobAfterIdleRps', row: `warm small blob 1 MiB after ${z.idleS} s idle (16 conn)`, unit: 'req/s', higherIsBetter: true, target: { against: 'distribution', op: '>=', value: 1.5, text: '≥ 1.5× distribution' } },
    { key: 'coldLargeTtfbMs', row: `cold large blob ${z.coldLarge}: first byte`, unit: 'ms', higherIsBetter: false, target: { against: 'distribution', op: '<=', value: 1, text: '≤ distribution' } },
    { key: 'coldLargeTotalS', row: `cold large blob ${z.coldLarge}: total`, unit: 's', higherIsBetter: false, target: { against: 'direct', op: '<=', value: 1.3, text: '≤ 1.3× upstream direct' } },
    { key: 'coldLargeCpuS', row: `cold large blob ${z.coldLarge}: CPU of the system`, unit: 'CPU-s', higherIsBetter: false },
    { key: 'coldHerdUpstreamGets', row: `cold herd ${z.herdClients} × ${z.herd}: upstream GETs`, unit: 'GETs', higherIsBetter: false, target: { against: 'absolute', op: '==', value: 1, text: '= 1' } },
    { key: 'coldHerdTotalS', row: `cold herd ${z.herdClients} × ${z.herd}: total`, unit: 's', higherIsBetter: false },
    { key: 'memoryPeakMiB', row: `memory: peak RSS, ${z.memClients} × cold ${z.mem} (fresh process)`, unit: 'MiB', higherIsBetter: false, target: { against: 'absolute', op: '<=', value: 200, text: '≤ 200 MiB' } },
    { key: 'economyManifestGetsAfterFirst', row: 'economy: manifest GETs after 1st pull', unit: 'GETs', higherIsBetter: false, target: { against: 'absolute', op: '==', value: 0, text: '= 0' } },
    { key: 'economyManifestHeads', row: 'economy: manifest HEADs', unit: 'HEADs', higherIsBetter: false, target: { against: 'absolute', op: '<=', value: economyWindows, text: `≤ ${economyWindows} (1 per window)` } },
    { key: 'economyUpstreamTotal', row: 'economy: all upstream requests', unit: 'requests', higherIsBetter: false },
  ];
}

export interface ReportRow {
  row: string;
  unit: string;
  direct: number | undefined;
  values: Partial<Record<SystemId, number>>;
  /** pullthrough ÷ distribution, per pullthrough variant. */
  ratios: Partial<Record<SystemId, number>>;
  target: string | undefined;
  met: Partial<Record<SystemId, boolean>>;
}

function check(op: Target['op'], actual: number, bound: number): boolean {
  const eps = 1e-9;
  if (op === '>=') return actual >= bound - eps;
  if (op === '<=') return actual <= bound + eps;
  return Math.abs(actual - bound) < eps;
}

export function buildRows(specs: RowSpec[], metrics: Partial<Record<SystemId, Metrics>>, direct: Metrics): ReportRow[] {
  return specs.map((spec) => {
    const dist = metrics.distribution?.[spec.key];
    const row: ReportRow = {
      row: spec.row,
      unit: spec.unit,
      direct: direct[spec.key],
      values: {},
      ratios: {},
      target: spec.target?.text,
      met: {},
    };
    if (dist !== undefined) row.values.distribution = dist;
    for (const id of PULLTHROUGH_IDS) {
      const v = metrics[id]?.[spec.key];
      if (v === undefined) continue;
      row.values[id] = v;
      if (dist !== undefined && dist !== 0) row.ratios[id] = v / dist;
      const t = spec.target;
      if (t === undefined) continue;
      if (t.against === 'absolute') row.met[id] = check(t.op, v, t.value);
      else {
        const ref = t.against === 'distribution' ? dist : direct[spec.key];
        if (ref !== undefined && ref !== 0) row.met[id] = check(t.op, v / ref, t.value);
      }
    }
    return row;
  });
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function fmtRatio(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '–' : `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`;
}

function fmtMet(v: boolean | undefined): string {
  return v === undefined ? '–' : v ? 'yes' : '**no**';
}

export function markdownTable(rows: ReportRow[]): string {
  const lines = [
    '| row | unit | upstream direct | distribution | pullthrough (redis) | ratio | pullthrough (embedded) | ratio | target | met (redis / embedded) |',
    '|---|---|--:|--:|--:|--:|--:|--:|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.row} | ${r.unit} | ${fmt(r.direct)} | ${fmt(r.values.distribution)} | ${fmt(r.values['pullthrough-redis'])} | ${fmtRatio(r.ratios['pullthrough-redis'])} | ` +
        `${fmt(r.values['pullthrough-embedded'])} | ${fmtRatio(r.ratios['pullthrough-embedded'])} | ${r.target ?? '–'} | ` +
        `${fmtMet(r.met['pullthrough-redis'])} / ${fmtMet(r.met['pullthrough-embedded'])} |`,
    );
  }
  return lines.join('\n');
}

// Replicas (issue 6): the same pullthrough (Redis, one shared store directory) as 1 process and as N processes,
// under the same load spread. Its own table: the columns are 1 replica and N replicas, the ratio N ÷ 1.

export type ReplicaMetricKey = 'warmTagRps' | 'warmSmallBlobRps' | 'coldHerdUpstreamGets' | 'coldHerdTotalS';
export type ReplicaMetrics = Partial<Record<ReplicaMetricKey, number>>;

export interface ReplicaRowSpec {
  key: ReplicaMetricKey;
  row: string;
  unit: string;
  /** An absolute bound each column must meet; none where the issue sets no figure (throughput is measured). */
  target?: { op: '==' | '<=' | '>='; value: number; text: string };
}

export function replicaRowSpecs(replicas: number, z: { herd: string; herdClients: number }): ReplicaRowSpec[] {
  return [
    { key: 'warmTagRps', row: `replicas: warm tag manifest (16 conn spread over ${replicas} wrk)`, unit: 'req/s' },
    { key: 'warmSmallBlobRps', row: `replicas: warm small blob 1 MiB (16 conn spread over ${replicas} wrk)`, unit: 'req/s' },
    {
      key: 'coldHerdUpstreamGets',
      row: `replicas: cold herd ${z.herdClients} × ${z.herd}: upstream GETs`,
      unit: 'GETs',
      target: { op: '==', value: 1, text: '= 1' },
    },
    { key: 'coldHerdTotalS', row: `replicas: cold herd ${z.herdClients} × ${z.herd}: total`, unit: 's' },
  ];
}

export interface ReplicaReportRow {
  row: string;
  unit: string;
  one: number | undefined;
  many: number | undefined;
  /** many ÷ one. */
  ratio: number | undefined;
  target: string | undefined;
  met: { one?: boolean; many?: boolean };
}

export function buildReplicaRows(specs: ReplicaRowSpec[], one: ReplicaMetrics, many: ReplicaMetrics): ReplicaReportRow[] {
  return specs.map((spec) => {
    const a = one[spec.key];
    const b = many[spec.key];
    const met: ReplicaReportRow['met'] = {};
    if (spec.target !== undefined) {
      if (a !== undefined && Number.isFinite(a)) met.one = check(spec.target.op, a, spec.target.value);
      if (b !== undefined && Number.isFinite(b)) met.many = check(spec.target.op, b, spec.target.value);
    }
    return {
      row: spec.row,
      unit: spec.unit,
      one: a,
      many: b,
      ratio: a !== undefined && b !== undefined && a !== 0 ? b / a : undefined,
      target: spec.target?.text,
      met,
    };
  });
}

export function replicaMarkdownTable(rows: ReplicaReportRow[], replicas: number): string {
  const lines = [
    `| row | unit | 1 replica | ${replicas} replicas | ratio (${replicas} ÷ 1) | target | met (1 / ${replicas}) |`,
    '|---|---|--:|--:|--:|---|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.row} | ${r.unit} | ${fmt(r.one)} | ${fmt(r.many)} | ${fmtRatio(r.ratio)} | ${r.target ?? '–'} | ${fmtMet(r.met.one)} / ${fmtMet(r.met.many)} |`);
  }
  return lines.join('\n');
}

// Object storage (issue 10): pullthrough with its blobs in an S3 bucket (a Ceph RGW the bench starts), streamed
// through the mirror and via redirect (307 to a presigned URL, followed by curl), against the filesystem store and
// distribution measured in the same run. Ratios: S3 ÷ filesystem store, S3 ÷ distribution.

export type S3MetricKey = 'warmSmallBlobRps' | 'warmSmallBlobCurlRps' | 'warmLargeMBps1' | 'coldLargeTotalS';
export type S3Metrics = Partial<Record<S3MetricKey, number>>;

export interface S3RowSpec {
  key: S3MetricKey;
  row: string;
  unit: string;
  higherIsBetter: boolean;
  /** Measured for the redirect mirror too (wrk follows no redirect; a cold blob is never redirected). */
  redirect: boolean;
}

export function s3RowSpecs(z: { warmLarge: string; coldLarge: string; curlConnections: number }): S3RowSpec[] {
  return [
    { key: 'warmSmallBlobRps', row: 'warm small blob 1 MiB (wrk, 16 conn)', unit: 'req/s', higherIsBetter: true, redirect: false },
    { key: 'warmSmallBlobCurlRps', row: `warm small blob 1 MiB (${z.curlConnections} curl, following redirects)`, unit: 'req/s', higherIsBetter: true, redirect: true },
    { key: 'warmLargeMBps1', row: `warm large blob ${z.warmLarge}, 1 client`, unit: 'MB/s', higherIsBetter: true, redirect: true },
    { key: 'coldLargeTotalS', row: `cold large blob ${z.coldLarge}: total`, unit: 's', higherIsBetter: false, redirect: false },
  ];
}

export interface S3ReportRow {
  row: string;
  unit: string;
  distribution: number | undefined;
  filesystem: number | undefined;
  streaming: number | undefined;
  redirect: number | undefined;
  /** S3 ÷ filesystem store and S3 ÷ distribution, for streaming and redirect. */
  ratios: { streamingToFilesystem?: number; streamingToDistribution?: number; redirectToFilesystem?: number; redirectToDistribution?: number };
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : undefined;
}

export function buildS3Rows(specs: S3RowSpec[], m: { distribution: S3Metrics; filesystem: S3Metrics; streaming: S3Metrics; redirect: S3Metrics }): S3ReportRow[] {
  return specs.map((spec) => {
    const distribution = m.distribution[spec.key];
    const filesystem = m.filesystem[spec.key];
    const streaming = m.streaming[spec.key];
    const redirect = spec.redirect ? m.redirect[spec.key] : undefined;
    const ratios: S3ReportRow['ratios'] = {};
    const set = (k: keyof S3ReportRow['ratios'], v: number | undefined): void => {
      if (v !== undefined) ratios[k] = v;
    };
    set('streamingToFilesystem', ratio(streaming, filesystem));
    set('streamingToDistribution', ratio(streaming, distribution));
    set('redirectToFilesystem', ratio(redirect, filesystem));
    set('redirectToDistribution', ratio(redirect, distribution));
    return { row: spec.row, unit: spec.unit, distribution, filesystem, streaming, redirect, ratios };
  });
}

export function s3MarkdownTable(rows: S3ReportRow[], filesystemLabel: string): string {
  const lines = [
    `| row | unit | distribution | ${filesystemLabel} | S3 streaming | ÷ filesystem | ÷ distribution | S3 redirect | ÷ filesystem | ÷ distribution |`,
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.row} | ${r.unit} | ${fmt(r.distribution)} | ${fmt(r.filesystem)} | ${fmt(r.streaming)} | ${fmtRatio(r.ratios.streamingToFilesystem)} | ` +
        `${fmtRatio(r.ratios.streamingToDistribution)} | ${fmt(r.redirect)} | ${fmtRatio(r.ratios.redirectToFilesystem)} | ${fmtRatio(r.ratios.redirectToDistribution)} |`,
    );
  }
  return lines.join('\n');
}

// Connection patterns, TLS, offload and workers (issue 11): every system up at once, each row measured on all of
// them in turn (order rotating per repetition), so ratios compare figures taken minutes apart at most. Each cell
// also carries the CPU seconds the system's processes (all of them: cluster workers, nginx workers) used.

export type PatternSystemId = 'distribution' | 'pullthrough' | 'pullthrough-workers' | 'pullthrough-workers-base' | 'pullthrough-offload' | 'nginx-direct';
export type Transport = 'http' | 'httpClose' | 'https' | 'httpsClose';
export type PatternTarget = 'tagHead' | 'tag' | 'digest' | 'small' | 'large' | 'huge1' | 'huge8' | 'tagCurl' | 'smallCurl';

export interface PatternRowSpec {
  key: string;
  row: string;
  unit: 'req/s' | 'MB/s';
  transport: Transport;
  target: PatternTarget;
  /** nginx-direct serves blobs only. */
  blob: boolean;
  /** Ratio to distribution these pullthrough variants must reach. */
  vsDistribution?: { value: number; variants: PatternSystemId[] };
  /** Offload ÷ nginx serving the file directly. */
  vsDirect?: number;
  /** workers: auto must beat 1 worker. */
  workersGain?: boolean;
}

const TRANSPORT_TEXT: Record<Transport, string> = { http: 'HTTP keep-alive', httpClose: 'HTTP Connection: close', https: 'HTTPS keep-alive', httpsClose: 'HTTPS Connection: close' };

export function patternRowSpecs(z: { large: string; huge: string; curlRequests: number }): PatternRowSpec[] {
  const PT: PatternSystemId[] = ['pullthrough', 'pullthrough-workers', 'pullthrough-offload'];
  const OFF: PatternSystemId[] = ['pullthrough-offload'];
  const specs: PatternRowSpec[] = [];
  for (const transport of ['http', 'httpClose', 'https', 'httpsClose'] as const) {
    const t = TRANSPORT_TEXT[transport];
    // The issue's Connection: close targets (tag ≥ 10×, digest ≥ 4×, 1 MiB ≥ 3×, large ≥ 1.5× with offload), the
    // same for HTTPS; keep-alive manifest and 1 MiB targets are the main table's.
    const close = transport !== 'http' && transport !== 'https';
    if (transport !== 'http') specs.push({ key: `${transport}.tagHead`, row: `${t}: warm tag manifest HEAD (ab, 16 conn)`, unit: 'req/s', transport, target: 'tagHead', blob: false, ...(close && { vsDistribution: { value: 10, variants: PT } }) });
    specs.push({ key: `${transport}.tag`, row: `${t}: warm tag manifest GET (16 conn)`, unit: 'req/s', transport, target: 'tag', blob: false, ...(close && { vsDistribution: { value: 10, variants: PT } }), workersGain: transport === 'http' });
    if (transport !== 'http') specs.push({ key: `${transport}.digest`, row: `${t}: warm digest manifest GET (16 conn)`, unit: 'req/s', transport, target: 'digest', blob: false, ...(close && { vsDistribution: { value: 4, variants: PT } }) });
    specs.push({ key: `${transport}.small`, row: `${t}: warm blob 1 MiB (16 conn)`, unit: 'req/s', transport, target: 'small', blob: true, ...(close && { vsDistribution: { value: 3, variants: PT } }), workersGain: transport === 'http' });
    specs.push({ key: `${transport}.large`, row: `${t}: warm large blob ${z.large} (16 conn)`, unit: 'MB/s', transport, target: 'large', blob: true, vsDistribution: { value: 1.5, variants: OFF }, vsDirect: 0.9, workersGain: transport === 'http' });
    if (transport === 'http') {
      specs.push({ key: 'http.huge1', row: `${t}: warm large blob ${z.huge}, 1 client (curl)`, unit: 'MB/s', transport, target: 'huge1', blob: true, vsDistribution: { value: 1.5, variants: OFF }, vsDirect: 0.9, workersGain: true });
      specs.push({ key: 'http.huge8', row: `${t}: warm large blob ${z.huge}, 8 clients (curl)`, unit: 'MB/s', transport, target: 'huge8', blob: true, vsDistribution: { value: 1.5, variants: OFF }, vsDirect: 0.9, workersGain: true });
    }
    if (transport === 'httpsClose') {
      specs.push({ key: 'httpsClose.tagCurl', row: `${t}: warm tag manifest GET (16 curl × ${z.curlRequests}, sessions resumed)`, unit: 'req/s', transport, target: 'tagCurl', blob: false, vsDistribution: { value: 10, variants: PT } });
      specs.push({ key: 'httpsClose.smallCurl', row: `${t}: warm blob 1 MiB (16 curl × ${z.curlRequests}, sessions resumed)`, unit: 'req/s', transport, target: 'smallCurl', blob: true, vsDistribution: { value: 3, variants: PT } });
    }
  }
  return specs;
}

export interface PatternCell {
  value: number;
  /** CPU seconds of the system's processes during one measurement (median over repetitions). */
  cpuS: number;
}

export interface PatternReportRow {
  row: string;
  unit: string;
  values: Partial<Record<PatternSystemId, PatternCell>>;
  ratios: { pullthroughToDistribution?: number; autoToOne?: number; offloadToDistribution?: number; offloadToDirect?: number };
  target: string | undefined;
  /** Per checked variant (and 'workers-gain', 'offload-vs-direct'). */
  met: Record<string, boolean>;
}

export function buildPatternRows(specs: PatternRowSpec[], cells: Record<string, Partial<Record<PatternSystemId, PatternCell>>>): PatternReportRow[] {
  return specs.map((spec) => {
    const values = cells[spec.key] ?? {};
    const v = (id: PatternSystemId): number | undefined => values[id]?.value;
    const dist = v('distribution');
    const ratios: PatternReportRow['ratios'] = {};
    const set = (k: keyof PatternReportRow['ratios'], r: number | undefined): void => {
      if (r !== undefined) ratios[k] = r;
    };
    set('pullthroughToDistribution', ratio(v('pullthrough'), dist));
    set('autoToOne', ratio(v('pullthrough-workers'), v('pullthrough-workers-base') ?? v('pullthrough')));
    set('offloadToDistribution', ratio(v('pullthrough-offload'), dist));
    set('offloadToDirect', ratio(v('pullthrough-offload'), v('nginx-direct')));
    const met: Record<string, boolean> = {};
    const texts: string[] = [];
    if (spec.vsDistribution) {
      texts.push(`≥ ${spec.vsDistribution.value}× distribution (${spec.vsDistribution.variants.map(shortName).join(', ')})`);
      for (const id of spec.vsDistribution.variants) {
        const r = ratio(v(id), dist);
        if (r !== undefined) met[shortName(id)] = check('>=', r, spec.vsDistribution.value);
      }
    }
    if (spec.vsDirect !== undefined) {
      texts.push(`offload ≥ ${spec.vsDirect}× nginx direct`);
      if (ratios.offloadToDirect !== undefined) met['offload vs nginx'] = check('>=', ratios.offloadToDirect, spec.vsDirect);
    }
    if (spec.workersGain) {
      texts.push('auto > 1 worker');
      if (ratios.autoToOne !== undefined) met['auto > 1'] = ratios.autoToOne > 1;
    }
    return { row: spec.row, unit: spec.unit, values, ratios, target: texts.length > 0 ? texts.join('; ') : undefined, met };
  });
}

function shortName(id: PatternSystemId): string {
  return { distribution: 'distribution', pullthrough: 'plain', 'pullthrough-workers': 'auto', 'pullthrough-workers-base': '1 worker', 'pullthrough-offload': 'offload', 'nginx-direct': 'nginx' }[id];
}

export function patternMarkdownTable(rows: PatternReportRow[], labels: Partial<Record<PatternSystemId, string>>): string {
  const ids = (['distribution', 'pullthrough', 'pullthrough-workers-base', 'pullthrough-workers', 'pullthrough-offload', 'nginx-direct'] as const).filter((id) => labels[id] !== undefined);
  const cell = (c: PatternCell | undefined): string => (c === undefined ? '–' : `${fmt(c.value)} · ${fmt(c.cpuS)}`);
  const lines = [
    `| row | unit | ${ids.map((id) => labels[id]).join(' | ')} | plain ÷ dist | auto ÷ 1 | offload ÷ dist | offload ÷ nginx | target | met |`,
    `|---|---|${ids.map(() => '--:|').join('')}--:|--:|--:|--:|---|---|`,
  ];
  for (const r of rows) {
    const met = Object.entries(r.met).map(([k, ok]) => `${k} ${fmtMet(ok)}`).join(', ');
    lines.push(
      `| ${r.row} | ${r.unit} | ${ids.map((id) => cell(r.values[id])).join(' | ')} | ${fmtRatio(r.ratios.pullthroughToDistribution)} | ${fmtRatio(r.ratios.autoToOne)} | ` +
        `${fmtRatio(r.ratios.offloadToDistribution)} | ${fmtRatio(r.ratios.offloadToDirect)} | ${r.target ?? '–'} | ${met || '–'} |`,
    );
  }
  return lines.join('\n');
}

// Real client (issue 11): skopeo copy of a large multi-layer image, seconds per whole pull; ratio ÷ distribution.

export type SkopeoRowKey = 'coldS' | 'warmS' | 'warm4S' | 'coldClientCpuS' | 'coldServerCpuS' | 'warmClientCpuS' | 'warmServerCpuS';

export interface SkopeoReportRow {
  row: string;
  unit: string;
  values: Record<string, number | undefined>;
  ratios: Record<string, number | undefined>;
  target: string | undefined;
  met: Record<string, boolean>;
}

/** The column that pulls from the upstream itself: a reference for the client's own pace, never held to a target. */
const SKOPEO_REFERENCE_ID = 'upstream';

export function buildSkopeoRows(image: string, metrics: Record<string, Partial<Record<SkopeoRowKey, number>>>): SkopeoReportRow[] {
  const specs: Array<{ key: SkopeoRowKey; row: string; unit: string; bound?: number; text?: string }> = [
    { key: 'coldS', row: `skopeo copy ${image}, cold`, unit: 's', bound: 1, text: '≤ distribution' },
    { key: 'warmS', row: `skopeo copy ${image}, warm`, unit: 's', bound: 0.8, text: '≤ 0.8× distribution' },
    { key: 'warm4S', row: `skopeo copy ${image}, 4 warm at once (all done)`, unit: 's' },
    { key: 'coldClientCpuS', row: 'cold pull: CPU of skopeo', unit: 'CPU-s' },
    { key: 'coldServerCpuS', row: 'cold pull: CPU of the system', unit: 'CPU-s' },
    { key: 'warmClientCpuS', row: 'warm pull: CPU of skopeo', unit: 'CPU-s' },
    { key: 'warmServerCpuS', row: 'warm pull: CPU of the system', unit: 'CPU-s' },
  ];
  return specs.map((spec) => {
    const values: SkopeoReportRow['values'] = {};
    const ratios: SkopeoReportRow['ratios'] = {};
    const met: Record<string, boolean> = {};
    const dist = metrics.distribution?.[spec.key];
    for (const [id, m] of Object.entries(metrics)) {
      values[id] = m[spec.key];
      if (id === 'distribution') continue;
      const r = ratio(m[spec.key], dist);
      ratios[id] = r;
      if (spec.bound !== undefined && r !== undefined && id !== SKOPEO_REFERENCE_ID) met[id] = check('<=', r, spec.bound);
    }
    return { row: spec.row, unit: spec.unit, values, ratios, target: spec.text, met };
  });
}

export function skopeoMarkdownTable(rows: SkopeoReportRow[], labels: Record<string, string>): string {
  const ids = Object.keys(labels);
  const others = ids.filter((id) => id !== 'distribution');
  const lines = [
    `| row | unit | ${ids.map((id) => labels[id]).join(' | ')} | ${others.map((id) => `${labels[id]} ÷ dist`).join(' | ')} | target | met |`,
    `|---|---|${ids.map(() => '--:|').join('')}${others.map(() => '--:|').join('')}---|---|`,
  ];
  for (const r of rows) {
    const met = Object.entries(r.met).map(([k, ok]) => `${labels[k] ?? k} ${fmtMet(ok)}`).join(', ');
    lines.push(`| ${r.row} | ${r.unit} | ${ids.map((id) => fmt(r.values[id])).join(' | ')} | ${others.map((id) => fmtRatio(r.ratios[id])).join(' | ')} | ${r.target ?? '–'} | ${met || '–'} |`);
  }
  return lines.join('\n');
}
