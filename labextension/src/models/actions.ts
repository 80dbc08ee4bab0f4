import { type TranslationBundle } from '@jupyterlab/translation';

import { type IDeployment } from '../tokens';
import { type ModelsModel } from './model';

/**
 * What the deployments list can do (implemented by the plugin: confirmation
 * dialogs, notifications, clipboard).
 */
export interface IDeploymentActions {
  promote(deployment: IDeployment): void;
  rollback(deployment: IDeployment): void;
  remove(deployment: IDeployment): void;
  copyEndpoint(deployment: IDeployment): void;
}

/**
 * What the models panel can do with a model version (implemented by the plugin).
 */
export interface IModelsActions extends IDeploymentActions {
  /** Open the deploy dialog for a version. */
  deploy(model: string, version: string): void;
  /** Open the lab's MLflow UI at a path relative to the Jupyter base URL. */
  openRun(uiPath: string): void;
  /** Reload the panel. */
  refresh(): void;
}

/**
 * What every models widget is built with.
 */
export interface IModelsWidgetOptions {
  /** The models model (shared with the commands). */
  model: ModelsModel;
  /** What the buttons do (dialogs, notifications, clipboard). */
  actions: IModelsActions;
  /** Translations of the widget's strings. */
  trans: TranslationBundle;
}
