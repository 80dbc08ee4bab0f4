import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  ICommandPalette,
  Notification,
  showDialog,
  WidgetTracker
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { refreshIcon } from '@jupyterlab/ui-components';
import { type ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { errorMessage } from './api';
import {
  CatalogModel,
  type ITableRef,
  qualifiedName,
  sqlSnippet,
  tableSnippet
} from './catalog/model';
import {
  enableCatalogDrops,
  insertCodeBelowActiveCell
} from './catalog/notebook';
import {
  CatalogPanel,
  type ICatalogActions,
  TABLE_ITEM_CLASS,
  tableRefOf
} from './catalog/panel';
import { catalogIcon, mlplatIcon } from './icons';
import { MLflowWidget } from './mlflow';
import { deployWithDialog } from './models/dialog';
import { modelsIcon } from './models/icon';
import { ModelsModel } from './models/model';
import { type IModelsActions, ModelsPanel } from './models/panel';
import { StatusModel } from './model';
import { StatusBarItem } from './statusbar';
import { StatusPanel } from './statuspanel';
import {
  CATEGORY,
  CommandIDs,
  DEFAULT_MLFLOW_UI_PATH,
  IStatusModel,
  MLFLOW_WIDGET_ID,
  PluginIDs
} from './tokens';

export * from './tokens';
export { requestAPI } from './api';
export {
  CatalogModel,
  type ILoadable,
  type ISearchState,
  type ITableRef,
  qualifiedName,
  sqlSnippet,
  tableSnippet
} from './catalog/model';

/**
 * Launcher section rank: after "Notebook" (0) and "Console" (20), before "Other" (100).
 */
const LAUNCHER_CATEGORY_RANK = 50;

/**
 * Whether a command is being rendered by the launcher.
 */
function isLauncher(args: ReadonlyPartialJSONObject): boolean {
  return args['isLauncher'] === true;
}

/**
 * Status plugin: "ML Platform" side panel, `mlplat:open-status` and
 * `mlplat:refresh-status`. Provides the shared status model.
 */
const statusPlugin: JupyterFrontEndPlugin<IStatusModel> = {
  id: PluginIDs.status,
  description:
    'Left side panel summarising the ML platform status (MLflow tracking, Spark, catalog, deployment).',
  autoStart: true,
  provides: IStatusModel,
  optional: [ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ): IStatusModel => {
    const { commands, shell } = app;
    const model = new StatusModel();

    const panel = new StatusPanel({
      model,
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
        isLauncher(args) ? 'Platform Status' : 'Show Platform Status',
      caption: 'Show the ML Platform status panel',
      icon: args => (args['isPalette'] ? undefined : mlplatIcon),
      execute: () => {
        shell.activateById(panel.id);
        // Showing the panel refreshes it; refresh anyway if it was already open.
        return model.refresh();
      }
    });

    commands.addCommand(CommandIDs.refreshStatus, {
      label: 'Refresh Platform Status',
      caption: 'Fetch the ML platform status from the server again',
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

    return model;
  }
};

/**
 * Status-bar plugin: "MLflow ●" item reflecting tracking-server reachability.
 */
const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.statusBar,
  description:
    'Status-bar item showing whether the MLflow tracking server is reachable.',
  autoStart: true,
  requires: [IStatusModel, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    model: IStatusModel,
    statusBar: IStatusBar
  ): void => {
    const item = new StatusBarItem({
      model,
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

/**
 * MLflow UI plugin: `mlplat:open-mlflow` opens the (proxied) MLflow tracking UI
 * in a main-area tab.
 */
const mlflowPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.mlflowUI,
  description:
    'Opens the MLflow tracking UI, proxied by the server extension, inside JupyterLab.',
  autoStart: true,
  optional: [IStatusModel, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    statusModel: IStatusModel | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const { commands, shell } = app;
    const tracker = new WidgetTracker<MLflowWidget>({
      namespace: 'mlplat-mlflow'
    });

    const mlflowUrl = (): string => {
      // The server tells where it proxies the UI; only accept a relative path
      // so the frame always stays on the Jupyter origin and base URL.
      const uiPath = statusModel?.status?.tracking?.ui_path;
      const path =
        typeof uiPath === 'string' && /^[\w.~-][\w./~-]*$/.test(uiPath)
          ? uiPath
          : DEFAULT_MLFLOW_UI_PATH;
      return PageConfig.getBaseUrl() + (path.endsWith('/') ? path : `${path}/`);
    };

    commands.addCommand(CommandIDs.openMLflow, {
      label: args => (isLauncher(args) ? 'MLflow UI' : 'Open MLflow UI'),
      caption: 'Open the MLflow tracking UI in a JupyterLab tab',
      icon: args => (args['isPalette'] ? undefined : mlplatIcon),
      execute: async () => {
        let widget = tracker.find(w => w.id === MLFLOW_WIDGET_ID);
        if (!widget || widget.isDisposed) {
          widget = new MLflowWidget(mlflowUrl());
          await tracker.add(widget);
        }
        if (!widget.isAttached) {
          shell.add(widget, 'main');
        }
        shell.activateById(widget.id);
        return widget;
      }
    });

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openMLflow,
        name: () => 'mlflow'
      });
    }
  }
};

/**
 * Launcher/palette plugin: "ML Platform" launcher section and palette category.
 */
const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.launcher,
  description:
    'Adds the "ML Platform" launcher section and command palette entries.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette],
  activate: (
    _app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    if (launcher) {
      launcher.add({
        command: CommandIDs.openMLflow,
        category: CATEGORY,
        categoryRank: LAUNCHER_CATEGORY_RANK,
        rank: 1,
        args: { isLauncher: true }
      });
      launcher.add({
        command: CommandIDs.openStatus,
        category: CATEGORY,
        categoryRank: LAUNCHER_CATEGORY_RANK,
        rank: 2,
        args: { isLauncher: true }
      });
    }
    if (palette) {
      for (const command of [
        CommandIDs.openMLflow,
        CommandIDs.openStatus,
        CommandIDs.refreshStatus
      ]) {
        palette.addItem({
          command,
          category: CATEGORY,
          args: { isPalette: true }
        });
      }
    }
  }
};

/**
 * A table given as command arguments (`database`, `table`), if any.
 */
function tableFromArgs(args: ReadonlyPartialJSONObject): ITableRef | null {
  const { database, table } = args;
  return typeof database === 'string' && typeof table === 'string'
    ? { database, name: table }
    : null;
}

/**
 * Data catalog plugin: "Data Catalog" side panel (search, lazy tree, details
 * and preview), table commands (insert snippet/SQL, copy name) with a tree
 * context menu, drag-and-drop into notebooks, launcher card and palette items.
 */
const catalogPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.catalog,
  description:
    'Data catalog side panel: search and browse datalake databases, tables and columns, preview data and insert code into notebooks.',
  autoStart: true,
  optional: [INotebookTracker, ILayoutRestorer, ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands, shell } = app;
    const model = new CatalogModel();

    const actions: ICatalogActions = {
      insertSnippet: ref => {
        insertCodeBelowActiveCell(app, tracker, tableSnippet(ref));
      },
      insertSQL: ref => {
        insertCodeBelowActiveCell(app, tracker, sqlSnippet(ref));
      },
      copyName: ref => {
        const name = qualifiedName(ref);
        Clipboard.copyToSystem(name);
        Notification.info(`Copied "${name}" to the clipboard`, {
          autoClose: 2500
        });
      },
      refresh: () => {
        void commands.execute(CommandIDs.refreshCatalog);
      }
    };

    const panel = new CatalogPanel({ model, actions });
    shell.add(panel, 'left', { rank: 910 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    if (tracker) {
      enableCatalogDrops(tracker);
    }

    commands.addCommand(CommandIDs.openCatalog, {
      label: args => (isLauncher(args) ? 'Data Catalog' : 'Open Data Catalog'),
      caption: 'Browse and search the datalake catalog',
      icon: args => (args['isPalette'] ? undefined : catalogIcon),
      execute: () => {
        shell.activateById(panel.id);
        return model.loadDatabases();
      }
    });

    commands.addCommand(CommandIDs.refreshCatalog, {
      label: 'Refresh Data Catalog',
      caption: 'Ask the server to re-read the catalog, then reload the panel',
      icon: args => (args['isPalette'] ? undefined : refreshIcon),
      execute: async () => {
        try {
          const reply = await model.refresh();
          if (model.databases.status === 'error') {
            return; // The panel shows why the reload failed.
          }
          const took =
            typeof reply.took_ms === 'number'
              ? ` in ${(reply.took_ms / 1000).toFixed(1)} s`
              : '';
          Notification.success(
            `Catalog refreshed: ${reply.databases} databases, ${reply.tables} tables${took}`,
            { autoClose: 3000 }
          );
        } catch (error) {
          Notification.error(
            `Could not refresh the catalog: ${errorMessage(error)}`,
            { autoClose: 8000 }
          );
        }
      }
    });

    // Table commands: from arguments, else the table under the context menu,
    // else the selected table.
    const targetTable = (args: ReadonlyPartialJSONObject): ITableRef | null =>
      tableFromArgs(args) ??
      tableRefOf(
        app.contextMenuHitTest(node =>
          node.classList.contains(TABLE_ITEM_CLASS)
        ) ?? null
      ) ??
      model.selected;

    const tableCommands: [string, string, (ref: ITableRef) => void][] = [
      [CommandIDs.catalogShowDetails, 'Show Details', ref => model.select(ref)],
      [
        CommandIDs.catalogInsertSnippet,
        'Insert Snippet in Notebook',
        actions.insertSnippet
      ],
      [
        CommandIDs.catalogInsertSQL,
        'Insert SQL in Notebook',
        actions.insertSQL
      ],
      [CommandIDs.catalogCopyName, 'Copy Qualified Name', actions.copyName]
    ];
    tableCommands.forEach(([id, label, run], rank) => {
      commands.addCommand(id, {
        label,
        isEnabled: args => targetTable(args) !== null,
        execute: args => {
          const ref = targetTable(args);
          if (ref) {
            run(ref);
          }
        }
      });
      app.contextMenu.addItem({
        command: id,
        selector: `.${TABLE_ITEM_CLASS}`,
        rank
      });
    });

    if (launcher) {
      launcher.add({
        command: CommandIDs.openCatalog,
        category: CATEGORY,
        categoryRank: LAUNCHER_CATEGORY_RANK,
        rank: 3,
        args: { isLauncher: true }
      });
    }
    if (palette) {
      for (const command of [
        CommandIDs.openCatalog,
        CommandIDs.refreshCatalog
      ]) {
        palette.addItem({
          command,
          category: CATEGORY,
          args: { isPalette: true }
        });
      }
    }
  }
};

/**
 * Where the MLflow UI shows a run: only this shape is opened, so the frame
 * stays on the proxied UI.
 */
const RUN_UI_PATH = /^mlplat\/mlflow\/#\/experiments\/[\w-]+\/runs\/[\w-]+$/;

/**
 * Ask before a deployment action; `true` when confirmed.
 */
async function confirmAction(
  title: string,
  body: string,
  label: string,
  warn = false
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton(),
      warn ? Dialog.warnButton({ label }) : Dialog.okButton({ label })
    ]
  });
  return result.button.accept;
}

