#!/usr/bin/env node
/*
 * load-module.cjs — loads the BUILT dist/module.js the way Grafana does:
 * SystemJS with its AMD extra, the shared dependencies registered by name.
 * React, rxjs and @grafana/data are the real packages (so `plugin instanceof
 * DataSourcePlugin` is meaningful); @grafana/runtime and @grafana/ui are
 * stand-ins, as Grafana's own instances are not loadable outside a browser.
 *
 * Usage: node tests/load-module.cjs [path/to/module.js]
 * Prints one line per check and `load: N passed, N failed`.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const { pathToFileURL } = require('url');

const modulePath = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'dist', 'module.js'));
let passed = 0;
let failed = 0;
function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}

async function main() {
  check('module.js exists', fs.existsSync(modulePath), modulePath);
  if (!fs.existsSync(modulePath)) {
    return;
  }
  const src = fs.readFileSync(modulePath, 'utf8');
  // Externals must stay external: a bundled copy of React or @grafana/ui
  // would clash with Grafana's own instances at run time.
  check('module.js is an AMD define()', /^\s*(\/\*[\s\S]*?\*\/\s*)?define\(/.test(src));
  check('React is not bundled', !/react\.production\.min|__SECRET_INTERNALS_DO_NOT_USE/.test(src));
  check('module.js is small (< 200 KB)', src.length < 200 * 1024, `${src.length} bytes`);

  // Real CommonJS packages first, then SystemJS + AMD extra (frontend-notes.md:
  // the AMD extra's global define would otherwise capture e.g. tslib).
  // @grafana/data touches window/localStorage at import time: give it a
  // jsdom window as Grafana's page would.
  const { JSDOM } = require('jsdom');
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/' });
  for (const k of ['window', 'document', 'navigator', 'localStorage', 'HTMLElement', 'Node', 'getComputedStyle']) {
    if (!(k in global)) {
      global[k] = k === 'window' ? dom.window : dom.window[k];
    }
  }
  global.window.matchMedia = () => ({ matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {} });
  const React = require('react');
  const ReactDOM = require('react-dom');
  const rxjs = require('rxjs');
  const grafanaData = require('@grafana/data');

  class DataSourceWithBackend extends grafanaData.DataSourceApi {
    constructor(s) {
      super(s);
    }
    getResource(p, params) {
      return Promise.resolve(runtimeStub.resourceCalls.push({ p, params }) && ['alpha', 'beta']);
    }
  }
  const runtimeStub = {
    resourceCalls: [],
    DataSourceWithBackend,
    getTemplateSrv: () => ({ replace: (s) => s, getVariables: () => [], containsTemplate: () => false }),
    getBackendSrv: () => ({}),
  };
  // @grafana/ui stand-in: every named export is a trivial component.
  const uiStub = new Proxy({}, {
    get: (_t, name) => (name === '__esModule' ? false : (props) => React.createElement('div', { 'data-ui': String(name) }, props && props.children)),
    has: () => true,
  });

  const { System, applyImportMap, setBaseUrl } = require('systemjs/dist/system-node.cjs');
  require('systemjs/dist/extras/amd.js');
  const shared = {
    react: React,
    'react-dom': ReactDOM,
    rxjs,
    '@grafana/data': grafanaData,
    '@grafana/runtime': runtimeStub,
    '@grafana/ui': uiStub,
  };
  const imports = {};
  for (const [name, mod] of Object.entries(shared)) {
    const id = `app:${name}`;
    System.set(id, { ...mod, default: mod, __useDefault: true });
    imports[name] = id;
  }
  setBaseUrl(System, pathToFileURL(path.dirname(modulePath) + '/').href);
  applyImportMap(System, { imports });

  let exp;
  try {
    exp = await System.import(pathToFileURL(modulePath).href);
  } catch (e) {
    check('System.import(module.js)', false, e && e.stack);
    return;
  }
  check('System.import(module.js)', true);
  const plugin = exp && exp.plugin;
  check('exports plugin', !!plugin);
  if (!plugin) {
    return;
  }
  check('plugin instanceof DataSourcePlugin', plugin instanceof grafanaData.DataSourcePlugin);
  check('plugin has a config editor', typeof plugin.components.ConfigEditor === 'function');
  check('plugin has a query editor', typeof plugin.components.QueryEditor === 'function');

  const DS = plugin.DataSourceClass;
  const ds = new DS({ id: 1, uid: 'u', type: 'algotrading-pnl-datasource', name: 'x', jsonData: {}, meta: { info: {} } });
  check('data source extends DataSourceWithBackend', ds instanceof DataSourceWithBackend);
  check('variable support with an editor', !!ds.variables && typeof ds.variables.editor === 'function' && typeof ds.variables.query === 'function');
  check('getDefaultQuery is an equity query', ds.getDefaultQuery && ds.getDefaultQuery('dashboard').queryType === 'equity');
  const values = await ds.metricFindQuery({ resource: 'strategies' });
  check(
    'metricFindQuery calls the strategies resource',
    JSON.stringify(values) === JSON.stringify([{ text: 'alpha', value: 'alpha' }, { text: 'beta', value: 'beta' }]) &&
      runtimeStub.resourceCalls[0].p === 'strategies',
    JSON.stringify(runtimeStub.resourceCalls)
  );
  // The editors render with the real React against the stand-in UI.
  const { renderToStaticMarkup } = require('react-dom/server');
  const html = renderToStaticMarkup(
    React.createElement(plugin.components.QueryEditor, {
      datasource: ds, query: { refId: 'A', queryType: 'stats' }, onChange() {}, onRunQuery() {},
    })
  );
  check('QueryEditor renders', html.includes('data-ui="Select"') && html.includes('data-ui="MultiSelect"'), html.slice(0, 200));
  // dashboard annotations: the standard support with our editor, queries pinned to the annotations kind
  const an = ds.annotations;
  check('annotation support with an editor', !!an && typeof an.QueryEditor === 'function' && typeof an.prepareQuery === 'function');
  if (an) {
    const q = an.prepareQuery(an.prepareAnnotation({ name: 'x', enable: true, iconColor: 'red', target: { refId: 'Anno', events: 'large_losses' } }));
    check('annotation query is the annotations kind', q && q.queryType === 'annotations' && q.events === 'large_losses', JSON.stringify(q));
    const ahtml = renderToStaticMarkup(
      React.createElement(an.QueryEditor, { datasource: ds, query: q, onChange() {}, onRunQuery() {} })
    );
    check('annotation editor renders', ahtml.includes('data-ui="Select"') && ahtml.includes('data-ui="MultiSelect"'), ahtml.slice(0, 200));
  }
}

main()
  .catch((e) => check('load test ran', false, e && e.stack))
  .finally(() => {
    console.log(`load: ${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  });
