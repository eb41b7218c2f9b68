// Defender's error body: {"error":{"code","message","target":<guid>}}.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';

/** Sends Defender's error body; returns the status, for the request log. */
export function apiError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): number {
  sendJson(res, status, { error: { code, message, target: randomUUID() } }, headers);
  return status;
}
