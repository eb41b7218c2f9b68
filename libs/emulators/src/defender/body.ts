// Request bodies, read once: by a fault that looks into it (bodyIncludes), then by the API handler.
import type { IncomingMessage } from 'node:http';
import { readBody } from '../http.ts';
import { ValidationError } from './validation.ts';

const bodies = new WeakMap<IncomingMessage, Promise<string>>();

export function bodyText(req: IncomingMessage): Promise<string> {
  let text = bodies.get(req);
  if (!text) bodies.set(req, text = readBody(req));
  return text;
}

/** The JSON body of an API call; Defender's InvalidRequestBody when it does not parse. */
export async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await bodyText(req);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('InvalidRequestBody', 'The request body is not valid JSON.');
  }
}
