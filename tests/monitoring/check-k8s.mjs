// check-k8s.mjs — offline validation of deploy/k8s (ecosystem.md §4.4):
//  1. every object (our manifests, the example Secrets, the generated ConfigMaps) is
//     validated against the Kubernetes OpenAPI schemas with kubernetes-models;
//  2. configMapGenerator emulation: for each kustomization reachable from
//     deploy/k8s/kustomization.yaml, each referenced file exists and the ConfigMap the
//     generator makes holds exactly that file's bytes under its basename; when
//     `kubectl kustomize` works offline its output is compared with the emulation;
//  3. wiring: volumes/env refer to generated ConfigMaps and example Secret keys,
//     mount paths match the Grafana provider and the Alertmanager *_file paths,
//     retention flags, plugin allow-list, init container, Helm sidecar labels,
//     every $VAR in the data-source provisioning is set in the Grafana pod.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import yaml from 'js-yaml';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import { ROOT, rel, check, problems, readText, failures } from './lib.mjs';

const K = path.join(ROOT, 'deploy/k8s');
const loadAll = (f) => yaml.loadAll(fs.readFileSync(f, 'utf8')).filter(Boolean);

// ---- walk the kustomization tree
const generated = []; const objects = [];
function walk(dir, depth = 0) {
  const kf = path.join(dir, 'kustomization.yaml');
  const kz = yaml.load(fs.readFileSync(kf, 'utf8'));
  for (const g of kz.configMapGenerator || []) {
    const data = {}; const missing = [];
    for (const f of g.files || []) {
      if (f.includes('=') || f.startsWith('..') || path.isAbsolute(f)) { missing.push(`${f}: key=/../absolute not used here`); continue; }
      const p = path.join(dir, f);
      if (!fs.existsSync(p)) { missing.push(f); continue; }
      data[path.basename(f)] = fs.readFileSync(p, 'utf8');
    }
    check(`${rel(kf)}: configMapGenerator ${g.name} files exist inside the kustomization root`, () => problems(missing));
    generated.push({ name: g.name, dir, data, labels: g.options?.labels || {}, annotations: g.options?.annotations || {} });
  }
  for (const r of kz.resources || []) {
    const p = path.resolve(dir, r);
    if (fs.statSync(p).isDirectory()) walk(p, depth + 1);
    else for (const o of loadAll(p)) objects.push({ o, file: rel(p) });
  }
  return kz;
}
let top;
check('deploy/k8s/kustomization.yaml: resource tree loads', () => { top = walk(K); });
check('deploy/k8s/kustomization.yaml: namespace algo-trading', () => top?.namespace === 'algo-trading' || String(top?.namespace));
const examples = loadAll(path.join(K, 'secrets.example.yaml')).map((o) => ({ o, file: 'deploy/k8s/secrets.example.yaml' }));

// ---- schema validation with kubernetes-models
const ctor = (o) => {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const kinds = { '': { v1: { Namespace: core.Namespace, Service: core.Service, ConfigMap: core.ConfigMap, Secret: core.Secret, PersistentVolumeClaim: core.PersistentVolumeClaim } },
    apps: { v1: { Deployment: apps.Deployment } } };
  return kinds[group]?.[version]?.[o.kind];
};
const genObjects = generated.map((g) => ({ o: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, labels: g.labels, annotations: g.annotations }, data: g.data }, file: `generated ${g.name}` }));
for (const { o, file } of [...objects, ...examples, ...genObjects]) {
  check(`${file}: ${o.kind}/${o.metadata?.name} valid against the Kubernetes schema`, () => {
    const C = ctor(o);
    if (!C) return `no model for ${o.apiVersion} ${o.kind}`;
    new C(o).validate();
  });
}
check('kubernetes-models rejects a Deployment without selector (validator is live)', () => {
  try { new apps.Deployment({ metadata: { name: 'x' }, spec: { template: {} } }).validate(); return 'accepted'; }
  catch (e) { return /selector/.test(e.message) || e.message; }
});
check('generated ConfigMaps stay under 1 MiB each', () => problems(generated
  .filter((g) => Buffer.byteLength(JSON.stringify(g.data)) >= 1024 * 1024).map((g) => g.name)));

