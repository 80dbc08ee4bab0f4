import {
  refreshIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type Message } from '@lumino/messaging';
import { type AccordionPanel, Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import { searchInput } from '../common/searchinput';
import { MODELS_PANEL_ID } from '../tokens';
import { type IModelsWidgetOptions } from './actions';
import { ModelsBrowser } from './browser';
import { DeploymentsView } from './deployments';
import { modelsIcon } from './icons';
import { type ModelsModel } from './model';
import { type ReportsSearchModel, ReportsSearchView } from './reports/search';

/**
 * Left side panel "Models": search the model registry, browse versions with
 * their runs and quality checks, deploy, manage deployments.
 */
export class ModelsPanel extends SidePanel {
  constructor(
    options: IModelsWidgetOptions & { reportsSearch: ReportsSearchModel }
  ) {
    super();
    const { model, actions, trans } = options;
    this._model = model;
    this.id = MODELS_PANEL_ID;
    this.addClass('jp-MLPlatModelsPanel');
    this.node.dataset.testid = 'mlplat-models';
    this.node.setAttribute('aria-label', trans.__('Models'));
    this.title.icon = modelsIcon;
    this.title.caption = trans.__('Models');

    this.header.addWidget(
      new Widget({ node: h('h2', {}, trans.__('Models')) })
    );
    const search = searchInput({
      testid: 'mlplat-models-search',
      placeholder: trans.__('Search models: name, tag, description'),
      label: trans.__('Search registered models'),
      maxLength: 200,
      onInput: text => model.setQuery(text)
    });
    this._search = search.input;
    this.toolbar.addItem('search', search.widget);
    const refresh = new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Reload models and deployments'),
      onClick: () => actions.refresh()
    });
    refresh.node.dataset.testid = 'mlplat-models-refresh';
    this.toolbar.addItem('refresh', refresh);

    this.addWidget(new ModelsBrowser(options));
    this.addWidget(new DeploymentsView(options));
    this._reports = new ReportsSearchView({
      model: options.reportsSearch,
      actions,
      trans
    });
    this.addWidget(this._reports);
    (this.content as AccordionPanel).setRelativeSizes([0.5, 0.25, 0.25]);
  }

  /**
   * Show a model (and a version's details), its name in the search box.
   */
  reveal(name: string, version?: string): Promise<void> {
    this._search.value = name;
    return this._model.reveal(name, version);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Fetched when first shown, and fresh whenever the panel comes back.
    if (this._model.search.status !== 'loading') {
      void this._model.searchNow();
    }
    void this._model.loadDeployments();
    this._reports.searchIfIdle();
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached && !this.node.contains(document.activeElement)) {
      this._search.focus();
    }
  }

  private _model: ModelsModel;
  private _reports: ReportsSearchView;
  private _search: HTMLInputElement;
}
