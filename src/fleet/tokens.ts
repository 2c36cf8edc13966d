// Each agent's token, never from the command line (ps and the shell's
// history would show it):
//   --token-file FILE   the token on its first line, for every agent; or
//                       lines "NAME TOKEN" (and "* TOKEN" for the rest)
//   NETCAP_TOKEN_<NAME> one agent's (the name upper-cased, other characters _)
//   NETCAP_TOKEN        every agent's
// A Kubernetes Secret reaches the client as a file (mounted into a pod)
// or through kubectl (kubernetes.ts reads it into memory).
import * as fs from 'node:fs';
import { UserError } from '../errors';
import { MIN_TOKEN_LENGTH } from '../service/auth';

export interface TokenSource {
  /** Tokens by agent name; '*' for every agent not named. */
  byName: Map<string, string>;
  env: NodeJS.ProcessEnv;
}

/** The environment variable of one agent's token. */
export function tokenVariable(agent: string): string {
  return `NETCAP_TOKEN_${agent.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Reads --token-file: one token for all, or NAME TOKEN lines. */
export function readTokenFile(file: string): Map<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'give --token-file a file holding the token, or NAME TOKEN lines');
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new UserError(`the token file ${file} is empty`, 'put the token on its first line, or NAME TOKEN lines');
  const tokens = new Map<string, string>();
  if (lines.length === 1 && !/\s/.test(lines[0])) tokens.set('*', lines[0]);
  else {
    lines.forEach((line, i) => {
      const m = /^(\S+)\s+(\S+)$/.exec(line);
      if (!m) throw new UserError(`${file}: line ${i + 1} is not NAME TOKEN`, 'one agent a line: its name, blanks, its token ("* TOKEN" for the others)');
      tokens.set(m[1], m[2]);
    });
  }
  for (const [name, token] of tokens) checkLength(token, name === '*' ? file : `${file} (agent ${name})`);
  return tokens;
}

/** The token for one agent, or undefined (an agent on loopback may need none). */
export function tokenFor(agent: string, source: TokenSource): string | undefined {
  const own = source.env[tokenVariable(agent)]?.trim();
  const token = source.byName.get(agent) ?? (own || undefined) ?? source.byName.get('*') ?? (source.env.NETCAP_TOKEN?.trim() || undefined);
  if (token !== undefined) checkLength(token, own ? tokenVariable(agent) : 'NETCAP_TOKEN');
  return token;
}

function checkLength(token: string, where: string): void {
  if (token.length < MIN_TOKEN_LENGTH) throw new UserError(`the token of ${where} is ${token.length} characters long, fewer than ${MIN_TOKEN_LENGTH}`, 'agents refuse shorter tokens: use the one netcap serve was given');
}
