import { type JupyterFrontEndPlugin } from '@jupyterlab/application';

import { catalogPlugin } from './catalog/plugin';
import { mlflowPlugin } from './mlflow/plugin';
import { modelsPlugin } from './models/plugin';
import { pipelinesPlugin } from './pipelines/plugin';
import { searchPlugin } from './search/plugin';
import { statusBarPlugin, statusPlugin } from './status/plugin';

/**
 * The plugins of jupyter-mlplat, one folder per feature.
 */
const plugins: JupyterFrontEndPlugin<unknown>[] = [
  statusPlugin,
  statusBarPlugin,
  mlflowPlugin,
  catalogPlugin,
  modelsPlugin,
  pipelinesPlugin,
  searchPlugin
];

export default plugins;
