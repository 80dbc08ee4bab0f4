import { searchIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from './dom';

/**
 * What a panel's search box says and does.
 */
export interface ISearchInputOptions {
  testid: string;
  placeholder: string;
  label: string;
  /** The server refuses longer queries. */
  maxLength: number;
  /** Called with the text on every change. */
  onInput: (text: string) => void;
}

/**
 * A side panel's search box (magnifier icon, `type=search` input) as a
 * toolbar widget, and its input element.
 */
export function searchInput(options: ISearchInputOptions): {
  input: HTMLInputElement;
  widget: Widget;
} {
  const input = h('input', {
    className: 'jp-MLPlatModels-searchInput',
    testid: options.testid,
    attrs: {
      type: 'search',
      placeholder: options.placeholder,
      'aria-label': options.label,
      autocomplete: 'off',
      spellcheck: 'false',
      maxlength: String(options.maxLength)
    }
  });
  input.addEventListener('input', () => options.onInput(input.value));
  const widget = new Widget({
    node: h(
      'div',
      { className: 'jp-MLPlatModels-search' },
      searchIcon.element({
        tag: 'span',
        className: 'jp-MLPlatModels-searchIcon'
      }),
      input
    )
  });
  return { input, widget };
}
