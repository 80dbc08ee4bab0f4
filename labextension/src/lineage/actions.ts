import { type JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { type TranslationBundle } from '@jupyterlab/translation';

import { notifyFailure } from '../common/notify';
import { mlflowUIPath } from '../mlflow/uipath';
import { type MLflowWidget } from '../mlflow/widget';
import { CommandIDs, type IStatusModel } from '../tokens';
import { type LineageModel } from './api';
import { type ILineageActions } from './views';

/**
 * The Pipelines panel's "reveal a pipeline" command (args `name`), when the
 * lab has it; otherwise the panel is only opened.
 */
const PIPELINES_OPEN_PIPELINE = 'mlplat:pipelines-open-pipeline';

/**
 * What the lineage links and buttons do, through the panels' commands.
 */
export function lineageActions(
  app: JupyterFrontEnd,
  lineage: LineageModel,
  statusModel: IStatusModel | null,
  trans: TranslationBundle
): ILineageActions {
  const { commands } = app;
  const act = notifyFailure;
  const openPipeline = async (name: string): Promise<void> => {
    if (commands.hasCommand(PIPELINES_OPEN_PIPELINE)) {
      await commands.execute(PIPELINES_OPEN_PIPELINE, { name });
    } else {
      await commands.execute(CommandIDs.openPipelines);
    }
  };
  return {
    openRun: (experimentId, runId) => {
      void act(trans.__('Could not open the run'), async () => {
        const widget = (await commands.execute(
          CommandIDs.openMLflow
        )) as MLflowWidget;
        widget.content.url =
          PageConfig.getBaseUrl() +
          mlflowUIPath(statusModel?.status) +
          `#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;
      });
    },
    openVersion: (model, version) => {
      void act(trans.__('Could not open %1 version %2', model, version), () =>
        commands.execute(CommandIDs.modelsOpenVersion, { model, version })
      );
    },
    openDeployment: name => {
      void act(trans.__('Could not open the deployment %1', name), () =>
        commands.execute(CommandIDs.modelsOpenDeployment, { name })
      );
    },
    openPipeline: name => {
      void act(trans.__('Could not open the pipeline %1', name), () =>
        openPipeline(name)
      );
    },
    openTable: table => {
      void act(trans.__('Could not open %1', table), () =>
        commands.execute(CommandIDs.catalogOpenTable, { table })
      );
    },
    retrain: (pipeline, table) => {
      void act(trans.__('Could not run %1', pipeline), async () => {
        const run = await lineage.retrain(pipeline);
        Notification.info(
          trans.__(
            'Retraining on %1: %2 %3 started',
            table,
            pipeline,
            run.run_id
          ),
          { autoClose: 4000 }
        );
        await openPipeline(pipeline);
      });
    },
    reloadTable: table => {
      void lineage.loadTable(table, true);
    },
    reloadVersion: (model, version) => {
      void lineage.loadVersion(model, version, true);
    }
  };
}