/**
 * Models plugin: "Models" side panel (registry search, versions with their
 * runs and data-quality results, deploy dialog, deployments with promote,
 * rollback and delete), `mlplat:open-models`, launcher card and palette items.
 */
const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.models,
  description:
    'Models side panel: search the MLflow model registry, inspect versions, deploy them and manage deployments.',
  autoStart: true,
  optional: [IStatusModel, ILayoutRestorer, ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    statusModel: IStatusModel | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands, shell } = app;
    const model = new ModelsModel();

    const act = async (
      what: string,
      run: () => Promise<unknown>
    ): Promise<void> => {
      try {
        await run();
      } catch (error) {
        Notification.error(`Could not ${what}: ${errorMessage(error)}`, {
          autoClose: 8000
        });
      }
    };

    const actions: IModelsActions = {
      deploy: (name, version) => {
        void act('deploy', async () => {
          if (model.deployments.value === null) {
            await model.loadDeployments();
          }
          const deployment = await deployWithDialog({
            model: name,
            version,
            deployments: model.deployments.value ?? [],
            defaultTarget: statusModel?.status?.deploy?.target ?? 'local',
            deploy: request => model.deploy(request)
          });
          if (deployment) {
            Notification.info(
              `Deploying ${name} version ${version} as "${deployment.name}"…`,
              { autoClose: 3000 }
            );
          }
        });
      },
      openRun: uiPath => {
        if (!RUN_UI_PATH.test(uiPath)) {
          return;
        }
        void act('open the run', async () => {
          const widget = (await commands.execute(
            CommandIDs.openMLflow
          )) as MLflowWidget;
          widget.content.url = PageConfig.getBaseUrl() + uiPath;
        });
      },
      promote: deployment => {
        void act(`promote ${deployment.name}`, async () => {
          const canary = deployment.canary;
          if (
            canary &&
            (await confirmAction(
              `Promote "${deployment.name}"?`,
              `All the traffic goes to ${canary.name} version ${canary.version}.`,
              'Promote'
            ))
          ) {
            await model.promote(deployment.name);
          }
        });
      },
      rollback: deployment => {
        void act(`roll back ${deployment.name}`, async () => {
          const to = deployment.canary
            ? deployment.stable
            : deployment.previous;
          if (
            to &&
            (await confirmAction(
              `Roll back "${deployment.name}"?`,
              `All the traffic goes back to ${to.name} version ${to.version}.`,
              'Roll back'
            ))
          ) {
            await model.rollback(deployment.name);
          }
        });
      },
      remove: deployment => {
        void act(`delete ${deployment.name}`, async () => {
          if (
            await confirmAction(
              `Delete "${deployment.name}"?`,
              `The model server stops and ${deployment.endpoint || 'its endpoint'} goes away.`,
              'Delete',
              true
            )
          ) {
            await model.remove(deployment.name);
          }
        });
      },
      copyEndpoint: deployment => {
        Clipboard.copyToSystem(deployment.endpoint);
        Notification.info(`Copied "${deployment.endpoint}" to the clipboard`, {
          autoClose: 2500
        });
      },
      refresh: () => {
        void commands.execute(CommandIDs.refreshModels);
      }
    };

    const panel = new ModelsPanel({ model, actions });
    shell.add(panel, 'left', { rank: 920 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    commands.addCommand(CommandIDs.openModels, {
      label: args => (isLauncher(args) ? 'Models' : 'Open Models'),
      caption: 'Search registered models, deploy them, manage deployments',
      icon: args => (args['isPalette'] ? undefined : modelsIcon),
      execute: () => {
        shell.activateById(panel.id);
      }
    });
    commands.addCommand(CommandIDs.refreshModels, {
      label: 'Refresh Models',
      caption: 'Reload registered models and deployments',
      icon: args => (args['isPalette'] ? undefined : refreshIcon),
      execute: () => model.reload()
    });

    if (launcher) {
      launcher.add({
        command: CommandIDs.openModels,
        category: CATEGORY,
        categoryRank: LAUNCHER_CATEGORY_RANK,
        rank: 4,
        args: { isLauncher: true }
      });
    }
    if (palette) {
      for (const command of [CommandIDs.openModels, CommandIDs.refreshModels]) {
        palette.addItem({
          command,
          category: CATEGORY,
          args: { isPalette: true }
        });
      }
    }
  }
};

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  statusPlugin,
  statusBarPlugin,
  mlflowPlugin,
  launcherPlugin,
  catalogPlugin,
  modelsPlugin
];

export default plugins;
