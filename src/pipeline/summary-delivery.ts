// The summary's delivery to every sink (the log line, the ops sinks and each
// route's), each retried within bounds, in parallel, and recorded in the ledger
// session so a redelivery resends only what is missing and never repeats an action.
// Only ports from core/ports.ts: no SDK here.
import { PermanentError, TransientError } from '../core/errors.ts';
import type { SinkDelivery, StepLogger, SummarySink } from '../core/ports.ts';
import { parseRouteSinkName } from '../core/summary/routes.ts';
import type { Summary } from '../core/summary/document.ts';

export interface SinkRetry {
  /** Tries per sink within one delivery of the message. */
  attempts: number;
  /** Waits between those tries. */
  delaysMs: number[];
  /**
   * Deliveries of the message (ledger attempts) that may end in a retry because a
   * sink still fails transiently; after that the failure is recorded and the finding completed.
   */
  maxRounds: number;
}

export const DEFAULT_SINK_RETRY: SinkRetry = { attempts: 3, delaysMs: [250, 1000], maxRounds: 3 };

/** What delivering a summary needs; the ledger session's ReportDeps extend it. */
export interface DeliveryDeps {
  now: () => Date;
  log: StepLogger;
  /** Extra sinks (Pub/Sub, Slack, Chat, and each route's); the structured log line is always sent. */
  summarySinks?: () => Promise<SummarySink[]>;
  sinkRetry?: SinkRetry;
  sleep?: (ms: number) => Promise<void>;
}

/** The part of the ledger session (src/pipeline/ledger-session.ts) a delivery reads and records into. */
export interface DeliverySession {
  readonly attempt: number;
  readonly deliveries: Readonly<Record<string, SinkDelivery>>;
  recordDelivery(sink: string, delivery: SinkDelivery): Promise<void>;
  release(): Promise<void>;
}

type Ids = Record<string, unknown>;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The structured log line every summary gets, whatever else is configured. */
export function logSink(log: StepLogger): SummarySink {
  return {
    name: 'log',
    async deliver(summary) {
      const severity = summary.outcome === 'failed' || summary.budget.exceeded ? 'ERROR' : summary.outcome === 'partial' ? 'WARNING' : 'NOTICE';
      log.log(severity, 'summary', summary.headline, { summary });
    },
  };
}

async function deliverOne(sink: SummarySink, summary: Summary, previous: SinkDelivery | undefined, deps: DeliveryDeps, retry: SinkRetry): Promise<{ delivery: SinkDelivery; retryable: boolean }> {
  const sleep = deps.sleep ?? defaultSleep;
  let attempts = previous !== undefined && (previous.round ?? summary.round) === summary.round ? previous.attempts : 0;
  let lastError: unknown;
  for (let i = 0; i < retry.attempts; i++) {
    attempts++;
    try {
      await sink.deliver(summary);
      return { delivery: { status: 'sent', attempts, at: deps.now().toISOString(), round: summary.round }, retryable: false };
    } catch (error) {
      lastError = error;
      if (!(error instanceof TransientError)) break;
      if (i < retry.attempts - 1) await sleep(retry.delaysMs[Math.min(i, retry.delaysMs.length - 1)] ?? 0);
    }
  }
  const message = lastError instanceof Error ? lastError.message : String(lastError);
  return {
    delivery: { status: 'failed', attempts, at: deps.now().toISOString(), error: message.slice(0, 300), round: summary.round },
    retryable: !(lastError instanceof PermanentError) && lastError instanceof TransientError,
  };
}

/**
 * The configured sinks this summary goes to. The ops sinks get every summary; a
 * route's sinks (`route:<name>:<kind>`) only a summary whose `routes` names it,
 * as decided when it was built (and recorded with it, so a retry sends to the
 * same routes). An excepted finding (expected, no action) goes only to the sinks
 * its exception allows (policy exceptionSettings.sinks), by kind: `slack` allows
 * the ops Slack and every route's Slack alike. The log line, the record, always
 * gets it.
 */
export function reportingSinks(summary: Summary, sinks: readonly SummarySink[]): SummarySink[] {
  const allowed = summary.exception?.sinks as readonly string[] | undefined;
  const routes = new Set(summary.routes ?? []);
  return sinks.filter((sink) => {
    const route = parseRouteSinkName(sink.name);
    if (route !== null && !routes.has(route.route)) return false;
    return allowed === undefined || allowed.includes(route?.kind ?? sink.name);
  });
}

/**
 * Sends the summary to every sink that has not had it yet, each retried within
 * bounds and in parallel. A sink that still fails transiently makes the whole
 * message retry (TransientError) while rounds remain; the retry resends only to
 * the sinks that missed it and never repeats an action.
 */
export async function deliverSummary(summary: Summary, session: DeliverySession, deps: DeliveryDeps, ids: Ids): Promise<Record<string, SinkDelivery>> {
  const retry = deps.sinkRetry ?? DEFAULT_SINK_RETRY;
  const sinks = [logSink(deps.log), ...reportingSinks(summary, deps.summarySinks ? await deps.summarySinks() : [])];
  const results: Record<string, SinkDelivery> = { ...session.deliveries };
  let retryLater = false;
  // Sinks run in parallel, but their records go to the same ledger document one at a
  // time: parallel transactions on one document only contend and retry.
  let recording: Promise<void> = Promise.resolve();
  const record = (sink: string, delivery: SinkDelivery) => (recording = recording.then(() => session.recordDelivery(sink, delivery)));
  await Promise.all(
    sinks.map(async (sink) => {
      const previous = session.deliveries[sink.name];
      // A sink that had an earlier round's (interim) summary still gets this one: it is an update.
      if (previous?.status === 'sent' && (previous.round ?? summary.round) === summary.round) return;
      const { delivery, retryable } = await deliverOne(sink, summary, previous, deps, retry);
      results[sink.name] = delivery;
      await record(sink.name, delivery);
      if (delivery.status === 'failed') {
        const final = !retryable || session.attempt >= retry.maxRounds;
        deps.log.log('ERROR', `sink:${sink.name}`, final ? 'summary delivery failed; giving up' : 'summary delivery failed; the message will be retried', {
          ...ids,
          attempts: delivery.attempts,
          error: delivery.error,
        });
        if (!final) retryLater = true;
      }
    }),
  );
  if (retryLater) {
    await session.release();
    throw new TransientError('summary delivery failed for some sinks; retrying the message (actions are not repeated)');
  }
  return results;
}
