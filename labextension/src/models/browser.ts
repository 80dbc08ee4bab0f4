import { type TranslationBundle } from '@jupyterlab/translation';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import {
  type IModelVersion,
  type IModelVersionDetails,
  type IRegisteredModel
} from '../tokens';
import { type IModelsActions, type IModelsWidgetOptions } from './actions';
import { type IModelsLineage, trainedOn, watchLineage } from './lineage';
import { type ModelsModel } from './model';
import { evaluateCommand, formatMetric, keyMetric } from './reports/format';
import {
  aliasChip,
  button,
  caret,
  formatNumber,
  loading,
  qualityBadge,
  table
} from './render';

/**
 * Search results: models, expanded into versions, expanded into details.
 */
export class ModelsBrowser extends ModelView {
  constructor(options: IModelsWidgetOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this._trans = options.trans;
    this.addClass('jp-MLPlatModels-browser');
    this.title.label = this._trans.__('Registered models');
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKeyDown);
    this.render();
  }

  render(): void {
    const search = this._model.search;
    const trans = this._trans;
    const children: (Node | string)[] = [];
    if (search.status === 'error') {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatModels-error',
            testid: 'mlplat-models-error',
            attrs: { role: 'alert' }
          },
          trans.__(
            'Could not search the registry: %1',
            search.error ?? trans.__('unknown error')
          ),
          ' ',
          button('retry', trans.__('Retry'), 'mlplat-models-retry')
        )
      );
    } else if (search.status === 'loading' && search.results.length === 0) {
      children.push(
        loading(trans.__('Searching the registry…'), 'mlplat-models-loading')
      );
    } else if (search.status === 'ready' && search.results.length === 0) {
      children.push(
        h(
          'div',
          { className: 'jp-MLPlatModels-empty', testid: 'mlplat-models-empty' },
          search.query.trim()
            ? trans.__('No registered model matches "%1".', search.query.trim())
            : trans.__(
                'No registered models yet: log a model with registered_model_name=… in a notebook.'
              )
        )
      );
    }
    if (search.results.length > 0) {
      children.push(
        h(
          'ul',
          {
            className: 'jp-MLPlatModels-list',
            attrs: { 'aria-busy': String(search.status === 'loading') }
          },
          ...search.results.map(m => this._modelItem(m))
        )
      );
    }
    this.node.replaceChildren(...children);
  }

  /**
   * Show the versions' *Trained on* from now on.
   */
  set lineage(lineage: IModelsLineage) {
    this._lineage = lineage;
    watchLineage(this, lineage);
    this.update();
  }

  override dispose(): void {
    this.node.removeEventListener('click', this._onClick);
    this.node.removeEventListener('keydown', this._onKeyDown);
    super.dispose();
  }

  private _modelItem(model: IRegisteredModel): HTMLElement {
    const trans = this._trans;
    const open = this._model.selected === model.name;
    const aliases = Object.entries(model.aliases ?? {});
    const tags = Object.entries(model.tags ?? {});
    return h(
      'li',
      {
        className: `jp-MLPlatModels-model${open ? ' jp-mod-open' : ''}`,
        testid: `mlplat-model-${model.name}`,
        attrs: { 'data-model': model.name }
      },
      h(
        'div',
        {
          className: 'jp-MLPlatModels-modelHead',
          attrs: {
            'data-action': 'toggle-model',
            role: 'button',
            tabindex: '0',
            'aria-expanded': String(open)
          }
        },
        caret(open),
        h('span', { className: 'jp-MLPlatModels-modelName' }, model.name),
        model.latest_version
          ? h(
              'span',
              {
                className: 'jp-MLPlatModels-muted',
                title: trans.__('Latest version')
              },
              `v${model.latest_version}`
            )
          : null,
        ...aliases.map(([alias, version]) => aliasChip(trans, alias, version))
      ),
      model.description
        ? h(
            'div',
            { className: 'jp-MLPlatModels-description' },
            model.description
          )
        : null,
      tags.length > 0
        ? h(
            'div',
            { className: 'jp-MLPlatModels-tags' },
            ...tags.map(([key, value]) =>
              h(
                'span',
                { className: 'jp-MLPlatModels-chip jp-mod-tag' },
                `${key}=${value}`
              )
            )
          )
        : null,
      open ? this._versions(model.name) : null
    );
  }

  private _versions(name: string): HTMLElement {
    const trans = this._trans;
    const state = this._model.model(name);
    if (state.status === 'error') {
      return h(
        'div',
        { className: 'jp-MLPlatModels-error', attrs: { role: 'alert' } },
        trans.__('Could not load the versions: %1', state.error ?? '')
      );
    }
    if (state.value === null) {
      return loading(trans.__('Loading versions…'));
    }
    const versions = state.value.versions ?? [];
    if (versions.length === 0) {
      return h(
        'div',
        { className: 'jp-MLPlatModels-empty' },
        trans.__('This model has no versions yet.')
      );
    }
    return h(
      'div',
      {},
      this._compareBar(name),
      h(
        'ul',
        { className: 'jp-MLPlatModels-versions' },
        ...versions.map(v => this._versionItem(name, v))
      )
    );
  }

  /**
   * What picking versions for a comparison leads to.
   */
  private _compareBar(name: string): HTMLElement | null {
    const trans = this._trans;
    const picks = this._model.picks(name);
    if (picks.length === 0) {
      return null;
    }
    return h(
      'div',
      {
        className: 'jp-MLPlatModels-compareBar',
        testid: `mlplat-compare-bar-${name}`
      },
      picks.length < 2
        ? h(
            'span',
            { className: 'jp-MLPlatModels-muted' },
            trans.__('Pick one more version to compare with v%1.', picks[0])
          )
        : button(
            'compare',
            trans.__('Compare v%1 ↔ v%2', picks[0], picks[1]),
            `mlplat-compare-${name}`,
            {
              title: trans.__('Show both reports side by side'),
              primary: true
            }
          )
    );
  }

  /**
   * The version's report badge (its key metric), or nothing.
   */
  private _reportBadge(name: string, version: string): HTMLElement | null {
    const trans = this._trans;
    const report = this._model.reportOf(name, version);
    if (!report) {
      return null;
    }
    const metric = keyMetric(report.metrics);
    return h(
      'button',
      {
        className: 'jp-MLPlatModels-chip jp-mod-report',
        testid: `mlplat-report-badge-${name}-${version}`,
        title: trans.__(
          'Open the evaluation report (holdout %1)',
          report.table
        ),
        attrs: {
          type: 'button',
          'data-action': 'open-report',
          'data-report': report.id
        }
      },
      metric
        ? trans.__(
            'Report · %1 %2',
            metric,
            formatMetric(report.metrics[metric])
          )
        : trans.__('Report')
    );
  }

  private _versionItem(name: string, version: IModelVersion): HTMLElement {
    const trans = this._trans;
    const open = this._model.isVersionExpanded(name, version.version);
    const serving = this._model.deploymentsOf(name, version.version);
    return h(
      'li',
      {
        className: 'jp-MLPlatModels-version',
        testid: `mlplat-model-version-${name}-${version.version}`,
        attrs: { 'data-model': name, 'data-version': version.version }
      },
      h(
        'div',
        { className: 'jp-MLPlatModels-versionHead' },
        h(
          'span',
          {
            className: 'jp-MLPlatModels-versionToggle',
            attrs: {
              'data-action': 'toggle-version',
              role: 'button',
              tabindex: '0',
              'aria-expanded': String(open)
            }
          },
          caret(open),
          trans.__('Version %1', version.version)
        ),
        ...version.aliases.map(alias => aliasChip(trans, alias)),
        version.status && version.status !== 'READY'
          ? h('span', { className: 'jp-MLPlatModels-chip' }, version.status)
          : null,
        ...serving.map(d =>
          h(
            'span',
            {
              className: 'jp-MLPlatModels-chip jp-mod-serving',
              title: trans.__('Served by deployment %1 (%2)', d.name, d.state),
              attrs: { 'data-state': d.state }
            },
            `▶ ${d.name}`
          )
        ),
        this._reportBadge(name, version.version),
        h('span', { className: 'jp-MLPlatModels-spacer' }),
        h(
          'label',
          {
            className: 'jp-MLPlatModels-pick',
            title: trans.__('Pick for a side-by-side comparison')
          },
          this._pickBox(name, version.version),
          trans.__('Compare')
        ),
        button(
          'deploy',
          trans.__('Deploy'),
          `mlplat-deploy-${name}-${version.version}`,
          {
            title: trans.__('Deploy version %1 of %2', version.version, name),
            primary: true
          }
        )
      ),
      version.description
        ? h(
            'div',
            { className: 'jp-MLPlatModels-description' },
            version.description
          )
        : null,
      open ? this._versionDetails(name, version.version) : null
    );
  }

  private _pickBox(name: string, version: string): HTMLInputElement {
    const box = h('input', {
      testid: `mlplat-compare-pick-${name}-${version}`,
      attrs: { type: 'checkbox', 'data-action': 'pick' }
    });
    box.checked = this._model.picks(name).includes(version);
    return box;
  }

  /**
   * The report line of a version's details, or how to make one.
   */
  private _reportLine(
    name: string,
    version: string,
    report: IModelVersionDetails['report']
  ): HTMLElement | null {
    const trans = this._trans;
    if (report === undefined) {
      return null; // a server without reports
    }
    const label = h(
      'span',
      { className: 'jp-MLPlatModels-label' },
      trans.__('Report')
    );
    if (report === null) {
      return h(
        'div',
        { className: 'jp-MLPlatModels-run' },
        label,
        h(
          'span',
          { className: 'jp-MLPlatModels-muted' },
          trans.__('None yet:')
        ),
        // the holdout of the model's other reports, when there are some
        h(
          'code',
          {},
          evaluateCommand(
            name,
            version,
            this._model.reports(name).value?.[0]?.table
          )
        )
      );
    }
    const metric = keyMetric(report.metrics);
    return h(
      'div',
      { className: 'jp-MLPlatModels-run' },
      label,
      metric
        ? h('span', {}, `${metric} ${formatMetric(report.metrics[metric])}`)
        : null,
      h(
        'a',
        {
          className: 'jp-MLPlatModels-link',
          testid: `mlplat-model-report-link-${name}-${version}`,
          attrs: {
            href: '#',
            'data-action': 'open-report',
            'data-report': report.id
          }
        },
        trans.__('Open report')
      )
    );
  }

  private _versionDetails(name: string, version: string): HTMLElement {
    const trans = this._trans;
    const state = this._model.version(name, version);
    const testid = `mlplat-model-details-${name}-${version}`;
    if (state.status === 'error') {
      return h(
        'div',
        {
          className: 'jp-MLPlatModels-error',
          testid,
          attrs: { role: 'alert' }
        },
        trans.__('Could not load the version: %1', state.error ?? '')
      );
    }
    if (state.value === null) {
      return loading(trans.__('Loading the run…'), testid);
    }
    const details: IModelVersionDetails = state.value;
    const run = details.run;
    return h(
      'div',
      { className: 'jp-MLPlatModels-details', testid },
      run
        ? h(
            'div',
            { className: 'jp-MLPlatModels-run' },
            h('span', { className: 'jp-MLPlatModels-label' }, trans.__('Run')),
            h('span', {}, run.name || run.id),
            h(
              'a',
              {
                className: 'jp-MLPlatModels-link',
                testid: `mlplat-model-run-link-${name}-${version}`,
                attrs: {
                  href: '#',
                  'data-action': 'open-run',
                  'data-path': run.ui_path
                }
              },
              trans.__('Open run in MLflow')
            )
          )
        : h(
            'div',
            { className: 'jp-MLPlatModels-muted' },
            trans.__('No run recorded.')
          ),
      this._reportLine(name, version, details.report),
      run?.pipeline
        ? h(
            'div',
            {
              className: 'jp-MLPlatModels-run',
              testid: `mlplat-model-pipeline-${name}-${version}`
            },
            h(
              'span',
              { className: 'jp-MLPlatModels-label' },
              trans.__('Pipeline')
            ),
            h(
              'span',
              {},
              trans.__(
                '%1 · run %2 · task %3 (try %4)',
                run.pipeline.dag_id,
                run.pipeline.run_id,
                run.pipeline.task_id,
                run.pipeline.try_number
              )
            )
          )
        : null,
      run ? table(trans.__('Parameters'), run.params, 'params') : null,
      run
        ? table(trans.__('Metrics'), run.metrics, 'metrics', formatNumber)
        : null,
      details.quality.length > 0
        ? h(
            'div',
            { className: 'jp-MLPlatModels-quality' },
            h(
              'span',
              { className: 'jp-MLPlatModels-label' },
              trans.__('Data quality')
            ),
            ...details.quality.map(q => qualityBadge(trans, q))
          )
        : null,
      details.deployments.length > 0
        ? h(
            'div',
            { className: 'jp-MLPlatModels-serving' },
            h(
              'span',
              { className: 'jp-MLPlatModels-label' },
              trans.__('Deployed as')
            ),
            ...details.deployments.map(d =>
              h('span', { className: 'jp-MLPlatModels-chip jp-mod-serving' }, d)
            )
          )
        : null,
      trainedOn(this._lineage, trans, name, version)
    );
  }

  private _onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    const actionNode = target?.closest<HTMLElement>('[data-action]');
    if (!actionNode || !this.node.contains(actionNode)) {
      return;
    }
    const action = actionNode.dataset.action;
    const item = actionNode.closest<HTMLElement>('[data-version]');
    const modelName =
      item?.dataset.model ??
      actionNode.closest<HTMLElement>('[data-model]')?.dataset.model;
    const version = item?.dataset.version;
    switch (action) {
      case 'retry':
        void this._model.searchNow();
        break;
      case 'toggle-model':
        if (modelName !== undefined) {
          this._model.select(
            this._model.selected === modelName ? null : modelName
          );
        }
        break;
      case 'toggle-version':
        if (modelName !== undefined && version !== undefined) {
          this._model.toggleVersion(modelName, version);
        }
        break;
      case 'deploy':
        if (modelName !== undefined && version !== undefined) {
          this._actions.deploy(modelName, version);
        }
        break;
      case 'open-report':
        event.preventDefault();
        if (actionNode.dataset.report) {
          this._actions.openReport(actionNode.dataset.report);
        }
        break;
      case 'pick':
        if (modelName !== undefined && version !== undefined) {
          this._model.togglePick(modelName, version);
        }
        break;
      case 'compare': {
        const picks = modelName ? this._model.picks(modelName) : [];
        if (modelName !== undefined && picks.length === 2) {
          this._actions.compare(modelName, [picks[0], picks[1]]);
        }
        break;
      }
      case 'open-run':
        event.preventDefault();
        if (actionNode.dataset.path) {
          this._actions.openRun(actionNode.dataset.path);
        }
        break;
    }
  };

  /**
   * Enter or Space on a `role=button` toggle acts like a click.
   */
  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target instanceof HTMLElement ? event.target : null;
    if (
      (event.key === 'Enter' || event.key === ' ') &&
      target?.getAttribute('role') === 'button'
    ) {
      event.preventDefault();
      target.click();
    }
  };

  private _model: ModelsModel;
  private _actions: IModelsActions;
  private _trans: TranslationBundle;
  private _lineage: IModelsLineage | undefined;
}
