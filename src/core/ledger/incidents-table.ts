// `scc-responder incidents`: the ledger's records as a table for a terminal.
// Every value came from a finding or the cluster: one line each, bounded, inert.
import type { IncidentRecord } from '../ports.ts';
import { inertLine } from '../summary/sink-text.ts';

const cell = (value: string | null | undefined, max: number) => inertLine(value ?? '-', max);

function actions(record: IncidentRecord): string {
  return record.outcomes.map((o) => `${o.type}:${o.status}`).join(' ') || '-';
}

function released(record: IncidentRecord): string {
  if (record.release === null) return 'no';
  const failed = record.release.outcomes.some((o) => o.status === 'failed');
  return `${record.release.dryRun ? 'dry-run' : failed ? 'partly' : 'yes'} ${record.release.at}`;
}

export function renderIncidents(records: readonly IncidentRecord[], where: string, since: Date): string {
  const lines = [`${records.length} incident(s) in the ${where} since ${since.toISOString()}`];
  for (const r of records) {
    const t = r.summary?.target;
    const id = r.findingName?.slice(r.findingName.lastIndexOf('/') + 1) ?? r.id.slice(0, 12);
    lines.push(
      [
        cell(r.updatedAt, 24),
        cell(id, 40),
        cell(t ? `${t.cluster ?? '?'}/${t.namespace ?? '?'}/${t.pod ?? '?'}` : null, 120),
        `node ${cell(t?.node, 80)}`,
        `outcome ${cell(r.summary?.outcome ?? r.state, 20)}`,
        `released ${released(r)}`,
      ].join('  '),
    );
    lines.push(`    ${inertLine(actions(r), 300)}`);
  }
  return `${lines.join('\n')}\n`;
}
