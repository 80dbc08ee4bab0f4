import { type TranslationBundle } from '@jupyterlab/translation';
import { searchIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import { type CatalogBrowser } from './browser';
import { type CatalogModel } from './model';

/**
 * Search input; arrow keys and Enter drive the result list (or the tree).
 */
export class CatalogSearchBox extends Widget {
  constructor(options: {
    model: CatalogModel;
    browser: CatalogBrowser;
    trans: TranslationBundle;
  }) {
    const trans = options.trans;
    super();
    this._model = options.model;
    this._browser = options.browser;
    this.addClass('jp-MLPlatCatalog-search');
    this._input = h('input', {
      className: 'jp-MLPlatCatalog-searchInput',
      testid: 'mlplat-catalog-search',
      attrs: {
        type: 'search',
        placeholder: trans.__('Search tables, columns, comments'),
        'aria-label': trans.__('Search the data catalog'),
        role: 'combobox',
        'aria-autocomplete': 'list',
        'aria-expanded': 'false',
        'aria-controls': this._browser.resultsId,
        autocomplete: 'off',
        spellcheck: 'false',
        // The server rejects longer queries (400).
        maxlength: '200'
      }
    });
    const icon = searchIcon.element({
      tag: 'span',
      className: 'jp-MLPlatCatalog-searchIcon'
    });
    this.node.append(icon, this._input);
    this._input.addEventListener('input', () => {
      this._model.setQuery(this._input.value);
    });
    this._input.addEventListener('keydown', this._onKeyDown);
  }

  /**
   * The input element.
   */
  get input(): HTMLInputElement {
    return this._input;
  }

  /**
   * Focus the input (and select its text).
   */
  focus(): void {
    this._input.focus();
    this._input.select();
  }

  /**
   * Set the query as if typed.
   */
  setQuery(query: string): void {
    this._input.value = query;
    this._model.setQuery(query);
  }

  /**
   * Sync ARIA state with the result list.
   */
  setActiveDescendant(id: string | null, expanded: boolean): void {
    this._input.setAttribute('aria-expanded', String(expanded));
    if (id) {
      this._input.setAttribute('aria-activedescendant', id);
    } else {
      this._input.removeAttribute('aria-activedescendant');
    }
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    const searching = this._model.search.query.trim() !== '';
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp':
        event.preventDefault();
        if (searching) {
          this._browser.moveActiveResult(event.key === 'ArrowDown' ? 1 : -1);
        } else if (event.key === 'ArrowDown') {
          this._browser.focusTree();
        }
        break;
      case 'Enter':
        if (searching) {
          event.preventDefault();
          this._browser.openActiveResult();
        }
        break;
      case 'Escape':
        if (this._input.value) {
          event.preventDefault();
          event.stopPropagation();
          this.setQuery('');
        }
        break;
      default:
        break;
    }
  };

  private _model: CatalogModel;
  private _browser: CatalogBrowser;
  private _input: HTMLInputElement;
}
