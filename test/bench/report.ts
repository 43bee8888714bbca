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
  | 'coldLargeTtfbMs'
  | 'coldLargeTotalS'
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
    { key: 'coldLargeTtfbMs', row: `cold large blob ${z.coldLarge}: first byte`, unit: 'ms', higherIsBetter: false, target: { against: 'distribution', op: '<=', value: 1, text: '≤ distribution' } },
    { key: 'coldLargeTotalS', row: `cold large blob ${z.coldLarge}: total`, unit: 's', higherIsBetter: false, target: { against: 'direct', op: '<=', value: 1.3, text: '≤ 1.3× upstream direct' } },
    { key: 'coldHerdUpstreamGets', row: `cold herd ${z.herdClients} × ${z.herd}: upstream GETs`, unit: 'GETs', higherIsBetter: false, target: { against: 'absolute', op: '==', value: 1, text: '= 1' } },
    { key: 'coldHerdTotalS', row: `cold herd ${z.herdClients} × ${z.herd}: total`, unit: 's', higherIsBetter: false },
    { key: 'memoryPeakMiB', row: `memory: peak RSS, ${z.memClients} × cold ${z.mem}`, unit: 'MiB', higherIsBetter: false, target: { against: 'absolute', op: '<=', value: 200, text: '≤ 200 MiB' } },
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
