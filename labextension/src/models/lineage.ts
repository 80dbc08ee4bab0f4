import { type JupyterFrontEnd } from '@jupyterlab/application';
import {
  type ITranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { type AccordionPanel, type Widget } from '@lumino/widgets';

import { lineageActions } from '../lineage/actions';
import { LineageModel } from '../lineage/api';
import {
  type ILineageActions,
  onLineageClick,
  versionLineage
} from '../lineage/views';
import { CommandIDs, type IStatusModel, TRANSLATION_DOMAIN } from '../tokens';
import { ModelsBrowser } from './browser';
import { DeploymentsView } from './deployments';
import { type ModelsModel } from './model';
import { type ModelsPanel } from './panel';

/**
 * The lineage the models panel shows (a version's *Trained on*).
 */
export interface IModelsLineage {
  model: LineageModel;
  actions: ILineageActions;
}

/**
 * Re-render `view` when lineage arrives, and handle its lineage links.
 */
export function watchLineage(
  view: Widget,
  lineage: IModelsLineage | undefined
): void {
  if (!lineage) {
    return;
  }
  lineage.model.changed.connect(() => view.update(), view);
  view.node.addEventListener('click', event => {
    onLineageClick(event, lineage.actions);
  });
}

/**
 * A version's *Trained on* (fetched the first time its details show).
 */
export function trainedOn(
  lineage: IModelsLineage | undefined,
  trans: TranslationBundle,
  name: string,
  version: string
): HTMLElement | null {
  if (!lineage) {
    return null;
  }
  const state = lineage.model.version(name, version);
  if (state.status === 'idle') {
    void lineage.model.loadVersion(name, version);
  }
  return versionLineage(trans, name, version, state);
}

/**
 * Lineage in the models panel: the versions' *Trained on*, and the commands
 * revealing a version or a deployment.
 */
export function addLineage(
  app: JupyterFrontEnd,
  panel: ModelsPanel,
  model: ModelsModel,
  statusModel: IStatusModel | null,
  translator: ITranslator
): void {
  const trans = translator.load(TRANSLATION_DOMAIN);
  const lineage = new LineageModel({ translator });
  const options = {
    model: lineage,
    actions: lineageActions(app, lineage, statusModel, trans)
  };
  for (const widget of panel.widgets) {
    if (widget instanceof ModelsBrowser) {
      widget.lineage = options;
    }
  }
  addLineageCommands(app, panel, model, options, trans);
}

/**
 * The command revealing a deployment in the models panel, and a fresh
 * *Trained on* whenever a version is revealed.
 */
function addLineageCommands(
  app: JupyterFrontEnd,
  panel: ModelsPanel,
  model: ModelsModel,
  lineage: IModelsLineage,
  trans: TranslationBundle
): void {
  const { commands, shell } = app;
  // The panel's own command (models/plugin.ts) reveals the version; its
  // Trained on is fetched afresh, the tables may have changed since.
  commands.commandExecuted.connect((_, executed) => {
    const { model: name, version } = executed.args;
    if (
      executed.id === CommandIDs.modelsOpenVersion &&
      typeof name === 'string' &&
      typeof version === 'string'
    ) {
      void lineage.model.loadVersion(name, version, true);
    }
  });
  commands.addCommand(CommandIDs.modelsOpenDeployment, {
    label: trans.__('Show Deployment'),
    caption: trans.__("Show a deployment in the Models panel's deployments"),
    execute: async args => {
      const name = args['name'];
      if (typeof name !== 'string' || name === '') {
        return;
      }
      shell.activateById(panel.id);
      const accordion = panel.content as AccordionPanel;
      const view = accordion.widgets.find(w => w instanceof DeploymentsView);
      if (!view) {
        return;
      }
      accordion.expand(accordion.widgets.indexOf(view));
      await model.loadDeployments();
      view.render(); // now, not at the next frame: the item is looked up
      const item = view.node.querySelector<HTMLElement>(
        `[data-testid="mlplat-deployment-${CSS.escape(name)}"]`
      );
      item?.scrollIntoView({ block: 'nearest' });
      item?.classList.add('jp-mod-highlight'); // until the next re-render
    }
  });
}
