import { type TranslationBundle } from '@jupyterlab/translation';

import { type Child, h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { type ICatalogTableDetails } from '../tokens';
import { type ICatalogActions, type ICatalogWidgetOptions } from './actions';
import {
  type CatalogModel,
  type ITableRef,
  LARGE_PREVIEW_LIMIT,
  qualifiedName,
  tableKey
} from './model';
import {
  actionButton,
  closestIn,
  errorBox,
  loadingBox,
  muted,
  preservingFocus,
  previewGrid,
  text,
  typeBadge
} from './render';

/**
 * The lower section: details, actions and data preview of the selected table.
 */
export class CatalogDetails extends ModelView {
  constructor(options: ICatalogWidgetOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this._trans = options.trans;
    this.addClass('jp-MLPlatCatalog-detailsSection');
    this.title.label = this._trans.__('Details');
    this.node.addEventListener('click', this._onClick);
    this.render();
  }

  render(): void {
    const ref = this._model.selected;
    // Each table gets a fresh scroll position; re-renders of one keep theirs.
    const key = ref ? tableKey(ref) : null;
    const scrollTop = key === this._renderedKey ? this.node.scrollTop : 0;
    const gridScroll = this.node.querySelector('.jp-MLPlatCatalog-gridWrap');
    const gridLeft =
      key === this._renderedKey ? (gridScroll?.scrollLeft ?? 0) : 0;
    const gridTop =
      key === this._renderedKey ? (gridScroll?.scrollTop ?? 0) : 0;
    this._renderedKey = key;
    preservingFocus(this.node, () => {
      this.node.replaceChildren(
        ref
          ? this._renderTable(ref)
          : h(
              'div',
              {
                className: 'jp-MLPlatCatalog-placeholder',
                testid: 'mlplat-catalog-details-placeholder'
              },
              this._trans.__(
                'Select a table to see its details and a preview of its data.'
              )
            )
      );
    });
    this.node.scrollTop = scrollTop;
    const grid = this.node.querySelector('.jp-MLPlatCatalog-gridWrap');
    if (grid) {
      grid.scrollLeft = gridLeft;
      grid.scrollTop = gridTop;
    }
  }

  private _renderTable(ref: ITableRef): HTMLElement {
    const trans = this._trans;
    const details = this._model.details(ref);
    const info = details.value;
    const name = info?.qualified_name || qualifiedName(ref);
    const type = info?.type ?? '';

    const header = h(
      'div',
      { className: 'jp-MLPlatCatalog-detailsHeader' },
      h(
        'h3',
        {
          className: 'jp-MLPlatCatalog-qualifiedName',
          testid: 'mlplat-catalog-details-name'
        },
        name
      ),
      type && typeBadge(trans, type)
    );

    const actions = h(
      'div',
      { className: 'jp-MLPlatCatalog-actions' },
      actionButton(
        'insert',
        trans.__('Insert snippet'),
        'mlplat-catalog-insert',
        {
          title: trans.__(
            'Insert a cell loading %1 into a DataFrame below the active notebook cell',
            name
          ),
          primary: true
        }
      ),
      actionButton(
        'insert-sql',
        trans.__('Insert SQL'),
        'mlplat-catalog-insert-sql',
        {
          title: trans.__(
            'Insert a spark.sql SELECT on %1 below the active notebook cell',
            name
          )
        }
      ),
      actionButton('copy', trans.__('Copy name'), 'mlplat-catalog-copy', {
        title: trans.__('Copy "%1" to the clipboard', name)
      })
    );

    const body: Child[] = [];
    if (details.status === 'error') {
      body.push(
        errorBox(
          trans,
          'mlplat-catalog-details-error',
          trans.__('Could not describe the table'),
          details.error,
          'retry-details'
        )
      );
    } else if (!info) {
      body.push(
        loadingBox(
          'mlplat-catalog-details-loading',
          trans.__('Loading table details…')
        )
      );
    }
    if (info) {
      body.push(this._renderInfo(info));
    }

    return h(
      'div',
      {
        className: 'jp-MLPlatCatalog-details',
        testid: 'mlplat-catalog-details',
        attrs: {
          'data-database': ref.database,
          'data-table': ref.name,
          'aria-busy': String(details.status === 'loading')
        }
      },
      header,
      actions,
      ...body,
      this._renderPreview(ref)
    );
  }

  private _renderInfo(info: ICatalogTableDetails): HTMLElement {
    const partitions = info.partition_columns ?? [];
    const rowCount = info.row_count;
    const trans = this._trans;
    const fields: [string, Child, string?][] = [
      [trans.__('Type'), text(info.type)],
      [trans.__('Format'), text(info.format)],
      [
        trans.__('Location'),
        info.location
          ? h(
              'span',
              {
                className: 'jp-MLPlatCatalog-code',
                title: info.location
              },
              info.location
            )
          : muted('—')
      ],
      [
        trans.__('Rows'),
        typeof rowCount === 'number'
          ? rowCount.toLocaleString()
          : muted(trans.__('unknown')),
        'mlplat-catalog-details-rows'
      ],
      [
        trans.__('Partitioned by'),
        partitions.length > 0
          ? h(
              'span',
              { className: 'jp-MLPlatCatalog-code' },
              partitions.join(', ')
            )
          : muted('—')
      ],
      [trans.__('Columns'), String(info.columns.length)]
    ];
    const list = h('dl', { className: 'jp-MLPlatCatalog-fields' });
    for (const [label, value, testid] of fields) {
      list.append(h('dt', {}, label), h('dd', { testid }, value));
    }
    return h(
      'div',
      { className: 'jp-MLPlatCatalog-info' },
      info.comment &&
        h(
          'p',
          {
            className: 'jp-MLPlatCatalog-tableComment',
            testid: 'mlplat-catalog-details-comment'
          },
          info.comment
        ),
      list
    );
  }

  private _renderPreview(ref: ITableRef): HTMLElement {
    const trans = this._trans;
    const preview = this._model.preview(ref);
    const limit = this._model.previewLimit(ref);
    const data = preview.value;
    const status: Child[] = [];
    if (preview.status === 'error') {
      status.push(
        errorBox(
          trans,
          'mlplat-catalog-preview-error',
          trans.__('Could not load a preview'),
          preview.error,
          'retry-preview'
        )
      );
    } else if (preview.status === 'loading' || preview.status === 'idle') {
      status.push(
        loadingBox(
          'mlplat-catalog-preview-loading',
          trans.__('Loading the first %1 rows…', limit)
        )
      );
    }
    const canLoadMore =
      data !== null &&
      limit < LARGE_PREVIEW_LIMIT &&
      data.truncated !== false &&
      data.rows.length >= limit;
    const summary =
      data !== null
        ? `${trans._n('%1 row', '%1 rows', data.rows.length)}${data.truncated ? ` ${trans.__('(more available)')}` : ''}`
        : '';
    return h(
      'section',
      { className: 'jp-MLPlatCatalog-previewSection' },
      h(
        'div',
        { className: 'jp-MLPlatCatalog-previewHeader' },
        h('h4', {}, trans.__('Preview')),
        h(
          'span',
          {
            className: 'jp-MLPlatCatalog-summary',
            testid: 'mlplat-catalog-preview-summary'
          },
          summary
        ),
        canLoadMore &&
          actionButton(
            'load-more',
            trans.__('Load %1 rows', LARGE_PREVIEW_LIMIT),
            'mlplat-catalog-preview-more',
            { title: trans.__('Load the first %1 rows', LARGE_PREVIEW_LIMIT) }
          )
      ),
      ...status,
      data && previewGrid(trans, data)
    );
  }

  private _onClick = (event: MouseEvent): void => {
    const button = closestIn<HTMLElement>(event.target, '[data-action]');
    const ref = this._model.selected;
    if (!button || !ref) {
      return;
    }
    switch (button.dataset.action) {
      case 'insert':
        this._actions.insertSnippet(ref);
        break;
      case 'insert-sql':
        this._actions.insertSQL(ref);
        break;
      case 'copy':
        this._actions.copyName(ref);
        break;
      case 'load-more':
        void this._model.loadPreview(ref, LARGE_PREVIEW_LIMIT);
        break;
      case 'retry-details':
        void this._model.loadDetails(ref, true);
        break;
      case 'retry-preview':
        void this._model.loadPreview(ref, this._model.previewLimit(ref), true);
        break;
      default:
        break;
    }
  };

  private _model: CatalogModel;
  private _actions: ICatalogActions;
  private _trans: TranslationBundle;
  private _renderedKey: string | null = null;
}
