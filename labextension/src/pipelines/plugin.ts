import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import {
  addLauncherAndPaletteItems,
  isLauncher,
  isPalette
} from '../common/launcher';
import { notifyFailure } from '../common/notify';
import { openUIFrame } from '../common/uiframe';
import {
  AIRFLOW_WIDGET_ID,
  CommandIDs,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { type IPipelinesActions } from './actions';
import { AIRFLOW_UI_PATH, AirflowWidget } from './airflow';
import { exportWithDialog } from './exportdialog';
import { pipelinesIcon } from './icons';
import { PipelinesModel } from './model';
import {
  isPipelineCell,
  pipelineNameFor,
  pipelineSource,
  togglePipelineCells
} from './notebook';
import { PipelinesPanel } from './panel';

/**
 * Pipelines plugin: "Pipelines" side panel (Airflow DAGs, runs and task
 * states, trigger / pause / unpause, task logs, import errors), the Airflow
 * UI in a lab tab, and the notebook commands "Mark Cell for Pipeline" and
 * "Export Notebook as Pipeline".
 */
export const pipelinesPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.pipelines,
  description:
    'Pipelines side panel: the Airflow DAGs of the project with their runs, the Airflow UI in a tab, and notebook cells exported as a pipeline.',
  autoStart: true,
  optional: [
    INotebookTracker,
    ILayoutRestorer,
    ILauncher,
    ICommandPalette,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const { commands, shell } = app;
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new PipelinesModel({ translator });

    const act = notifyFailure;

    const actions: IPipelinesActions = {
      trigger: dagId => {
        void act(trans.__('Could not trigger %1', dagId), async () => {
          const run = await model.trigger(dagId);
          Notification.info(trans.__('Started %1: %2', dagId, run.run_id), {
            autoClose: 3000
          });
        });
      },
      setPaused: (dagId, paused) => {
        void act(
          paused
            ? trans.__('Could not pause %1', dagId)
            : trans.__('Could not unpause %1', dagId),
          () => model.setPaused(dagId, paused)
        );
      },
      showLog: target => model.showLog(target),
      openAirflow: () => {
        void commands.execute(CommandIDs.openAirflow);
      },
      refresh: () => {
        void commands.execute(CommandIDs.refreshPipelines);
      }
    };

    const panel = new PipelinesPanel({ model, actions, trans });
    shell.add(panel, 'left', { rank: 930 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    const airflowTracker = new WidgetTracker<AirflowWidget>({
      namespace: 'mlplat-airflow'
    });

    commands.addCommand(CommandIDs.openPipelines, {
      label: args =>
        isLauncher(args) ? trans.__('Pipelines') : trans.__('Open Pipelines'),
      caption: trans.__(
        'Airflow pipelines of the project: runs, task states, logs'
      ),
      icon: args => (isPalette(args) ? undefined : pipelinesIcon),
      execute: () => {
        shell.activateById(panel.id);
      }
    });
    commands.addCommand(CommandIDs.pipelinesOpenPipeline, {
      label: trans.__('Open Pipeline'),
      caption: trans.__(
        'Show a pipeline and its runs in the Pipelines panel (a run: marked)'
      ),
      execute: async args => {
        const name = args['name'];
        if (typeof name !== 'string' || name === '') {
          return;
        }
        shell.activateById(panel.id);
        const run = args['run'];
        if (typeof run === 'string' && run !== '') {
          await model.showRun(name, run);
          panel.node
            .querySelector('.jp-MLPlatPipelines-run.jp-mod-selected')
            ?.scrollIntoView({ block: 'nearest' });
        } else if (!model.isExpanded(name)) {
          model.toggle(name);
        }
      }
    });
    commands.addCommand(CommandIDs.refreshPipelines, {
      label: trans.__('Refresh Pipelines'),
      caption: trans.__('Reload the pipelines and their runs'),
      icon: args => (isPalette(args) ? undefined : refreshIcon),
      execute: () => model.refresh()
    });
    commands.addCommand(CommandIDs.openAirflow, {
      label: args =>
        isLauncher(args) ? trans.__('Airflow UI') : trans.__('Open Airflow UI'),
      caption: trans.__('Open the Airflow UI in a JupyterLab tab'),
      icon: args => (isPalette(args) ? undefined : pipelinesIcon),
      execute: () =>
        openUIFrame(
          shell,
          airflowTracker,
          AIRFLOW_WIDGET_ID,
          () =>
            new AirflowWidget(PageConfig.getBaseUrl() + AIRFLOW_UI_PATH, trans)
        )
    });

    const currentNotebook = () => {
      const current = notebooks?.currentWidget;
      return current && !current.isDisposed ? current : null;
    };
    commands.addCommand(CommandIDs.togglePipelineCell, {
      label: trans.__('Mark Cell for Pipeline'),
      caption: trans.__(
        'Add or remove the "pipeline" tag of the selected cells: Export Notebook as Pipeline takes the tagged cells'
      ),
      isEnabled: () => currentNotebook() !== null,
      isToggled: () => {
        const cell = currentNotebook()?.content.activeCell;
        return cell ? isPipelineCell(cell.model) : false;
      },
      execute: () => {
        const current = currentNotebook();
        if (current) {
          togglePipelineCells(current.content);
          commands.notifyCommandChanged(CommandIDs.togglePipelineCell);
        }
      }
    });
    commands.addCommand(CommandIDs.exportPipeline, {
      label: args =>
        args['toolbar'] === true || args['isToolbar'] === true
          ? ''
          : trans.__('Export Notebook as Pipeline'),
      caption: trans.__(
        'Write the cells tagged "pipeline" as an Airflow DAG in the pipelines folder'
      ),
      icon: args => (isPalette(args) ? undefined : pipelinesIcon),
      isEnabled: () => currentNotebook() !== null,
      execute: () =>
        act(trans.__('Could not export the pipeline'), async () => {
          const current = currentNotebook();
          if (!current) {
            return;
          }
          const source = pipelineSource(current.content);
          if (!source) {
            Notification.warning(
              trans.__(
                'No cell of this notebook is marked for the pipeline: select the cells with @task functions and run "Mark Cell for Pipeline" (or add the cell tag "pipeline").'
              ),
              { autoClose: 8000 }
            );
            return;
          }
          const cells = current.content.widgets.filter(c =>
            isPipelineCell(c.model)
          ).length;
          const exported = await exportWithDialog({
            name: pipelineNameFor(current.context.path),
            cells,
            source,
            notebook: current.context.path,
            send: request => model.exportPipeline(request),
            trans
          });
          if (exported) {
            Notification.success(
              trans.__(
                'Pipeline %1 written to %2: Airflow shows it in the Pipelines panel within seconds.',
                exported.dag_id,
                exported.file
              ),
              { autoClose: 6000 }
            );
            shell.activateById(panel.id);
          }
        })
    });

    if (restorer) {
      void restorer.restore(airflowTracker, {
        command: CommandIDs.openAirflow,
        name: () => 'airflow'
      });
    }
    addLauncherAndPaletteItems(trans, launcher, palette, {
      card: CommandIDs.openPipelines,
      rank: 5,
      palette: [
        CommandIDs.openPipelines,
        CommandIDs.refreshPipelines,
        CommandIDs.openAirflow,
        CommandIDs.togglePipelineCell,
        CommandIDs.exportPipeline
      ]
    });
  }
};
