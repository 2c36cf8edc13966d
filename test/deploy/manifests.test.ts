// deploy/kubernetes/ checked offline, as `npm test` can without a cluster:
// every object against the Kubernetes API's schemas (k8s-schema.ts:
// types, required fields, unknown fields), the objects against each other
// (selectors, accounts, Secrets, the role the fleet client needs), the
// agent's command line against netcap serve's own parser, and deliberately
// broken copies, which must fail.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import yargs from 'yargs/yargs';
import { repoRoot } from '../../lab/paths';
import { serveCommand } from '../../cmd/serve';
import { KUBE_DEFAULTS } from '../../src/fleet/kubernetes';
import { checkObjects, parseManifest, readManifests, type K8sObject, type ManifestObject } from './k8s-schema';

const DIR = path.join(repoRoot, 'deploy', 'kubernetes');
const manifests = readManifests(DIR);

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are walked as the YAML gives them */
function find(kind: string, name?: string): any {
  const o = manifests.find((m) => m.object.kind === kind && (name === undefined || m.object.metadata?.name === name));
  assert.ok(o, `deploy/kubernetes has a ${kind}${name ? ` ${name}` : ''}`);
  return o.object;
}

/** The objects of one file with `edit` applied to its text. */
function broken(file: string, edit: (text: string) => string): ManifestObject[] {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8');
  const changed = edit(text);
  assert.notEqual(changed, text, 'the edit changed the file');
  return parseManifest(file, changed);
}

