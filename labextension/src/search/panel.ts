import { type TranslationBundle } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { type Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { searchInput } from '../common/searchinput';
import { loading } from '../models/render';
import { type ISearchResult, SEARCH_PANEL_ID } from '../tokens';
import { searchPanelIcon } from './icons';
import { type SearchModel } from './model';

/**
 * What the panel needs from its plugin.
 */
export interface ISearchPanelOptions {
  model: SearchModel;
  /** Open a result where it lives (its panel, the MLflow UI, a report). */
  open: (result: ISearchResult) => void;
  trans: TranslationBundle;
}

/**
 * Left side panel "Search": one box over models, versions, runs, reports,
 * pipelines, deployments, tables and columns; results grouped by kind, a
 * click (or Enter) opens the result's panel at it.
 */
export class SearchPanel extends SidePanel {
  constructor(options: ISearchPanelOptions) {
    super();
    const { model, trans } = options;
    this.id = SEARCH_PANEL_ID;
    this.addClass('jp-MLPlatSearchPanel');
    this.node.dataset.testid = 'mlplat-search';
    this.node.setAttribute('aria-label', trans.__('Search'));
    this.title.icon = searchPanelIcon;
    this.title.caption = trans.__('Search everything');

    this.header.addWidget(
      new Widget({ node: h('h2', {}, trans.__('Search')) })
    );
    const search = searchInput({
      testid: 'mlplat-search-input',
      placeholder: trans.__('metric.rmse < 50, table:demo.iris, words, OR'),
      label: trans.__(
        'Search models, runs, reports, pipelines, deployments and tables'
      ),
      maxLength: 500,
      onInput: text => model.setQuery(text)
    });
    this._input = search.input;
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        void model.searchNow();
      }
    });
    this.toolbar.addItem('search', search.widget);
    this.addWidget(new SearchResults(options));
  }

  /**
   * Focus the search box (and select its text).
   */
  focusInput(): void {
    this._input.focus();
    this._input.select();
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached) {
      this.focusInput();
    }
  }

  private _input: HTMLInputElement;
}

/**
 * The results, grouped by kind, or the error line of a malformed query.
 */
class SearchResults extends ModelView {
  constructor(options: ISearchPanelOptions) {
    super(options.model.changed);
    this._options = options;
    this.addClass('jp-MLPlatSearch-results');
    this.node.dataset.testid = 'mlplat-search-results';
    this.title.label = options.trans.__('Results');
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKeyDown);
    this.render();
  }

  render(): void {
    const { model, trans } = this._options;
    const state = model.results;
    const children: Node[] = [];
    if (state.status === 'error') {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatSearch-error',
            testid: 'mlplat-search-error',
            attrs: { role: 'alert' }
          },
          state.error ?? trans.__('unknown error')
        )
      );
    } else if (state.status === 'loading' && state.value === null) {
      children.push(loading(trans.__('Searching…')));
    } else if (state.status === 'idle') {
      children.push(
        h(
          'div',
          { className: 'jp-MLPlatSearch-help' },
          trans.__(
            'Words, field:value (kind, name, model, version, table, column, experiment, pipeline, status), comparisons (metric.rmse < 50, param.C >= 1, tag.team = fraud), OR between alternatives, quotes for text with spaces.'
          )
        )
      );
    }
    const reply = state.status === 'error' ? null : state.value;
    this._results = [];
    if (reply !== null) {
      if (reply.groups.length === 0) {
        children.push(
          h(
            'div',
            {
              className: 'jp-MLPlatSearch-empty',
              testid: 'mlplat-search-empty'
            },
            trans.__('Nothing matches %1', reply.query)
          )
        );
      }
      for (const group of reply.groups) {
        const items = group.results.map(result => {
          const index = this._results.push(result) - 1;
          return h(
            'li',
            {
              className: 'jp-MLPlatSearch-result',
              testid: `mlplat-search-result-${result.kind}-${result.id}`,
              title: trans.__('Open %1', result.title),
              attrs: {
                tabindex: '0',
                role: 'button',
                'data-index': String(index)
              }
            },
            h('span', { className: 'jp-MLPlatSearch-title' }, result.title),
            result.subtitle
              ? h(
                  'span',
                  { className: 'jp-MLPlatSearch-subtitle' },
                  result.subtitle
                )
              : null
          );
        });
        children.push(
          h(
            'section',
            {
              className: 'jp-MLPlatSearch-group',
              testid: `mlplat-search-group-${group.kind}`
            },
            h(
              'h3',
              { className: 'jp-MLPlatSearch-groupTitle' },
              `${group.label} (${group.results.length})`
            ),
            h('ul', {}, ...items)
          )
        );
      }
      for (const note of reply.notes) {
        children.push(h('div', { className: 'jp-MLPlatSearch-note' }, note));
      }
    }
    this.node.replaceChildren(...children);
  }

  private _resultOf(event: Event): ISearchResult | null {
    const item = (event.target as HTMLElement).closest<HTMLElement>(
      '.jp-MLPlatSearch-result'
    );
    const index = Number(item?.dataset.index ?? NaN);
    return Number.isInteger(index) ? (this._results[index] ?? null) : null;
  }

  private _onClick = (event: MouseEvent): void => {
    const result = this._resultOf(event);
    if (result) {
      this._options.open(result);
    }
  };

  private _onKeyDown = (event: KeyboardEvent): void => {
    if (event.key !== 'Enter' && event.key !== ' ') {
      return;
    }
    const result = this._resultOf(event);
    if (result) {
      event.preventDefault();
      this._options.open(result);
    }
  };

  private _options: ISearchPanelOptions;
  private _results: ISearchResult[] = [];
}
