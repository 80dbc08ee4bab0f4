import {
  launchIcon,
  refreshIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type Message } from '@lumino/messaging';
import { type AccordionPanel, Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import { PIPELINES_PANEL_ID } from '../tokens';
import { type IPipelinesWidgetOptions } from './actions';
import { pipelinesIcon } from './icons';
import { PipelinesList } from './list';
import { TaskLogView } from './logview';
import { type PipelinesModel } from './model';

/**
 * Left side panel "Pipelines": the caller's Airflow DAGs and their runs, the
 * failed task's log, the Airflow UI one click away. Refreshes itself while it
 * is shown.
 */
export class PipelinesPanel extends SidePanel {
  constructor(options: IPipelinesWidgetOptions) {
    super();
    const { model, actions, trans } = options;
    this._model = model;
    this.id = PIPELINES_PANEL_ID;
    this.addClass('jp-MLPlatPipelinesPanel');
    this.node.dataset.testid = 'mlplat-pipelines';
    this.node.setAttribute('aria-label', trans.__('Pipelines'));
    this.title.icon = pipelinesIcon;
    this.title.caption = trans.__('Pipelines');

    this.header.addWidget(
      new Widget({ node: h('h2', {}, trans.__('Pipelines')) })
    );
    const airflow = new ToolbarButton({
      icon: launchIcon,
      label: trans.__('Airflow UI'),
      tooltip: trans.__('Open the Airflow UI in a tab'),
      onClick: () => actions.openAirflow()
    });
    airflow.node.dataset.testid = 'mlplat-pipelines-open-airflow';
    this.toolbar.addItem('airflow', airflow);
    const refresh = new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Reload the pipelines'),
      onClick: () => actions.refresh()
    });
    refresh.node.dataset.testid = 'mlplat-pipelines-refresh';
    this.toolbar.addItem('refresh', refresh);

    this.addWidget(new PipelinesList(options));
    this.addWidget(new TaskLogView(options));
    (this.content as AccordionPanel).setRelativeSizes([0.7, 0.3]);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.startPolling(); // fetches at once, then every few seconds
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.stopPolling();
  }

  private _model: PipelinesModel;
}