// ---- compare with real kustomize when available offline
const kubectl = '/usr/bin/kubectl';
if (fs.existsSync(kubectl)) {
  let out = null;
  try { out = execFileSync(kubectl, ['kustomize', K], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 }); }
  catch (e) { console.log(`SKIP kubectl kustomize unavailable offline: ${String(e.stderr || e.message).split('\n')[0]}`); }
  if (out !== null) {
    const docs = yaml.loadAll(out).filter(Boolean);
    for (const g of generated) check(`kubectl kustomize: ConfigMap ${g.name}-<hash> holds exactly ${Object.keys(g.data).join(', ')}`, () => {
      const cm = docs.find((d) => d.kind === 'ConfigMap' && new RegExp(`^${g.name}-[a-z0-9]{10}$`).test(d.metadata.name));
      if (!cm) return 'not generated';
      if (cm.metadata.namespace !== 'algo-trading') return `namespace ${cm.metadata.namespace}`;
      const keys = Object.keys(cm.data || {}).sort();
      if (JSON.stringify(keys) !== JSON.stringify(Object.keys(g.data).sort())) return `keys ${keys}`;
      return problems(keys.filter((k) => cm.data[k] !== g.data[k]).map((k) => `${k} differs from the file`));
    });
    check('kubectl kustomize: Deployments reference the hashed ConfigMap names', () => {
      const names = new Set(docs.filter((d) => d.kind === 'ConfigMap').map((d) => d.metadata.name));
      const refs = docs.filter((d) => d.kind === 'Deployment').flatMap((d) => d.spec.template.spec.volumes.flatMap((v) =>
        [v.configMap?.name, ...(v.projected?.sources || []).map((s) => s.configMap?.name)].filter(Boolean)));
      return problems(refs.filter((r) => !names.has(r)));
    });
    check('kubectl kustomize: every object in namespace algo-trading', () => problems(docs
      .filter((d) => d.kind !== 'Namespace' && d.metadata.namespace !== 'algo-trading').map((d) => `${d.kind}/${d.metadata.name}`)));
  }
}

// ---- wiring
const dep = (n) => objects.find(({ o }) => o.kind === 'Deployment' && o.metadata.name === n)?.o;
const genNames = new Set(generated.map((g) => g.name));
const secretKeys = Object.fromEntries(examples.map(({ o }) => [o.metadata.name, Object.keys(o.stringData || o.data || {})]));
for (const name of ['prometheus', 'alertmanager', 'grafana']) {
  const d = dep(name);
  check(`Deployment ${name}: exists with a Service and PVC; volumes/env refer to generated ConfigMaps and example Secret keys`, () => {
    if (!d) return 'missing';
    const bad = [];
    if (!objects.some(({ o }) => o.kind === 'Service' && o.metadata.name === name)) bad.push('no Service');
    if (!objects.some(({ o }) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === `${name}-data`)) bad.push('no PVC');
    const spec = d.spec.template.spec;
    for (const v of spec.volumes || []) {
      for (const n of [v.configMap?.name, ...(v.projected?.sources || []).map((s) => s.configMap?.name)].filter(Boolean))
        if (!genNames.has(n)) bad.push(`ConfigMap ${n} not generated`);
      if (v.secret && !secretKeys[v.secret.secretName]) bad.push(`Secret ${v.secret.secretName} has no example`);
      if (v.persistentVolumeClaim && !objects.some(({ o }) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === v.persistentVolumeClaim.claimName)) bad.push('PVC ref');
    }
    for (const c of [...(spec.containers || []), ...(spec.initContainers || [])]) {
      for (const m of c.volumeMounts || []) if (!(spec.volumes || []).some((v) => v.name === m.name)) bad.push(`mount ${m.name}`);
      for (const e of c.env || []) {
        const r = e.valueFrom?.secretKeyRef;
        if (r && !(secretKeys[r.name] || []).includes(r.key)) bad.push(`secret key ${r.name}/${r.key}`);
      }
    }
    return problems(bad);
  });
}
const args = dep('prometheus')?.spec.template.spec.containers[0].args || [];
check('Prometheus: retention 30d / 10GB, config and TSDB paths match the mounts', () => problems(
  ['--storage.tsdb.retention.time=30d', '--storage.tsdb.retention.size=10GB', '--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus']
    .filter((a) => !args.includes(a))));