describe('deploy/kubernetes', () => {
  it('every object is valid against the Kubernetes API schemas, with no unknown field', () => {
    assert.deepEqual(
      manifests.map((m) => m.object.kind).sort(),
      ['DaemonSet', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceAccount'],
    );
    assert.deepEqual(checkObjects(manifests), []);
  });

  it('a misspelt field, a wrong type, a missing required field, an unknown kind each fail the check', () => {
    const misspelt = checkObjects(broken('20-daemonset.yaml', (t) => t.replace('hostNetwork: true', 'hostNetwrok: true')));
    assert.deepEqual(misspelt, ['20-daemonset.yaml DaemonSet netcap: spec.template.spec.hostNetwrok: unknown field (did you mean hostNetwork?)']);
    const nested = checkObjects(broken('20-daemonset.yaml', (t) => t.replace('readOnlyRootFilesystem: true', 'readOnlyRootFileSystem: true')));
    assert.match(nested.join('\n'), /spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem: unknown field \(did you mean readOnlyRootFilesystem\?\)/);
    const wrongType = checkObjects(broken('20-daemonset.yaml', (t) => t.replace('containerPort: 9000', 'containerPort: "9000"')));
    assert.match(wrongType.join('\n'), /containers\/0\/ports\/0\/containerPort must be integer/);
    const missing = checkObjects(broken('20-daemonset.yaml', (t) => t.replace(/ {2}selector:\n {4}matchLabels:\n {6}app.kubernetes.io\/name: netcap\n {6}app.kubernetes.io\/component: agent\n/, '')));
    assert.match(missing.join('\n'), /data\/spec must have required property selector/);
    const service = checkObjects(broken('30-service.yaml', (t) => t.replace('protocol: TCP', 'protocol: SCTPX')));
    assert.match(service.join('\n'), /protocol/);
    const kind = checkObjects(broken('30-service.yaml', (t) => t.replace('apiVersion: v1', 'apiVersion: v2')));
    assert.deepEqual(kind, ['30-service.yaml Service netcap: no kind Service in v2']);
  });

  it('the agents: a DaemonSet with host network and PID namespace, capabilities instead of privileged, bpffs, tracefs, a state volume, the token from a Secret', () => {
    const ds = find('DaemonSet', 'netcap');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.hostPID, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[k], v, `the selector's ${k} is on the pods`);
    const [c] = pod.containers;
    assert.equal(pod.containers.length, 1);
    const sc = c.securityContext;
    assert.equal(sc.privileged, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual([...sc.capabilities.add].sort(), ['BPF', 'NET_ADMIN', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE']);
    const mounts = new Map<string, any>(c.volumeMounts.map((m: any) => [m.mountPath, pod.volumes.find((v: any) => v.name === m.name)]));
    assert.equal(mounts.get('/sys/fs/bpf')?.hostPath?.path, '/sys/fs/bpf');
    assert.equal(mounts.get('/sys/kernel/tracing')?.hostPath?.path, '/sys/kernel/tracing');
    assert.equal(mounts.get('/var/lib/netcap')?.hostPath?.type, 'DirectoryOrCreate');
    assert.equal(mounts.get('/etc/netcap/token')?.secret?.secretName, 'netcap-token');
    assert.equal(mounts.get('/etc/netcap/token')?.secret?.defaultMode, 0o400, 'YAML 1.1, as Kubernetes reads it: 0400 is octal');
    assert.equal(mounts.get('/etc/netcap/tls')?.secret?.secretName, 'netcap-tls');
    for (const m of c.volumeMounts) assert.ok(pod.volumes.some((v: any) => v.name === m.name), `volume ${m.name} exists`);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.ok(mounts.get('/tmp')?.emptyDir, 'a writable /tmp beside the read-only root');
    assert.ok(manifests.some((m) => m.object.kind === 'ServiceAccount' && m.object.metadata?.name === pod.serviceAccountName), 'its ServiceAccount is defined');
    assert.equal(pod.automountServiceAccountToken, false);
  });

  it('the agent runs netcap serve with options its parser takes: on the node address, with the mounted token, certificate and state directory', () => {
    const c = find('DaemonSet', 'netcap').spec.template.spec.containers[0];
    const env = new Map<string, any>(c.env.map((e: any) => [e.name, e]));
    assert.equal(env.get('NODE_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP');
    // Kubernetes expands $(NODE_IP) in args.
    const args = (c.args as string[]).map((a) => a.replace('$(NODE_IP)', '192.0.2.10'));
    assert.equal(args[0], 'serve');
    let failure: string | undefined;
    const parsed = serveCommand
      .builder(yargs(args.slice(1)).strict().fail((msg, err) => {
        failure = msg ?? err?.message;
      }))
      .parseSync();
    assert.equal(failure, undefined, `netcap serve ${args.slice(1).join(' ')}`);
    assert.equal(parsed.listen, '192.0.2.10:9000');
    assert.equal(parsed.stateDir, '/var/lib/netcap');
    assert.equal(parsed.tokenFile, '/etc/netcap/token/token');
    assert.match(String(parsed.tlsCert), /^\/etc\/netcap\/tls\//);
    assert.match(String(parsed.tlsKey), /^\/etc\/netcap\/tls\//);
    assert.equal(c.ports[0].containerPort, 9000);
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS', 'the probe speaks TLS like the agent');
  });

  it('the Service finds the agents, and the fleet client\'s defaults and role fit it', () => {
    const ds = find('DaemonSet', 'netcap');
    const svc = find('Service', KUBE_DEFAULTS.service);
    assert.equal(svc.metadata.namespace, KUBE_DEFAULTS.namespace);
    assert.equal(svc.spec.clusterIP, 'None', 'headless: its endpoints are the agents');
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(ds.spec.template.metadata.labels[k], v);
    const [port] = svc.spec.ports;
    assert.equal(port.name, 'api', 'netcap fleet takes the port named api');
    assert.equal(port.port, KUBE_DEFAULTS.port);
    assert.ok(ds.spec.template.spec.containers[0].ports.some((p: any) => p.name === port.targetPort));
    const [key, value] = KUBE_DEFAULTS.selector.split('=');
    assert.equal(ds.spec.template.metadata.labels[key], value, '--agents-from kubectl-pods finds the pods');
    for (const m of manifests) if (m.object.kind !== 'Namespace') assert.equal(m.object.metadata?.namespace, KUBE_DEFAULTS.namespace, `${m.object.kind} ${m.object.metadata?.name}`);
    assert.equal(find('Namespace', KUBE_DEFAULTS.namespace).metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');

    // What src/fleet/kubernetes.ts asks kubectl: get endpoints, get pods (a list), get the token's Secret.
    const role = find('Role', 'netcap-fleet');
    const allows = (group: string, resource: string, verb: string, name?: string) =>
      role.rules.some((r: any) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && (!r.resourceNames || (name !== undefined && r.resourceNames.includes(name))));
    assert.ok(allows('', 'endpoints', 'get'));
    assert.ok(allows('', 'pods', 'list'));
    assert.ok(allows('', 'secrets', 'get', 'netcap-token'));
    assert.ok(!allows('', 'secrets', 'get', 'another-secret'), 'only the token Secret');
    assert.ok(!role.rules.some((r: any) => r.verbs.some((v: string) => ['create', 'update', 'patch', 'delete', '*'].includes(v))), 'the fleet client only reads');
    const binding = find('RoleBinding', 'netcap-fleet');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'netcap-fleet' });
    for (const s of binding.subjects.filter((x: any) => x.kind === 'ServiceAccount')) assert.ok(manifests.some((m: { object: K8sObject }) => m.object.kind === 'ServiceAccount' && m.object.metadata?.name === s.name));
    assert.ok(ds.spec.template.spec.volumes.some((v: any) => v.secret?.secretName === role.rules.find((r: any) => r.resourceNames)?.resourceNames[0]), 'the Secret the role opens is the agents\' token');
  });
});
