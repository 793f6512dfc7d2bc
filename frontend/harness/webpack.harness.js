// webpack.harness.js — bundles harness/index.tsx with the REAL React and
// @grafana/ui (not externals) into harness/build/harness.js for Chromium.
const path = require('path');
const base = require('../webpack.config.js')({}, { mode: 'development' });

module.exports = {
  mode: 'development',
  context: path.resolve(__dirname, '..'),
  entry: './harness/index.tsx',
  devtool: false,
  target: 'web',
  output: { path: path.resolve(__dirname, 'build'), filename: 'harness.js', clean: true },
  resolve: { extensions: ['.ts', '.tsx', '.mjs', '.js', '.jsx'], fallback: { fs: false, path: false, crypto: false } },
  module: {
    rules: [
      base.module.rules[0],
      // Component stylesheets are emotion-in-JS; the few plain .css imports
      // (calendar, sliders) are irrelevant to these editors.
      { test: /\.css$/, type: 'asset/source' },
      { test: /\.m?js$/, resolve: { fullySpecified: false } },
    ],
  },
  performance: { hints: false },
  cache: { type: 'filesystem', cacheDirectory: path.resolve(__dirname, 'build-cache') },
};