const am = dep('alertmanager');
check('Alertmanager: every *_file in alertmanager.yml is a key of the mounted alertmanager-secrets', () => {
  const cfg = readText('deploy/alertmanager/alertmanager.yml');
  const mount = am.spec.template.spec.containers[0].volumeMounts.find((m) => m.name === 'secrets')?.mountPath;
  const files = [...cfg.matchAll(/_file:\s*(\S+)/g)].map((m) => m[1]);
  return problems([...(files.length >= 3 ? [] : ['fewer than 3 *_file fields']), ...files.filter((f) =>
    path.dirname(f) !== mount || !secretKeys['alertmanager-secrets'].includes(path.basename(f))).map((f) => f)]);
});
const gd = dep('grafana');
const gspec = gd.spec.template.spec; const gc = gspec.containers[0];
const genv = Object.fromEntries((gc.env || []).map((e) => [e.name, e]));
check('Grafana: unsigned plugin allow-listed, admin password from a Secret', () => problems([
  ...(genv.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS?.value === 'algotrading-pnl-datasource' ? [] : ['allow-list']),
  ...(genv.GF_SECURITY_ADMIN_PASSWORD?.valueFrom?.secretKeyRef ? [] : ['admin password not from Secret'])]));
check('Grafana: init container copies the plugin from the plugin image into the plugins volume', () => {
  const ic = (gspec.initContainers || [])[0];
  const mount = ic?.volumeMounts?.find((m) => m.mountPath === '/var/lib/grafana/plugins');
  const same = gc.volumeMounts.find((m) => m.mountPath === '/var/lib/grafana/plugins');
  return problems([...(ic && ic.image.startsWith('algotrading-pnl-datasource-plugin') ? [] : ['image']),
    ...(mount && same && mount.name === same.name ? [] : ['shared plugins volume']),
    ...(/\/plugin\/algotrading-pnl-datasource/.test(JSON.stringify(ic?.command)) ? [] : ['copy command']),
    ...(top.images?.some((i) => i.name === 'algotrading-pnl-datasource-plugin') ? [] : ['kustomization images entry'])]);
});
check('Grafana: Dockerfile ships /plugin/algotrading-pnl-datasource built from dist/', () => {
  const d = readText('Dockerfile');
  return problems([...(/COPY dist\/ /.test(d) ? [] : ['no COPY dist/']), ...(/\/plugin\/algotrading-pnl-datasource/.test(d) ? [] : ['target path'])]);
});
check('Grafana: provisioning mounted at /etc/grafana/provisioning/{datasources,dashboards,alerting}; dashboards at the provider path', () => {
  const prov = yaml.load(readText('deploy/grafana/provisioning/dashboards/dashboards.yaml'));
  const want = { '/etc/grafana/provisioning/datasources': 'grafana-datasources', '/etc/grafana/provisioning/dashboards': 'grafana-dashboard-provider',
    '/etc/grafana/provisioning/alerting': 'grafana-alerting' };
  const volOf = (p) => gspec.volumes.find((v) => v.name === gc.volumeMounts.find((m) => m.mountPath === p)?.name);
  const bad = Object.entries(want).filter(([p, cm]) => volOf(p)?.configMap?.name !== cm).map(([p]) => p);
  for (const pr of prov.providers) {
    const v = volOf(pr.options.path);
    const cms = (v?.projected?.sources || []).map((s) => s.configMap.name).sort();
    if (JSON.stringify(cms) !== JSON.stringify(['grafana-dashboard-system', 'grafana-dashboard-trading'])) bad.push(`provider path ${pr.options.path}`);
  }
  return problems(bad);
});
check('Grafana: every $VAR in datasources.yaml is set in the Grafana container env', () => {
  const vars = [...readText('deploy/grafana/provisioning/datasources/datasources.yaml').split('\n').map((l) => l.replace(/(^|\s)#.*$/, '')).join('\n')
    .matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]);
  return problems([...(vars.includes('TRADING_PG_PASSWORD') ? [] : ['no TRADING_PG_PASSWORD']), ...vars.filter((v) => !genv[v])]);
});
check('ConfigMaps labelled for the Grafana Helm chart sidecars', () => problems([
  ...['grafana-dashboard-trading', 'grafana-dashboard-system'].filter((n) => !generated.find((g) => g.name === n)?.labels.grafana_dashboard).map((n) => `${n} grafana_dashboard`),
  ...(generated.find((g) => g.name === 'grafana-datasources')?.labels.grafana_datasource ? [] : ['grafana_datasource']),
  ...(generated.find((g) => g.name === 'grafana-alerting')?.labels.grafana_alert ? [] : ['grafana_alert'])]));
check('no real secrets: example Secrets hold placeholders only and are not in the kustomization', () => problems([
  ...examples.flatMap(({ o }) => Object.entries(o.stringData || {}).filter(([k, v]) => k !== 'admin-user' && !/CHANGE/.test(v)).map(([k]) => `${o.metadata.name}/${k}`)),
  ...objects.filter(({ o }) => o.kind === 'Secret').map(({ o }) => `Secret ${o.metadata.name} in resources`)]));
process.exit(failures() ? 1 : 0);
