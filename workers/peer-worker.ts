/**
 * Piscina worker entry: each task is one long-lived peer session (see
 * src/crawl/worker-session.ts). Kept thin so the thread boundary is easy to find.
 */
import { runSession } from '../src/crawl/worker-session.js';
import type { SessionInit, SessionResult } from '../src/crawl/protocol.js';

export default function peerSession(init: SessionInit): Promise<SessionResult> {
  return runSession(init);
}
