// webpack.config.js — builds src/module.ts into dist/module.js as an AMD
// module, the format Grafana's SystemJS loader imports. Everything Grafana
// provides at run time is external (ecosystem.md §2.3); only our own code
// is bundled. Plain JS on purpose: a TS config needs ts-node, whose ESM
// settings break on node 20 (frontend-notes.md).
const path = require('path');

const PLUGIN_ID = require('../plugin.json').id;

// Grafana's shared dependencies: never bundle these.
const EXTERNALS = [
  'react',
  'react-dom',
  'react/jsx-runtime',
  'react/jsx-dev-runtime',
  '@grafana/data',
  '@grafana/runtime',
  '@grafana/ui',
  '@grafana/schema',
  '@grafana/e2e-selectors',
  '@emotion/css',
  '@emotion/react',
  'rxjs',
  'rxjs/operators',
  'lodash',
  'moment',
  'jquery',
  'i18next',
];

module.exports = (_env, argv) => ({
  mode: argv.mode || 'production',
  context: __dirname,
  entry: { module: './src/module.ts' },
  devtool: 'source-map',
  target: 'web',
  output: {
    path: path.resolve(__dirname, 'dist'),
    filename: '[name].js',
    library: { type: 'amd' },
    publicPath: `public/plugins/${PLUGIN_ID}/`,
    uniqueName: PLUGIN_ID,
    clean: true,
  },
  externals: [
    ...EXTERNALS,
    // Anything else under @grafana/ (e.g. @grafana/ui/unstable) is Grafana's too.
    ({ request }, cb) => (/^@grafana\//.test(request) ? cb(null, request) : cb()),
  ],
  resolve: { extensions: ['.ts', '.tsx', '.js', '.jsx'] },
  module: {
    rules: [
      {
        test: /\.[tj]sx?$/,
        exclude: /node_modules/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              parser: { syntax: 'typescript', tsx: true },
              target: 'es2019',
              transform: { react: { runtime: 'classic' } },
            },
          },
        },
      },
    ],
  },
  performance: { hints: false },
});
