// Defender checks: an Entra token for the writer's app, its `roles` claim carrying Ti.ReadWrite.All
// (the application permission every write needs), and the indicators API answering a list call,
// through the writer's own token provider and client.
import { createLogger, Registry } from '@octi-defender/platform';
import type { WriterConfig } from '@octi-defender/defender-writer/config';
import { createDefenderClient } from '@octi-defender/defender-writer/defender/create-client';
import { DefenderAuthError, DefenderHttpError } from '@octi-defender/defender-writer/defender/errors';
import { TokenProvider } from '@octi-defender/defender-writer/defender/token';
import type { CheckResult } from '../findings.ts';

const REQUIRED_ROLE = 'Ti.ReadWrite.All';

/** The `roles` claim of a JWT access token (its payload is not verified: only read). */
export function tokenRoles(accessToken: string): string[] | undefined {
  const payload = accessToken.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}

const AUTH_FIXES: Record<string, string> = {
  invalid_client: 'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET is wrong or expired: create a new client secret for the app and set its value (not its id)',
  unauthorized_client: 'MICROSOFT_DEFENDER_INTEL_CLIENT_ID names no application in this tenant: copy the Application (client) id from Entra → App registrations',
  invalid_request: 'MICROSOFT_DEFENDER_INTEL_TENANT_ID is not a tenant of this cloud: copy the Directory (tenant) id, and check MICROSOFT_DEFENDER_INTEL_LOGIN_URL',
  invalid_scope: 'MICROSOFT_DEFENDER_INTEL_SCOPE must be the WindowsDefenderATP resource with /.default',
};

function authFailure(err: unknown): { detail: string; fix: string } {
  if (err instanceof DefenderAuthError) {
    return {
      detail: err.message,
      fix: (err.code && AUTH_FIXES[err.code]) ??
        (err.transient ? 'Entra did not answer: check MICROSOFT_DEFENDER_INTEL_LOGIN_URL (or _TOKEN_ENDPOINT) and that this machine may reach it' : 'check the MICROSOFT_DEFENDER_INTEL_* variables'),
    };
  }
  return { detail: (err as Error).message, fix: 'check the MICROSOFT_DEFENDER_INTEL_* variables' };
}

export async function checkDefender(c: WriterConfig): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const tokens = new TokenProvider(c);
  const tokenName = `Entra token for app ${c.clientId} in tenant ${c.tenantId}`;
  let token: string;
  try {
    token = await tokens.get();
  } catch (err) {
    results.push({ name: tokenName, ok: false, ...authFailure(err) });
    return results;
  }
  results.push({ name: tokenName, ok: true });
  const roles = tokenRoles(token);
  const roleName = `token's roles claim carries ${REQUIRED_ROLE}`;
  if (roles?.includes(REQUIRED_ROLE)) {
    results.push({ name: roleName, ok: true });
  } else {
    results.push({
      name: roleName,
      ok: false,
      detail: roles === undefined ? 'the token is not a readable JWT' : roles.length === 0 ? 'the token has no roles' : `roles: ${roles.join(', ')}`,
      fix: `grant the app the application permission ${REQUIRED_ROLE} (API permissions → APIs my organization uses → WindowsDefenderATP) and grant admin consent`,
    });
  }
  const logger = createLogger({ name: 'octi-defender-cli', level: 'silent' });
  // One retry at most: a command reports, it does not wait out an outage.
  const client = createDefenderClient({ ...c, maxRetries: 1, dryRun: true }, { logger, registry: new Registry(), tokens });
  const listName = `Defender API answers a list call at ${c.baseUrl}`;
  try {
    const page = await client.list({ top: 1 });
    results.push({ name: listName, ok: true, detail: `${page.value.length === 0 ? 'no' : 'some'} indicators visible` });
  } catch (err) {
    if (err instanceof DefenderHttpError) {
      const fix = err.statusCode === 403
        ? `the app lacks the permission: grant ${REQUIRED_ROLE} with admin consent`
        : err.statusCode === 401
        ? 'Defender refused the token: check MICROSOFT_DEFENDER_INTEL_SCOPE and MICROSOFT_DEFENDER_INTEL_TENANT_ID'
        : 'check MICROSOFT_DEFENDER_INTEL_BASE_URL (a regional or government host if the tenant is not global)';
      results.push({ name: listName, ok: false, detail: `${err.statusCode} ${err.code ?? ''} ${err.defenderMessage ?? ''}`.replace(/\s+/g, ' ').trim(), fix });
    } else {
      results.push({ name: listName, ok: false, detail: (err as Error).message, fix: 'check MICROSOFT_DEFENDER_INTEL_BASE_URL and that this machine may reach it' });
    }
  } finally {
    await client.close();
  }
  return results;
}
