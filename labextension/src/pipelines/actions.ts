import { type TranslationBundle } from '@jupyterlab/translation';

import { type ILogTarget, type PipelinesModel } from './model';

/**
 * What the pipelines panel can do (implemented by the plugin: notifications,
 * the Airflow UI tab).
 */
export interface IPipelinesActions {
  /** Start a run of a pipeline now. */
  trigger(dagId: string): void;
  /** Pause or resume a pipeline's schedule. */
  setPaused(dagId: string, paused: boolean): void;
  /** Show the log tail of a task, or hide it (`null`). */
  showLog(target: ILogTarget | null): void;
  /** Open the Airflow UI in a lab tab. */
  openAirflow(): void;
  /** Reload the panel. */
  refresh(): void;
}

/**
 * What every pipelines widget is built with.
 */
export interface IPipelinesWidgetOptions {
  /** The pipelines model (shared with the commands). */
  model: PipelinesModel;
  /** What the buttons do. */
  actions: IPipelinesActions;
  /** Translations of the widget's strings. */
  trans: TranslationBundle;
}
