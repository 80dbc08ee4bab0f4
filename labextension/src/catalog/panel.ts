import {
  refreshIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type Message } from '@lumino/messaging';
import { type AccordionPanel, Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import { CATALOG_PANEL_ID } from '../tokens';
import { type ICatalogWidgetOptions } from './actions';
import { CatalogBrowser } from './browser';
import { CatalogDetails } from './details';
import { catalogIcon } from './icons';
import { CatalogLineage } from './lineage';
import { type CatalogModel, type ITableRef, tableKey } from './model';
import { RefreshProgress } from './progress';
import { CatalogSearchBox } from './searchbox';

/**
 * Left side panel "Data Catalog": search box, lazily expanded database tree,
 * table details with a data preview.
 */
export class CatalogPanel extends SidePanel {
  constructor(options: CatalogPanel.IOptions) {
    super();
    const { model, actions, trans } = options;
    this._model = model;
    this.id = CATALOG_PANEL_ID;
    this.addClass('jp-MLPlatCatalogPanel');
    this.node.dataset.testid = 'mlplat-catalog';
    this.node.setAttribute('aria-label', trans.__('Data Catalog'));
    this.title.icon = catalogIcon;
    this.title.caption = trans.__('Data Catalog');

    this.header.addWidget(
      new Widget({ node: h('h2', {}, trans.__('Data Catalog')) })
    );
    this.header.addWidget(new RefreshProgress({ model, trans }));

    this._browser = new CatalogBrowser(options);
    this._search = new CatalogSearchBox({
      model,
      browser: this._browser,
      trans
    });
    this._browser.searchBox = this._search;
    this.toolbar.addItem('search', this._search);

    this._refreshButton = new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Refresh the catalog (re-read databases and tables)'),
      onClick: () => actions.refresh()
    });
    this._refreshButton.node.dataset.testid = 'mlplat-catalog-refresh';
    this._refreshButton.addClass('jp-MLPlatCatalog-refreshButton');
    this.toolbar.addItem('refresh', this._refreshButton);

    this._details = new CatalogDetails(options);
    this.addWidget(this._browser);
    this.addWidget(this._details);
    if (options.lineage) {
      this.addWidget(new CatalogLineage({ ...options.lineage, model, trans }));
      this._accordion.setRelativeSizes([0.4, 0.35, 0.25]);
    } else {
      this._accordion.setRelativeSizes([0.5, 0.5]);
    }

    model.changed.connect(this._onModelChanged, this);
    this._onModelChanged();
  }

  /**
   * The search box widget.
   */
  get searchBox(): CatalogSearchBox {
    return this._search;
  }

  /**
   * Reveal a table: expand its database, select it, scroll it into view.
   */
  reveal(ref: ITableRef): void {
    this._model.reveal(ref);
    this._browser.scrollToTable(ref);
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Lazy: nothing is fetched until the panel is first shown.
    void this._model.loadDatabases();
    if (!this._model.refreshing) {
      void this._model.checkRefresh(); // e.g. the server's periodic refresh
    }
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached && !this.node.contains(document.activeElement)) {
      this._search.focus();
    }
  }

  private get _accordion(): AccordionPanel {
    return this.content as AccordionPanel;
  }

  private _onModelChanged(): void {
    const refreshing = this._model.refreshing;
    this._refreshButton.toggleClass('jp-mod-refreshing', refreshing);
    this._refreshButton.enabled = !refreshing;

    // Open the details section when a table gets selected.
    const selected = this._model.selected;
    const key = selected ? tableKey(selected) : null;
    if (key !== this._lastSelected) {
      this._lastSelected = key;
      const index = this._accordion.widgets.indexOf(this._details);
      if (key !== null && index >= 0) {
        this._accordion.expand(index);
      }
    }
  }

  private _model: CatalogModel;
  private _search: CatalogSearchBox;
  private _browser: CatalogBrowser;
  private _details: CatalogDetails;
  private _refreshButton: ToolbarButton;
  private _lastSelected: string | null = null;
}

/**
 * A namespace for `CatalogPanel` statics.
 */
export namespace CatalogPanel {
  /**
   * Constructor options.
   */
  export interface IOptions extends ICatalogWidgetOptions {
    /** The lineage of the selected table, shown in a section of its own. */
    lineage?: Pick<CatalogLineage.IOptions, 'lineage' | 'actions'>;
  }
}
