import {
  caretDownIcon,
  caretRightIcon,
  refreshIcon,
  searchIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type Message } from '@lumino/messaging';
import { type AccordionPanel, Widget } from '@lumino/widgets';

import { h } from '../dom';
import { ModelView } from '../modelview';
import {
  type IModelVersion,
  type IModelVersionDetails,
  type IQualityResult,
  type IRegisteredModel,
  MODELS_PANEL_ID
} from '../tokens';
import {
  button,
  DeploymentsView,
  type IDeploymentActions,
  loading
} from './deployments';
import { modelsIcon } from './icon';
import { type ModelsModel } from './model';

/**
 * What the models panel can do with a model version (implemented by the plugin).
 */
export interface IModelsActions extends IDeploymentActions {
  /** Open the deploy dialog for a version. */
  deploy(model: string, version: string): void;
  /** Open the lab's MLflow UI at a path relative to the Jupyter base URL. */
  openRun(uiPath: string): void;
  /** Reload the panel. */
  refresh(): void;
}

/**
 * Left side panel "Models": search the model registry, browse versions with
 * their runs and quality checks, deploy, manage deployments.
 */
export class ModelsPanel extends SidePanel {
  constructor(options: { model: ModelsModel; actions: IModelsActions }) {
    super();
    const { model, actions } = options;
    this._model = model;
    this.id = MODELS_PANEL_ID;
    this.addClass('jp-MLPlatModelsPanel');
    this.node.dataset.testid = 'mlplat-models';
    this.node.setAttribute('aria-label', 'Models');
    this.title.icon = modelsIcon;
    this.title.caption = 'Models';

    this.header.addWidget(new Widget({ node: h('h2', {}, 'Models') }));
    this._search = h('input', {
      className: 'jp-MLPlatModels-searchInput',
      testid: 'mlplat-models-search',
      attrs: {
        type: 'search',
        placeholder: 'Search models: name, tag, description',
        'aria-label': 'Search registered models',
        autocomplete: 'off',
        spellcheck: 'false',
        maxlength: '200' // the server refuses longer queries
      }
    });
    this._search.addEventListener('input', () => {
      model.setQuery(this._search.value);
    });
    const searchBox = new Widget({
      node: h(
        'div',
        { className: 'jp-MLPlatModels-search' },
        searchIcon.element({
          tag: 'span',
          className: 'jp-MLPlatModels-searchIcon'
        }),
        this._search
      )
    });
    this.toolbar.addItem('search', searchBox);
    const refresh = new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Reload models and deployments',
      onClick: () => actions.refresh()
    });
    refresh.node.dataset.testid = 'mlplat-models-refresh';
    this.toolbar.addItem('refresh', refresh);

    this.addWidget(new ModelsBrowser({ model, actions }));
    this.addWidget(new DeploymentsView({ model, actions }));
    (this.content as AccordionPanel).setRelativeSizes([0.65, 0.35]);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Fetched when first shown, and fresh whenever the panel comes back.
    if (this._model.search.status !== 'loading') {
      void this._model.searchNow();
    }
    void this._model.loadDeployments();
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached && !this.node.contains(document.activeElement)) {
      this._search.focus();
    }
  }

  private _model: ModelsModel;
  private _search: HTMLInputElement;
}

/**
 * Search results: models, expanded into versions, expanded into details.
 */
