// Agents and their token from Kubernetes, through the user's own kubectl
// (its kubeconfig, context and credentials; the fleet client's RBAC in
// deploy/kubernetes/ allows exactly these reads):
//   endpoints  kubectl get endpoints SERVICE: the ready addresses of the
//              DaemonSet's headless Service, named by their nodes
//   pods       kubectl get pods -l SELECTOR: running pods, by node (host
//              network: the pod's address is the node's)
//   the token  kubectl get secret NAME: read into memory, never an argument
// kubectl is spawned with an argument array; nothing passes through a shell.
import { execFile, type ExecFileException } from 'node:child_process';
import { UserError } from '../errors';
import { named, type Agent } from './agents';

export type KubeSource = 'endpoints' | 'pods';

export interface KubeOptions {
  /** The kubectl to run (default: kubectl on the PATH). */
  kubectl?: string;
  namespace: string;
  /** --context, when not the kubeconfig's current one. */
  context?: string;
  /** endpoints: the agents' Service. */
  service: string;
  /** pods: their label selector. */
  selector: string;
  scheme: 'http' | 'https';
  /** pods: the API port, when the pod names none ("api"). */
  port: number;
}

export const KUBE_DEFAULTS: KubeOptions = { namespace: 'netcap', service: 'netcap', selector: 'app.kubernetes.io/name=netcap', scheme: 'https', port: 9000 };

interface EndpointsObject {
  subsets?: { addresses?: { ip: string; nodeName?: string; targetRef?: { name?: string } }[]; ports?: { name?: string; port: number }[] }[];
}

interface PodList {
  items: {
    metadata: { name: string };
    spec: { nodeName?: string; containers: { ports?: { name?: string; containerPort: number }[] }[] };
    status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
  }[];
}

/** Runs kubectl with `args` and parses its JSON answer. */
export async function kubectlJson<T>(args: readonly string[], o: Pick<KubeOptions, 'kubectl' | 'namespace' | 'context'>): Promise<T> {
  const argv = ['--namespace', o.namespace, ...(o.context ? ['--context', o.context] : []), ...args, '--output', 'json'];
  const kubectl = o.kubectl ?? 'kubectl';
  const r = await new Promise<{ error: ExecFileException | null; stdout: string; stderr: string }>((resolve) =>
    execFile(kubectl, argv, { encoding: 'utf8', timeout: 30_000, maxBuffer: 256 << 20 }, (error, stdout, stderr) => resolve({ error, stdout, stderr })),
  );
  // A number is kubectl's exit status; a string, why it could not run.
  if (r.error && typeof r.error.code !== 'number') {
    const code = r.error.code;
    throw new UserError(code === 'ENOENT' ? `cannot run ${kubectl}: not found` : `cannot run ${kubectl}: ${r.error.message}`, 'install kubectl, or give the agents with --agents or --agents-file');
  }
  if (r.error) {
    const said = r.stderr.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? `exit status ${r.error.code}`;
    throw new UserError(`kubectl ${args.join(' ')} (namespace ${o.namespace}) failed: ${said}`, 'check the context, the namespace (--kube-namespace) and that deploy/kubernetes/ is applied', r.stderr);
  }
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new UserError(`kubectl ${args.join(' ')} did not answer JSON`, 'check the kubectl on the PATH');
  }
}

/** The agents Kubernetes knows: by their Service's endpoints or by their pods. */
export async function agentsFromKubernetes(source: KubeSource, o: KubeOptions): Promise<Agent[]> {
  const found = source === 'endpoints' ? fromEndpoints(await kubectlJson<EndpointsObject>(['get', 'endpoints', o.service], o), o) : fromPods(await kubectlJson<PodList>(['get', 'pods', '--selector', o.selector], o), o);
  const where = source === 'endpoints' ? `the endpoints of service ${o.service}` : `the pods ${o.selector}`;
  if (found.length === 0) throw new UserError(`${where} in namespace ${o.namespace} list no ready agent`, 'kubectl get pods -n NAMESPACE shows whether the DaemonSet runs');
  return named(found, where);
}

export function fromEndpoints(e: EndpointsObject, o: Pick<KubeOptions, 'scheme'>): { name?: string; url: string; fields: string[] }[] {
  const out: { name?: string; url: string; fields: string[] }[] = [];
  for (const subset of e.subsets ?? []) {
    const port = subset.ports?.find((p) => p.name === 'api') ?? subset.ports?.[0];
    if (!port) continue;
    for (const a of subset.addresses ?? []) out.push({ name: a.nodeName ?? a.targetRef?.name, url: urlOf(o.scheme, a.ip, port.port), fields: [] });
  }
  return out;
}

export function fromPods(list: PodList, o: Pick<KubeOptions, 'scheme' | 'port'>): { name?: string; url: string; fields: string[] }[] {
  return list.items
    .filter((p) => p.status.phase === 'Running' && p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => {
      const port = p.spec.containers.flatMap((c) => c.ports ?? []).find((q) => q.name === 'api')?.containerPort ?? o.port;
      return { name: p.spec.nodeName ?? p.metadata.name, url: urlOf(o.scheme, p.status.podIP!, port), fields: [] };
    });
}

/** The token kept in a Secret (its key `key`), for every agent. */
export async function tokenFromSecret(secret: string, key: string, o: Pick<KubeOptions, 'kubectl' | 'namespace' | 'context'>): Promise<string> {
  const s = await kubectlJson<{ data?: Record<string, string> }>(['get', 'secret', secret], o);
  const value = s.data?.[key];
  if (value === undefined) throw new UserError(`secret ${secret} in namespace ${o.namespace} has no key ${key}`, `its keys: ${Object.keys(s.data ?? {}).join(', ') || 'none'}; give --token-secret-key`);
  return Buffer.from(value, 'base64').toString('utf8').split('\n')[0].trim();
}

function urlOf(scheme: string, ip: string, port: number): string {
  return `${scheme}://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
