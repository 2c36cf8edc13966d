// Agents and the token from Kubernetes through the real kubectl. There is
// no cluster here, so kubectl talks to a loopback server that answers the
// way an API server does for the few reads netcap fleet makes (discovery,
// then GET endpoints, pods, a secret) and holds objects in the API's own
// shape: each is first validated against the Kubernetes schemas
// (kubernetes-models). What is tested is ours: the arguments we give
// kubectl (namespace, context, selector), how we read its answers, and its
// failures; then `netcap fleet --agents-from kubectl` end to end, reaching
// a real netcap serve named by the endpoints.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import { agentsFromKubernetes, tokenFromSecret, KUBE_DEFAULTS } from '../../src/fleet/kubernetes';
import { World } from '../../lab/netns';
import { runNetcap, tempDir } from '../capture/netcap-child';
import { startServe, type Served } from '../service/serve-process';
import { checkObjects } from '../deploy/k8s-schema';

const TOKEN = 'k8s-secret-token-0123456789';
const world = new World('fleet-kube');
let dir: string;
let server: http.Server;
let agent: Served;
const requests: string[] = [];

function endpoints(port: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'netcap', namespace: 'netcap' },
    subsets: [
      {
        addresses: [
          { ip: '127.0.0.1', nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'netcap-x1', namespace: 'netcap' } },
          { ip: '127.0.0.2', nodeName: 'node-b', targetRef: { kind: 'Pod', name: 'netcap-x2', namespace: 'netcap' } },
        ],
        notReadyAddresses: [{ ip: '127.0.0.3', nodeName: 'node-c' }],
        ports: [{ name: 'api', port, protocol: 'TCP' }],
      },
    ],
  };
}

function pod(name: string, node: string, ip: string, ready: boolean): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'netcap', labels: { 'app.kubernetes.io/name': 'netcap' } },
    spec: { nodeName: node, hostNetwork: true, containers: [{ name: 'netcap', image: 'netcap:0.1.0', ports: [{ name: 'api', containerPort: 9000 }] }] },
    status: { phase: ready ? 'Running' : 'Pending', podIP: ip, hostIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const PODS = { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [pod('netcap-x1', 'node-a', '127.0.0.4', true), pod('netcap-x2', 'node-b', '127.0.0.2', true), pod('netcap-x3', 'node-c', '127.0.0.3', false)] };
const SECRET = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'netcap-token', namespace: 'netcap' }, type: 'Opaque', data: { token: Buffer.from(`${TOKEN}\n`).toString('base64') } };

/** The API server's answers: discovery, then the objects, else a NotFound Status. */
function answer(url: URL, agentPort: number): [number, unknown] {
  const resources = ['endpoints', 'pods', 'secrets'].map((name) => ({ name, singularName: name === 'endpoints' ? name : name.slice(0, -1), namespaced: true, kind: name === 'endpoints' ? 'Endpoints' : name === 'pods' ? 'Pod' : 'Secret', verbs: ['get', 'list'] }));
  switch (url.pathname) {
    case '/version':
      return [200, { major: '1', minor: '32', gitVersion: 'v1.32.0' }];
    case '/api':
      return [200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }];
    case '/apis':
      return [200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] }];
    case '/api/v1':
      return [200, { kind: 'APIResourceList', groupVersion: 'v1', resources }];
    case '/api/v1/namespaces/netcap/endpoints/netcap':
      return [200, endpoints(agentPort)];
    case '/api/v1/namespaces/netcap/pods':
      return url.searchParams.get('labelSelector') === 'app.kubernetes.io/name=netcap' ? [200, PODS] : [200, { ...PODS, items: [] }];
    case '/api/v1/namespaces/netcap/secrets/netcap-token':
      return [200, SECRET];
  }
  const name = url.pathname.split('/').pop();
  return [404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `endpoints "${name}" not found`, reason: 'NotFound', details: { name, kind: 'endpoints' }, code: 404 }];
}

before(async () => {
  dir = tempDir('fleet-kube');
  // The agent's token is the Secret's; it listens on loopback, where the endpoints name it.
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  agent = await startServe({ world, stateDir: path.join(dir, 'state'), args: ['--token-file', tokenFile] });
  const agentPort = Number(new URL(agent.url).port);
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const [status, body] = answer(url, agentPort);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'test', user: {} }],
      contexts: [{ name: 'fleet-test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'elsewhere',
    }),
  );
  process.env.KUBECONFIG = kubeconfig;
});
after(async () => {
  delete process.env.KUBECONFIG;
  server?.close();
  await world.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const kube = { ...KUBE_DEFAULTS, context: 'fleet-test' };

describe('netcap fleet and Kubernetes', () => {
  it('serves objects in the Kubernetes API\'s own shape', () => {
    const objects = [endpoints(9000), ...PODS.items, SECRET].map((object) => ({ file: 'fixture', object: object as never }));
    assert.deepEqual(checkObjects(objects), []);
  });

  it('finds the ready agents in the Service\'s endpoints and in the pods, named by node', async () => {
    const port = new URL(agent.url).port;
    assert.deepEqual((await agentsFromKubernetes('endpoints', kube)).map((a) => [a.name, a.url]), [['node-a', `https://127.0.0.1:${port}`], ['node-b', `https://127.0.0.2:${port}`]]);
    assert.deepEqual((await agentsFromKubernetes('pods', { ...kube, scheme: 'http' })).map((a) => [a.name, a.url]), [['node-a', 'http://127.0.0.4:9000'], ['node-b', 'http://127.0.0.2:9000']]);
    assert.ok(requests.includes('GET /api/v1/namespaces/netcap/endpoints/netcap'));
    assert.ok(requests.some((r) => r.startsWith(`GET /api/v1/namespaces/netcap/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/name=netcap')}`)), requests.join('\n'));
    assert.equal(await tokenFromSecret('netcap-token', 'token', kube), TOKEN);
  });

  it('says what kubectl said when it fails, and when there is no kubectl', async () => {
    await assert.rejects(agentsFromKubernetes('endpoints', { ...kube, service: 'nosuch' }), (e: unknown) => e instanceof UserError && /^kubectl get endpoints nosuch \(namespace netcap\) failed: .*not found/.test(e.message));
    await assert.rejects(agentsFromKubernetes('pods', { ...kube, selector: 'app=other' }), /the pods app=other in namespace netcap list no ready agent/);
    await assert.rejects(tokenFromSecret('netcap-token', 'other', kube), /secret netcap-token in namespace netcap has no key other/);
    await assert.rejects(agentsFromKubernetes('endpoints', { ...kube, kubectl: path.join(dir, 'no-kubectl') }), /cannot run .*no-kubectl: not found/);
  });

  it('netcap fleet --agents-from kubectl --token-secret reaches the agents the endpoints name', async () => {
    const run = runNetcap(['fleet', '--agents-from', 'kubectl', '--kube-context', 'fleet-test', '--scheme', 'http', '--token-secret', 'netcap-token', '--timeout', '3', 'agents'], world);
    const { code } = await run.exited;
    // node-a is the real agent (on 127.0.0.1); nothing listens on node-b's 127.0.0.2.
    assert.equal(code, 4, run.stderr());
    assert.match(run.stdout().toString(), /^node-a: \S+ netcap \S+ \(API 1\), clock agent-client .*, captures: none$/m);
    assert.match(run.stderr(), /^netcap: agent node-b: /m);
  });
});
