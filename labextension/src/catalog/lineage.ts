import { type TranslationBundle } from '@jupyterlab/translation';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { type LineageModel } from '../lineage/api';
import {
  type ILineageActions,
  onLineageClick,
  tableLineage
} from '../lineage/views';
import { type CatalogModel } from './model';

/**
 * The lineage of the catalog panel's selected table: its *Used by* and its
 * *Impact* (fetched afresh each time a table gets selected).
 */
export class CatalogLineage extends ModelView {
  constructor(options: CatalogLineage.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._lineage = options.lineage;
    this._trans = options.trans;
    this._lineage.changed.connect(this.update, this);
    this.addClass('jp-MLPlatCatalog-lineageSection');
    this.title.label = this._trans.__('Lineage');
    this.node.addEventListener('click', event => {
      onLineageClick(event, options.actions);
    });
    this.render();
  }

  render(): void {
    const ref = this._model.selected;
    const table = ref ? `${ref.database}.${ref.name}` : null;
    if (table !== this._table) {
      this._table = table;
      if (table) {
        void this._lineage.loadTable(table, true); // a new run may have read it
      }
    }
    this.node.replaceChildren(
      table
        ? tableLineage(this._trans, table, this._lineage.table(table))
        : h(
            'div',
            { className: 'jp-MLPlatCatalog-placeholder' },
            this._trans.__(
              'Select a table to see the runs, models and deployments that use it.'
            )
          )
    );
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._lineage.changed.disconnect(this.update, this);
    super.dispose();
  }

  private _model: CatalogModel;
  private _lineage: LineageModel;
  private _trans: TranslationBundle;
  private _table: string | null = null;
}

/**
 * A namespace for `CatalogLineage` statics.
 */
export namespace CatalogLineage {
  /**
   * Constructor options.
   */
  export interface IOptions {
    model: CatalogModel;
    lineage: LineageModel;
    actions: ILineageActions;
    trans: TranslationBundle;
  }
}
