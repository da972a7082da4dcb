// A LogPageReader that answers every page empty and records when each request
// was sent on the test's clock: for counting reads per target and per minute.
import type { LogPageReader, LogPageRequest } from '../../src/core/ports.ts';

export function recordingLogReader(nowMs: () => number): { reader: LogPageReader; sent: Array<{ at: number; filter: string }> } {
  const sent: Array<{ at: number; filter: string }> = [];
  const reader: LogPageReader = {
    async listPage(req: LogPageRequest) {
      sent.push({ at: nowMs(), filter: req.filter });
      return { entries: [], nextPageToken: null };
    },
  };
  return { reader, sent };
}
