// netcap's version, as package.json says (the API shows it: a fleet client
// checks its agents run the same netcap), and the API's own version, raised
// when a change would break a client.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from './package-root';

export const NETCAP_VERSION: string = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const API_VERSION = 1;
