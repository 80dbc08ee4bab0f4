import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { mlplatIcon } from '../common/icons';
import {
  addLauncherAndPaletteItems,
  isLauncher,
  isPalette
} from '../common/launcher';
import { openUIFrame } from '../common/uiframe';
import {
  CommandIDs,
  IStatusModel,
  MLFLOW_WIDGET_ID,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { mlflowUIPath } from './uipath';
import { MLflowWidget } from './widget';

/**
 * MLflow UI plugin: `mlplat:open-mlflow` opens the (proxied) MLflow tracking
 * UI in a main-area tab; launcher card and palette item.
 */
export const mlflowPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.mlflowUI,
  description:
    'Opens the MLflow tracking UI, proxied by the server extension, inside JupyterLab.',
  autoStart: true,
  optional: [
    IStatusModel,
    ILayoutRestorer,
    ILauncher,
    ICommandPalette,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    statusModel: IStatusModel | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const { commands, shell } = app;
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const tracker = new WidgetTracker<MLflowWidget>({
      namespace: 'mlplat-mlflow'
    });

    commands.addCommand(CommandIDs.openMLflow, {
      label: args =>
        isLauncher(args) ? trans.__('MLflow UI') : trans.__('Open MLflow UI'),
      caption: trans.__('Open the MLflow tracking UI in a JupyterLab tab'),
      icon: args => (isPalette(args) ? undefined : mlplatIcon),
      execute: () =>
        openUIFrame(
          shell,
          tracker,
          MLFLOW_WIDGET_ID,
          () =>
            new MLflowWidget(
              PageConfig.getBaseUrl() + mlflowUIPath(statusModel?.status),
              trans
            )
        )
    });

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openMLflow,
        name: () => 'mlflow'
      });
    }
    addLauncherAndPaletteItems(trans, launcher, palette, {
      card: CommandIDs.openMLflow,
      rank: 1,
      palette: [CommandIDs.openMLflow]
    });
  }
};
