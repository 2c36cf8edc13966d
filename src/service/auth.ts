// The service's token: `Authorization: Bearer TOKEN` on every API request
// when the service has one (it must when it listens beyond loopback). The
// page and its scripts, and the OpenAPI document, are public: the page asks
// for the token itself. Tokens are compared by their SHA-256 digests in
// constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import { UserError } from '../errors';

/** The smallest token the service takes: guessing must not be an option. */
export const MIN_TOKEN_LENGTH = 16;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class TokenCheck {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  /** True when the Authorization header carries the token. */
  accepts(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]), this.expected);
  }
}

/** Paths anyone may fetch: the page, its files, the API's description. */
export function isPublic(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const path = url.split('?')[0];
  return path === '/' || path === '/openapi.json' || path.startsWith('/web/');
}

/**
 * The token of a command: from a file (its first line), else the
 * environment variable; never from the command line, where `ps` and the
 * shell's history would show it.
 */
export function readToken(file: string | undefined, env: string | undefined, envName: string): string | undefined {
  let token: string | undefined;
  if (file !== undefined) {
    try {
      token = fs.readFileSync(file, 'utf8').split('\n')[0].trim();
    } catch (e) {
      throw new UserError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'give --token-file a file holding the token on its first line');
    }
    if (!token) throw new UserError(`the token file ${file} is empty`, 'put the token on its first line');
  } else if (env !== undefined && env.trim() !== '') token = env.trim();
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new UserError(`the token is ${token.length} characters long, fewer than ${MIN_TOKEN_LENGTH}`, `make a longer one, e.g. head -c 24 /dev/urandom | base64 > token; chmod 600 token (${envName} or --token-file)`);
  }
  return token;
}
