import {
  refreshIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type IDisposable } from '@lumino/disposable';
import { type Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { type Child, dot, type DotState, h } from './dom';
import { mlplatIcon } from './icons';
import { ModelView } from './modelview';
import {
  type IPlatformStatus,
  type IStatusModel,
  STATUS_PANEL_ID
} from './tokens';
import { FRONTEND_VERSION } from './version';

/**
 * Left side panel showing the ML platform status.
 */
export class StatusPanel extends SidePanel {
  constructor(options: StatusPanel.IOptions) {
    super({ content: new Panel() });
    this._model = options.model;
    this.id = STATUS_PANEL_ID;
    this.addClass('jp-MLPlatStatusPanel');
    this.title.icon = mlplatIcon;
    this.title.caption = 'ML Platform';
    this.node.setAttribute('aria-label', 'ML Platform status');

    const heading = h('h2', {}, 'ML Platform');
    this.header.addWidget(new Widget({ node: heading }));

    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh platform status',
        onClick: () => {
          void this._model.refresh();
        }
      })
    );

    this.addWidget(new StatusView(options));

    // Poll while the panel is visible (interval comes from the settings).
    this._watch = this._model.watch(() => this.isVisible);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._model.refresh();
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._watch.dispose();
    super.dispose();
  }

  private _model: IStatusModel;
  private _watch: IDisposable;
}

/**
 * Renders an `IStatusModel`.
 */
export class StatusView extends ModelView {
  constructor(options: StatusPanel.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._openMLflow = options.openMLflow;
    this.addClass('jp-MLPlatStatus');
    this.node.dataset.testid = 'mlplat-status';
    this.node.setAttribute('aria-live', 'polite');
    this.render();
  }

  render(): void {
    const { status, error, loading, versionMismatch, lastUpdated } =
      this._model;
    const state = error ? 'error' : status ? 'ok' : 'loading';
    this.node.dataset.state = state;
    this.node.setAttribute('aria-busy', String(loading));

    const children: Child[] = [];
    if (versionMismatch) {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatStatus-message jp-MLPlatStatus-warning',
            testid: 'mlplat-version-warning',
            attrs: { role: 'status' }
          },
          versionMismatch
        )
      );
    }
    if (error) {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatStatus-message jp-MLPlatStatus-error',
            testid: 'mlplat-error',
            attrs: { role: 'alert' }
          },
          h('strong', {}, 'Could not load the platform status: '),
          error
        )
      );
    }
    if (!status && !error) {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatStatus-message jp-MLPlatStatus-loading',
            testid: 'mlplat-loading'
          },
          'Loading platform status…'
        )
      );
    }
    if (status) {
      children.push(...this._renderStatus(status));
    }
    children.push(
      h(
        'div',
        { className: 'jp-MLPlatStatus-footer' },
        h(
          'span',
          { testid: 'mlplat-version' },
          `Server ${text(status?.version)} · front-end ${FRONTEND_VERSION}`
        ),
        lastUpdated &&
          h(
            'span',
            { className: 'jp-MLPlatStatus-updated' },
            loading
              ? 'Refreshing…'
              : `Updated ${lastUpdated.toLocaleTimeString()}`
          )
      )
    );
    this.node.replaceChildren(
      ...children.filter((c): c is Node => c instanceof Node)
    );
  }

  private _renderStatus(status: IPlatformStatus): Node[] {
    // Be lenient: older/newer servers may omit sections or add fields.
    const tracking: Partial<IPlatformStatus['tracking']> =
      status.tracking ?? {};
    const spark: Partial<IPlatformStatus['spark']> = status.spark ?? {};
    const catalog: Partial<IPlatformStatus['catalog']> = status.catalog ?? {};
    const deploy: Partial<IPlatformStatus['deploy']> = status.deploy ?? {};

    const reachable = tracking.reachable;
    const trackingState: DotState =
      reachable === true ? 'ok' : reachable === false ? 'error' : 'unknown';
    const trackingLabel =
      reachable === true
        ? 'reachable'
        : reachable === false
          ? 'unreachable'
          : 'unknown';

    const openLink = this._openMLflow
      ? h(
          'a',
          {
            className: 'jp-MLPlatStatus-link',
            attrs: { href: '#', role: 'button' }
          },
          'Open MLflow UI'
        )
      : null;
    if (openLink && this._openMLflow) {
      const open = this._openMLflow;
      openLink.addEventListener('click', event => {
        event.preventDefault();
        open();
      });
    }

    return [
      section(
        'Session',
        row('User', value(status.user, { testid: 'mlplat-user' }))
      ),
      section(
        'MLflow tracking',
        row(
          'Tracking URI',
          value(tracking.uri, { testid: 'mlplat-tracking-uri', code: true })
        ),
        row(
          'State',
          h(
            'span',
            {
              testid: 'mlplat-tracking-state',
              attrs: { 'data-state': trackingState }
            },
            dot(trackingState, trackingLabel),
            trackingLabel,
            detail(tracking.detail)
          )
        ),
        row(
          'Experiment',
          value(tracking.experiment, { testid: 'mlplat-experiment' })
        ),
        row('Autolog', value(tracking.autolog, { testid: 'mlplat-autolog' })),
        row(
          'Async logging',
          value(tracking.async_logging, { testid: 'mlplat-async-logging' })
        ),
        row('Artifact proxy', value(tracking.artifact_proxy)),
        openLink && row('UI', openLink)
      ),
      section(
        'Spark',
        row('Mode', value(spark.mode, { testid: 'mlplat-spark-mode' })),
        row(
          'Endpoint',
          value(spark.endpoint, { testid: 'mlplat-spark-endpoint', code: true })
        ),
        row(
          'State',
          h(
            'span',
            {
              testid: 'mlplat-spark-state',
              attrs: { 'data-state': sparkDotState(spark.state) }
            },
            dot(sparkDotState(spark.state), text(spark.state)),
            text(spark.state),
            detail(spark.detail)
          )
        )
      ),
      section(
        'Catalog',
        row(
          'Backend',
          value(catalog.backend, { testid: 'mlplat-catalog-backend' })
        )
      ),
      section(
        'Deployment',
        row('Target', value(deploy.target, { testid: 'mlplat-deploy-target' })),
        row(
          'Namespace',
          value(deploy.namespace, { testid: 'mlplat-deploy-namespace' })
        )
      )
    ];
  }

  private _model: IStatusModel;
  private _openMLflow?: () => void;
}

