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
  showDialog
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import {
  addLauncherAndPaletteItems,
  isLauncher,
  isPalette
} from '../common/launcher';
import { notifyFailure } from '../common/notify';
import { isRunPage } from '../mlflow/uipath';
import { type MLflowWidget } from '../mlflow/widget';
import {
  CommandIDs,
  IStatusModel,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { type IModelsActions } from './actions';
import { deployWithDialog } from './dialog';
import { modelsIcon } from './icons';
import { addLineage } from './lineage';
import { ModelsModel } from './model';
import { ModelsPanel } from './panel';
import { addReportCommands } from './reports/commands';
import { ReportsSearchModel } from './reports/search';

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
export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.models,
  description:
    'Models side panel: search the MLflow model registry, inspect versions, deploy them and manage deployments.',
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
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new ModelsModel({ translator });

    const act = notifyFailure;

    const actions: IModelsActions = {
      deploy: (name, version) => {
        void act(trans.__('Could not deploy'), async () => {
          if (model.deployments.value === null) {
            await model.loadDeployments();
          }
          const deployment = await deployWithDialog({
            model: name,
            version,
            deployments: model.deployments.value ?? [],
            defaultTarget: statusModel?.status?.deploy?.target ?? 'local',
            deploy: request => model.deploy(request),
            trans
          });
          if (deployment) {
            Notification.info(
              trans.__(
                'Deploying %1 version %2 as "%3"…',
                name,
                version,
                deployment.name
              ),
              { autoClose: 3000 }
            );
          }
        });
      },
      openRun: uiPath => {
        if (!isRunPage(uiPath, statusModel?.status)) {
          return; // only the proxied UI's run pages open in the frame
        }
        void act(trans.__('Could not open the run'), async () => {
          const widget = (await commands.execute(
            CommandIDs.openMLflow
          )) as MLflowWidget;
          widget.content.url = PageConfig.getBaseUrl() + uiPath;
        });
      },
      promote: deployment => {
        void act(
          trans.__('Could not promote %1', deployment.name),
          async () => {
            const canary = deployment.canary;
            if (
              canary &&
              (await confirmAction(
                trans.__('Promote "%1"?', deployment.name),
                trans.__(
                  'All the traffic goes to %1 version %2.',
                  canary.name,
                  canary.version
                ),
                trans.__('Promote')
              ))
            ) {
              await model.promote(deployment.name);
            }
          }
        );
      },
      rollback: deployment => {
        void act(
          trans.__('Could not roll back %1', deployment.name),
          async () => {
            const to = deployment.canary
              ? deployment.stable
              : deployment.previous;
            if (
              to &&
              (await confirmAction(
                trans.__('Roll back "%1"?', deployment.name),
                trans.__(
                  'All the traffic goes back to %1 version %2.',
                  to.name,
                  to.version
                ),
                trans.__('Roll back')
              ))
            ) {
              await model.rollback(deployment.name);
            }
          }
        );
      },
      remove: deployment => {
        void act(trans.__('Could not delete %1', deployment.name), async () => {
          if (
            await confirmAction(
              trans.__('Delete "%1"?', deployment.name),
              trans.__(
                'The model server stops and %1 goes away.',
                deployment.endpoint || trans.__('its endpoint')
              ),
              trans.__('Delete'),
              true
            )
          ) {
            await model.remove(deployment.name);
          }
        });
      },
      copyEndpoint: deployment => {
        Clipboard.copyToSystem(deployment.endpoint);
        Notification.info(
          trans.__('Copied "%1" to the clipboard', deployment.endpoint),
          { autoClose: 2500 }
        );
      },
      openReport: id => {
        void act(trans.__('Could not open the report'), () =>
          commands.execute(CommandIDs.openReport, { id })
        );
      },
      compare: (name, versions) => {
        void act(trans.__('Could not compare the reports'), () =>
          commands.execute(CommandIDs.compareReports, {
            model: name,
            versions
          })
        );
      },
      refresh: () => {
        void commands.execute(CommandIDs.refreshModels);
      }
    };
    addReportCommands(app, trans, restorer);

    const reportsSearch = new ReportsSearchModel({ translator });
    const panel = new ModelsPanel({ model, actions, trans, reportsSearch });
    shell.add(panel, 'left', { rank: 920 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    commands.addCommand(CommandIDs.openModels, {
      label: args =>
        isLauncher(args) ? trans.__('Models') : trans.__('Open Models'),
      caption: trans.__(
        'Search registered models, deploy them, manage deployments'
      ),
      icon: args => (isPalette(args) ? undefined : modelsIcon),
      execute: () => {
        shell.activateById(panel.id);
      }
    });
    commands.addCommand(CommandIDs.modelsOpenVersion, {
      label: trans.__('Open Model Version'),
      caption: trans.__(
        'Show a registered model and a version in the Models panel'
      ),
      execute: args => {
        const name = args['model'];
        const version = args['version'];
        if (typeof name !== 'string' || name === '') {
          return;
        }
        shell.activateById(panel.id);
        return panel.reveal(
          name,
          typeof version === 'string' ? version : undefined
        );
      }
    });
    commands.addCommand(CommandIDs.refreshModels, {
      label: trans.__('Refresh Models'),
      caption: trans.__('Reload registered models and deployments'),
      icon: args => (isPalette(args) ? undefined : refreshIcon),
      execute: () => model.reload()
    });

    addLauncherAndPaletteItems(trans, launcher, palette, {
      card: CommandIDs.openModels,
      rank: 4,
      palette: [CommandIDs.openModels, CommandIDs.refreshModels]
    });
    addLineage(app, panel, model, statusModel, translator);
  }
};
