// Which policy routes a summary goes to, besides the ops sinks (which always get
// every summary: a route only ever adds destinations). Pure. Matched on the
// summary's own values, so what decided the routes is what every sink shows.
//
// Owners are attacker-influenced (a workload or namespace label): an owner value
// can add the routes whose owner globs it matches, never remove a destination.
import { matchesAnyGlob } from '../policy/glob.ts';
import type { PolicyRoute, QuietableSink } from '../policy/policy.ts';
import type { Summary } from './document.ts';

/** What a route's conditions read: the summary without what routing itself adds. */
export type RouteFacts = Pick<Summary, 'target' | 'finding' | 'outcome' | 'owners'>;

function globHolds(patterns: readonly string[] | undefined, value: string | null): boolean {
  return patterns === undefined || (value !== null && matchesAnyGlob(patterns, value));
}

/** Whether every condition the route's match gives holds; an empty match holds for every summary. */
export function routeMatches(route: PolicyRoute, facts: RouteFacts): boolean {
  const m = route.match;
  if (!globHolds(m.projects, facts.target.project)) return false;
  if (!globHolds(m.clusters, facts.target.cluster)) return false;
  if (!globHolds(m.namespaces, facts.target.namespace)) return false;
  if (m.severities !== undefined && !(m.severities as readonly string[]).includes(facts.finding.severity ?? '')) return false;
  if (m.outcomes !== undefined && !(m.outcomes as readonly string[]).includes(facts.outcome)) return false;
  // Text globs, as the policy declares them: owners are e-mail addresses and team names, "/" is no separator.
  if (m.owners !== undefined) {
    const patterns = m.owners;
    if (!(facts.owners ?? []).some((o) => matchesAnyGlob(patterns, o.who, 'text'))) return false;
  }
  return true;
}

/** The routes this summary goes to, in policy order. */
export function matchRoutes(routes: readonly PolicyRoute[], facts: RouteFacts): PolicyRoute[] {
  return routes.filter((route) => routeMatches(route, facts));
}

/** The kinds of destination a route can have: the same kinds an exception's `sinks` quiets. */
export type RouteSinkKind = QuietableSink;

/**
 * A route's sink name in the ledger's delivery record: `route:<name>:<kind>`, so each
 * destination is recorded, and retried, on its own. Route names cannot contain ":".
 */
export function routeSinkName(route: string, kind: RouteSinkKind): string {
  return `route:${route}:${kind}`;
}

const ROUTE_SINK = /^route:([^:]+):(pubsub|slack|chat)$/;

/** The route and kind a sink name stands for; null for the ops sinks (`log`, `pubsub`, `slack`, `chat`). */
export function parseRouteSinkName(name: string): { route: string; kind: RouteSinkKind } | null {
  const m = ROUTE_SINK.exec(name);
  return m ? { route: m[1]!, kind: m[2] as RouteSinkKind } : null;
}