/**
 * A namespace for `StatusPanel` statics.
 */
export namespace StatusPanel {
  export interface IOptions {
    /** The shared status model. */
    model: IStatusModel;
    /** Open the MLflow UI (adds a link to the panel when given). */
    openMLflow?: () => void;
  }
}

const EMPTY = '—';

/**
 * Display text of a payload value.
 */
function text(v: unknown): string {
  if (v === undefined || v === null || v === '') {
    return EMPTY;
  }
  if (typeof v === 'boolean') {
    return v ? 'on' : 'off';
  }
  if (typeof v === 'string') {
    return v;
  }
  if (typeof v === 'number' || typeof v === 'bigint') {
    return v.toString();
  }
  // Unexpected shapes (objects from newer servers, ...): show them as JSON.
  return JSON.stringify(v) ?? EMPTY;
}

/**
 * " (explanation)" suffix for a state, if the server sent one.
 */
function detail(v: unknown): HTMLElement | null {
  return typeof v === 'string' && v.length > 0
    ? h('span', { className: 'jp-MLPlatStatus-detail' }, ` (${v})`)
    : null;
}

function value(
  v: unknown,
  options: { testid?: string; code?: boolean } = {}
): HTMLElement {
  const classes: string[] = [];
  if (options.code) {
    classes.push('jp-MLPlatStatus-code');
  }
  if (text(v) === EMPTY) {
    classes.push('jp-MLPlatStatus-muted');
  }
  return h(
    'span',
    { className: classes.join(' '), testid: options.testid },
    text(v)
  );
}

function row(label: string, content: Node): [HTMLElement, HTMLElement] {
  return [h('dt', {}, label), h('dd', {}, content)];
}

function section(
  title: string,
  ...rows: ([HTMLElement, HTMLElement] | null | false)[]
): HTMLElement {
  const table = h('dl', { className: 'jp-MLPlatStatus-table' });
  for (const r of rows) {
    if (r) {
      table.append(...r);
    }
  }
  return h(
    'section',
    { className: 'jp-MLPlatStatus-section' },
    h('h3', { className: 'jp-MLPlatStatus-sectionTitle' }, title),
    table
  );
}

function sparkDotState(state: unknown): DotState {
  switch (typeof state === 'string' ? state.toLowerCase() : '') {
    case 'up':
    case 'running':
    case 'ready':
    case 'ok':
    case 'connected':
      return 'ok';
    case 'down':
    case 'error':
    case 'failed':
    case 'unreachable':
      return 'error';
    case 'starting':
    case 'degraded':
      return 'warning';
    default:
      return 'unknown';
  }
}
