/**
 * Piscina worker entry: each task is one long-lived peer session (see
 * workers/session.ts). Kept thin so the thread boundary is easy to find.
 */
import { runSession } from './session.js';
import type { SessionInit } from '../src/shared/messages.js';

export default function peerSession(init: SessionInit): Promise<void> {
  return runSession(init);
}
