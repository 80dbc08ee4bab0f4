import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { mlplatIcon } from '../common/icons';
import {
  addLauncherAndPaletteItems,
  isLauncher,
  isPalette
} from '../common/launcher';
import {
  CommandIDs,
  IStatusModel,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { StatusModel } from './model';
import { StatusPanel } from './panel';
import { StatusBarItem } from './statusbar';

/**
 * Status plugin: "ML Platform" side panel, `mlplat:open-status` and
 * `mlplat:refresh-status`, launcher card and palette items. Provides the
 * shared status model.
 */
export const statusPlugin: JupyterFrontEndPlugin<IStatusModel> = {
  id: PluginIDs.status,
  description:
    'Left side panel summarising the ML platform status (MLflow tracking, Spark, catalog, deployment).',
  autoStart: true,
  provides: IStatusModel,
  optional: [
    ISettingRegistry,
    ILayoutRestorer,
    ILauncher,
    ICommandPalette,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): IStatusModel => {
    const { commands, shell } = app;
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new StatusModel({ translator });

    const panel = new StatusPanel({
      model,
      trans,
      openMLflow: () => {
        void commands.execute(CommandIDs.openMLflow);
      }
    });
    shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    commands.addCommand(CommandIDs.openStatus, {
      label: args =>
        isLauncher(args)
          ? trans.__('Platform Status')
          : trans.__('Show Platform Status'),
      caption: trans.__('Show the ML Platform status panel'),
      icon: args => (isPalette(args) ? undefined : mlplatIcon),
      execute: () => {
        shell.activateById(panel.id);
        // Showing the panel refreshes it; refresh anyway if it was already open.
        return model.refresh();
      }
    });

    commands.addCommand(CommandIDs.refreshStatus, {
      label: trans.__('Refresh Platform Status'),
      caption: trans.__('Fetch the ML platform status from the server again'),
      execute: () => model.refresh()
    });

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings): void => {
        model.refreshInterval = settings.get('refreshInterval')
          .composite as number;
      };
      settingRegistry
        .load(PluginIDs.status)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.warn(
            `[jupyter-mlplat] Failed to load settings for ${PluginIDs.status}.`,
            reason
          );
        });
    }

    addLauncherAndPaletteItems(trans, launcher, palette, {
      card: CommandIDs.openStatus,
      rank: 2,
      palette: [CommandIDs.openStatus, CommandIDs.refreshStatus]
    });

    return model;
  }
};

/**
 * Status-bar plugin: "MLflow ●" item reflecting tracking-server reachability.
 */
export const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.statusBar,
  description:
    'Status-bar item showing whether the MLflow tracking server is reachable.',
  autoStart: true,
  requires: [IStatusModel, IStatusBar],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IStatusModel,
    statusBar: IStatusBar,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const item = new StatusBarItem({
      model,
      trans,
      onClick: () => {
        void app.commands.execute(CommandIDs.openStatus);
      }
    });
    statusBar.registerStatusItem(PluginIDs.statusBar, {
      item,
      align: 'left',
      rank: 900
    });
    // Keep the item fresh while the page is visible; fetch once right away.
    model.watch(() => true);
    void app.restored.then(() => model.refresh());
  }
};
