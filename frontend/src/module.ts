/*
 * module.ts — the entry Grafana imports (dist/module.js, AMD): it only needs
 * the `plugin` export, a DataSourcePlugin wired to the editors.
 */
import { DataSourcePlugin } from '@grafana/data';

import { DataSource } from './datasource';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { PnlOptions, PnlQuery, PnlSecureData } from './types';

export const plugin = new DataSourcePlugin<DataSource, PnlQuery, PnlOptions, PnlSecureData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
