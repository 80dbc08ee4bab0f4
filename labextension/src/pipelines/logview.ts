import { type TranslationBundle } from '@jupyterlab/translation';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { button, loading } from '../models/render';
import { type IPipelinesWidgetOptions } from './actions';
import { type PipelinesModel } from './model';

/**
 * The last lines of the log of the task clicked in the list (a failed task's
 * traceback, typically), with reload and close buttons.
 */
export class TaskLogView extends ModelView {
  constructor(options: IPipelinesWidgetOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._trans = options.trans;
    this.addClass('jp-MLPlatPipelines-log');
    this.node.dataset.testid = 'mlplat-pipelines-log';
    this.title.label = this._trans.__('Task log');
    this.node.addEventListener('click', this._onClick);
    this.render();
  }

  render(): void {
    const trans = this._trans;
    const target = this._model.logTarget;
    if (target === null) {
      this.node.replaceChildren(
        h(
          'div',
          { className: 'jp-MLPlatPipelines-empty' },
          trans.__('Click a task of a run to see the end of its log.')
        )
      );
      return;
    }
    const log = this._model.log;
    let body: Node;
    if (log.status === 'error') {
      body = h(
        'div',
        { className: 'jp-MLPlatPipelines-error', attrs: { role: 'alert' } },
        trans.__('Could not load the log: %1', log.error ?? '')
      );
    } else if (log.value === null) {
      body = loading(trans.__('Loading the log…'));
    } else {
      body = h(
        'pre',
        {
          className: 'jp-MLPlatPipelines-logText',
          testid: 'mlplat-pipelines-log-text'
        },
        log.value || trans.__('(the log is empty)')
      );
    }
    this.node.replaceChildren(
      h(
        'div',
        { className: 'jp-MLPlatPipelines-logHead' },
        h(
          'span',
          { className: 'jp-MLPlatPipelines-logTitle', title: target.runId },
          trans.__('%1 · %2', target.dagId, target.taskId)
        ),
        button('reload', trans.__('Reload'), 'mlplat-pipelines-log-reload', {
          title: trans.__('Fetch the log again')
        }),
        button('close', trans.__('Close'), 'mlplat-pipelines-log-close')
      ),
      body
    );
    if (body instanceof HTMLPreElement) {
      body.scrollTop = body.scrollHeight; // the end of the log is what matters
    }
  }

  override dispose(): void {
    this.node.removeEventListener('click', this._onClick);
    super.dispose();
  }

  private _onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    const action =
      target?.closest<HTMLElement>('[data-action]')?.dataset.action;
    const shown = this._model.logTarget;
    if (action === 'close') {
      this._model.showLog(null);
    } else if (action === 'reload' && shown) {
      void this._model.loadLog(shown);
    }
  };

  private _model: PipelinesModel;
  private _trans: TranslationBundle;
}
