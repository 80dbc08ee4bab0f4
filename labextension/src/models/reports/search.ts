import { type TranslationBundle } from '@jupyterlab/translation';
import { searchIcon } from '@jupyterlab/ui-components';

import { h } from '../../common/dom';
import { ModelView } from '../../common/modelview';
import { type LoadStatus, RemoteModel } from '../../common/remotemodel';
import { type IReportsResponse, type IReportSummary } from '../../tokens';
import { type IModelsActions } from '../actions';
import { loading } from '../render';
import { formatMetric, keyMetric } from './format';
import { verdictChip } from './render';

/**
 * The reports search: the query language of `GET reports?q=` (metric
 * thresholds, `table:`, `model:`, words), debounced, late answers dropped.
 */
export class ReportsSearchModel extends RemoteModel {
  constructor(options: RemoteModel.IOptions = {}) {
    super(options, 300);
  }

  get query(): string {
    return this._query;
  }
  get status(): LoadStatus {
    return this._status;
  }
  /** Hits of the last completed search, newest first. */
  get results(): ReadonlyArray<IReportSummary> {
    return this._results;
  }
  get error(): string | null {
    return this._error;
  }

  /**
   * Set the query; the search runs after a pause in typing.
   */
  setQuery(query: string): void {
    this._query = query;
    this._status = 'loading';
    this.debounceSearch();
    this.emit();
  }

  /**
   * Run the search for the current query now.
   */
  searchNow(): Promise<void> {
    this.cancelSearch();
    this._status = 'loading';
    this.emit();
    return this.runSearch();
  }

  protected async runSearch(): Promise<void> {
    const outcome = await this.searchRequest<IReportsResponse>(
      `reports?q=${encodeURIComponent(this._query.trim())}&limit=50`
    );
    if (outcome === null) {
      return; // a newer search is under way
    }
    if (outcome.ok) {
      this._results = outcome.reply?.reports ?? [];
      this._status = 'ready';
      this._error = null;
    } else {
      this._status = 'error';
      this._error = outcome.error;
    }
    this.emit();
  }

  private _query = '';
  private _status: LoadStatus = 'idle';
  private _results: IReportSummary[] = [];
  private _error: string | null = null;
}

/**
 * "Evaluation reports" section of the models panel: a query box and the
 * matching reports; a hit opens its report.
 */
export class ReportsSearchView extends ModelView {
  constructor(options: {
    model: ReportsSearchModel;
    actions: IModelsActions;
    trans: TranslationBundle;
  }) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    const trans = (this._trans = options.trans);
    this.addClass('jp-MLPlatModels-reports');
    this.node.dataset.testid = 'mlplat-reports-search-section';
    this.title.label = trans.__('Evaluation reports');
    this._input = h('input', {
      className: 'jp-MLPlatModels-searchInput',
      testid: 'mlplat-reports-search',
      attrs: {
        type: 'search',
        placeholder: trans.__('metric.f1_score > 0.9 table:demo.iris'),
        'aria-label': trans.__('Search evaluation reports'),
        autocomplete: 'off',
        spellcheck: 'false',
        maxlength: '500' // the server refuses longer queries
      }
    });
    this._input.addEventListener('input', () =>
      this._model.setQuery(this._input.value)
    );
    this._list = h('div', {});
    this.node.append(
      h(
        'div',
        { className: 'jp-MLPlatModels-search jp-mod-reports' },
        searchIcon.element({
          tag: 'span',
          className: 'jp-MLPlatModels-searchIcon'
        }),
        this._input
      ),
      this._list
    );
    this._list.addEventListener('click', this._onClick);
    this._list.addEventListener('keydown', event => {
      if (event.key === 'Enter' && event.target instanceof HTMLElement) {
        event.target.click();
      }
    });
    this.render();
  }

  /**
   * Search once when first shown (the list is empty until then).
   */
  searchIfIdle(): void {
    if (this._model.status === 'idle') {
      void this._model.searchNow();
    }
  }

  render(): void {
    const trans = this._trans;
    const model = this._model;
    if (model.status === 'error') {
      this._list.replaceChildren(
        h(
          'div',
          {
            className: 'jp-MLPlatModels-error',
            testid: 'mlplat-reports-error',
            attrs: { role: 'alert' }
          },
          model.error ?? ''
        )
      );
      return;
    }
    if (model.status === 'loading' && model.results.length === 0) {
      this._list.replaceChildren(loading(trans.__('Searching the reports…')));
      return;
    }
    if (model.status === 'ready' && model.results.length === 0) {
      this._list.replaceChildren(
        h(
          'div',
          { className: 'jp-MLPlatModels-empty' },
          model.query.trim()
            ? trans.__('No report matches "%1".', model.query.trim())
            : trans.__(
                'No reports yet: %mlp evaluate models:/NAME/VERSION --table DB.TABLE'
              )
        )
      );
      return;
    }
    this._list.replaceChildren(
      h(
        'ul',
        { className: 'jp-MLPlatModels-list' },
        ...model.results.map(r => this._item(r))
      )
    );
  }

  private _item(report: IReportSummary): HTMLElement {
    const trans = this._trans;
    const metric = keyMetric(report.metrics);
    const verdict = report.champion?.verdict;
    return h(
      'li',
      {
        className: 'jp-MLPlatModels-reportHit',
        testid: `mlplat-report-hit-${report.model}-${report.version}`,
        title: trans.__('Open the report'),
        attrs: {
          role: 'button',
          tabindex: '0',
          'data-report': report.id
        }
      },
      h(
        'span',
        { className: 'jp-MLPlatModels-modelName' },
        `${report.model} v${report.version}`
      ),
      h('span', { className: 'jp-MLPlatModels-muted' }, report.table),
      metric
        ? h(
            'span',
            { className: 'jp-MLPlatModels-chip' },
            `${metric} ${formatMetric(report.metrics[metric])}`
          )
        : null,
      verdict
        ? verdictChip(
            trans,
            verdict,
            trans.__('vs @%1: %2', report.champion?.alias ?? '', verdict)
          )
        : null
    );
  }

  private _onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    const id = target?.closest<HTMLElement>('[data-report]')?.dataset.report;
    if (id) {
      this._actions.openReport(id);
    }
  };

  private _model: ReportsSearchModel;
  private _actions: IModelsActions;
  private _trans: TranslationBundle;
  private _input: HTMLInputElement;
  private _list: HTMLElement;
}
