import { type TranslationBundle } from '@jupyterlab/translation';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { type CatalogModel } from './model';

/**
 * Progress of the server's catalog refresh, shown under the panel title
 * while it runs: a bar, the step, and databases / tables done of total.
 */
export class RefreshProgress extends ModelView {
  constructor(options: { model: CatalogModel; trans: TranslationBundle }) {
    super(options.model.changed);
    this._model = options.model;
    this._trans = options.trans;
    this.addClass('jp-MLPlatCatalog-refreshProgress');
    this.node.dataset.testid = 'mlplat-catalog-refresh-progress';
    this.node.setAttribute('role', 'status');
    this.render();
  }

  render(): void {
    const job = this._model.refreshJob;
    const running = job?.state === 'running';
    this.node.hidden = !running;
    this.node.dataset.state = job?.state ?? 'idle';
    if (!job || !running) {
      this.node.replaceChildren();
      return;
    }
    const trans = this._trans;
    const fraction = Math.min(Math.max(Number(job.progress) || 0, 0), 1);
    const counts =
      job.tables_total > 0
        ? trans.__(
            '%1 of %2 tables',
            job.tables_done.toLocaleString(),
            job.tables_total.toLocaleString()
          )
        : trans.__(
            '%1 of %2 databases',
            job.databases_done,
            job.databases_total
          );
    this.node.replaceChildren(
      h('progress', {
        attrs: {
          max: '1',
          value: String(fraction),
          'aria-label': trans.__('Refreshing the catalog')
        }
      }),
      h(
        'div',
        { className: 'jp-MLPlatCatalog-refreshText' },
        h(
          'span',
          { className: 'jp-MLPlatCatalog-refreshStep', title: job.message },
          job.message || trans.__('Refreshing the catalog…')
        ),
        h(
          'span',
          {
            className: 'jp-MLPlatCatalog-refreshCounts',
            testid: 'mlplat-catalog-refresh-counts'
          },
          counts
        )
      )
    );
  }

  private _model: CatalogModel;
  private _trans: TranslationBundle;
}