export class ModelsBrowser extends ModelView {
  constructor(options: { model: ModelsModel; actions: IModelsActions }) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this.addClass('jp-MLPlatModels-browser');
    this.title.label = 'Registered models';
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKeyDown);
    this.render();
  }

  render(): void {
    const search = this._model.search;
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
          `Could not search the registry: ${search.error ?? 'unknown error'}`,
          ' ',
          button('retry', 'Retry', 'mlplat-models-retry')
        )
      );
    } else if (search.status === 'loading' && search.results.length === 0) {
      children.push(
        loading('Searching the registry…', 'mlplat-models-loading')
      );
    } else if (search.status === 'ready' && search.results.length === 0) {
      children.push(
        h(
          'div',
          { className: 'jp-MLPlatModels-empty', testid: 'mlplat-models-empty' },
          search.query.trim()
            ? `No registered model matches "${search.query.trim()}".`
            : 'No registered models yet: log a model with registered_model_name=… in a notebook.'
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

  override dispose(): void {
    this.node.removeEventListener('click', this._onClick);
    this.node.removeEventListener('keydown', this._onKeyDown);
    super.dispose();
  }

  private _modelItem(model: IRegisteredModel): HTMLElement {
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
              { className: 'jp-MLPlatModels-muted', title: 'Latest version' },
              `v${model.latest_version}`
            )
          : null,
        ...aliases.map(([alias, version]) => aliasChip(alias, version))
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
    const state = this._model.model(name);
    if (state.status === 'error') {
      return h(
        'div',
        { className: 'jp-MLPlatModels-error', attrs: { role: 'alert' } },
        `Could not load the versions: ${state.error}`
      );
    }
    if (state.value === null) {
      return loading('Loading versions…');
    }
    const versions = state.value.versions ?? [];
    if (versions.length === 0) {
      return h(
        'div',
        { className: 'jp-MLPlatModels-empty' },
        'This model has no versions yet.'
      );
    }
    return h(
      'ul',
      { className: 'jp-MLPlatModels-versions' },
      ...versions.map(v => this._versionItem(name, v))
    );
  }

  private _versionItem(name: string, version: IModelVersion): HTMLElement {
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
          `Version ${version.version}`
        ),
        ...version.aliases.map(alias => aliasChip(alias)),
        version.status && version.status !== 'READY'
          ? h('span', { className: 'jp-MLPlatModels-chip' }, version.status)
          : null,
        ...serving.map(d =>
          h(
            'span',
            {
              className: 'jp-MLPlatModels-chip jp-mod-serving',
              title: `Served by deployment ${d.name} (${d.state})`,
              attrs: { 'data-state': d.state }
            },
            `▶ ${d.name}`
          )
        ),
        h('span', { className: 'jp-MLPlatModels-spacer' }),
        button('deploy', 'Deploy', `mlplat-deploy-${name}-${version.version}`, {
          title: `Deploy version ${version.version} of ${name}`,
          primary: true
        })
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

  private _versionDetails(name: string, version: string): HTMLElement {
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
        `Could not load the version: ${state.error}`
      );
    }
    if (state.value === null) {
      return loading('Loading the run…', testid);
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
            h('span', { className: 'jp-MLPlatModels-label' }, 'Run'),
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
              'Open run in MLflow'
            )
          )
        : h('div', { className: 'jp-MLPlatModels-muted' }, 'No run recorded.'),
      run ? table('Parameters', run.params, 'params') : null,
      run ? table('Metrics', run.metrics, 'metrics', formatNumber) : null,
      details.quality.length > 0
        ? h(
            'div',
            { className: 'jp-MLPlatModels-quality' },
            h('span', { className: 'jp-MLPlatModels-label' }, 'Data quality'),
            ...details.quality.map(q => qualityBadge(q))
          )
        : null,
      details.deployments.length > 0
        ? h(
            'div',
            { className: 'jp-MLPlatModels-serving' },
            h('span', { className: 'jp-MLPlatModels-label' }, 'Deployed as'),
            ...details.deployments.map(d =>
              h('span', { className: 'jp-MLPlatModels-chip jp-mod-serving' }, d)
            )
          )
        : null
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
}

function caret(open: boolean): HTMLElement {
  return (open ? caretDownIcon : caretRightIcon).element({
    tag: 'span',
    className: 'jp-MLPlatModels-caret'
  });
}

function aliasChip(alias: string, version?: string): HTMLElement {
  return h(
    'span',
    {
      className: 'jp-MLPlatModels-chip jp-mod-alias',
      title: version ? `Alias @${alias} → version ${version}` : 'Alias'
    },
    version ? `@${alias} → v${version}` : `@${alias}`
  );
}

function qualityBadge(result: IQualityResult): HTMLElement {
  const passed = result.status === 'passed';
  const ratio =
    result.success_ratio === null
      ? ''
      : ` ${Math.round(result.success_ratio * 100)}%`;
  const failed =
    result.failed_count !== null && result.failed_count > 0
      ? `, ${result.failed_count} failed`
      : '';
  return h(
    'span',
    {
      className: `jp-MLPlatModels-badge ${passed ? 'jp-mod-pass' : 'jp-mod-fail'}`,
      testid: `mlplat-quality-${result.name}`,
      title: `Check ${result.name}: ${result.status || 'unknown'}${ratio}${failed}`,
      attrs: { 'data-status': result.status }
    },
    `${passed ? '✓' : '✗'} ${result.name}${ratio}`
  );
}

function table(
  title: string,
  values: Record<string, string | number>,
  testid: string,
  format: (value: string | number) => string = String
): HTMLElement | null {
  const entries = Object.entries(values ?? {}).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  if (entries.length === 0) {
    return null;
  }
  return h(
    'div',
    { className: 'jp-MLPlatModels-table' },
    h('span', { className: 'jp-MLPlatModels-label' }, title),
    h(
      'table',
      { testid: `mlplat-model-${testid}` },
      h(
        'tbody',
        {},
        ...entries.map(([key, value]) =>
          h('tr', {}, h('th', {}, key), h('td', {}, format(value)))
        )
      )
    )
  );
}

function formatNumber(value: string | number): string {
  return typeof value === 'number' && !Number.isInteger(value)
    ? value.toPrecision(4)
    : String(value);
}
