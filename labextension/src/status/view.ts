import { type TranslationBundle } from '@jupyterlab/translation';

import { type Child, dot, type DotState, h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { FRONTEND_VERSION } from '../common/version';
import { type IPlatformStatus, type IStatusModel } from '../tokens';
import { type StatusPanel } from './panel';

/**
 * Renders an `IStatusModel`.
 */
export class StatusView extends ModelView {
  constructor(options: StatusPanel.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._openMLflow = options.openMLflow;
    this._trans = options.trans;
    this.addClass('jp-MLPlatStatus');
    this.node.dataset.testid = 'mlplat-status';
    this.node.setAttribute('aria-live', 'polite');
    this.render();
  }

  render(): void {
    const { status, error, loading, versionMismatch, lastUpdated } =
      this._model;
    const trans = this._trans;
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
          h('strong', {}, trans.__('Could not load the platform status: ')),
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
          trans.__('Loading platform status…')
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
          trans.__(
            'Server %1 · front-end %2',
            text(trans, status?.version),
            FRONTEND_VERSION
          )
        ),
        lastUpdated &&
          h(
            'span',
            { className: 'jp-MLPlatStatus-updated' },
            loading
              ? trans.__('Refreshing…')
              : trans.__('Updated %1', lastUpdated.toLocaleTimeString())
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
    const trans = this._trans;
    const value = (v: unknown, options?: IValueOptions): HTMLElement =>
      valueOf(trans, v, options);

    const reachable = tracking.reachable;
    const trackingState: DotState =
      reachable === true ? 'ok' : reachable === false ? 'error' : 'unknown';
    const trackingLabel =
      reachable === true
        ? trans.__('reachable')
        : reachable === false
          ? trans.__('unreachable')
          : trans.__('unknown');

    const openLink = this._openMLflow
      ? h(
          'a',
          {
            className: 'jp-MLPlatStatus-link',
            attrs: { href: '#', role: 'button' }
          },
          trans.__('Open MLflow UI')
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
        trans.__('Session'),
        row(trans.__('User'), value(status.user, { testid: 'mlplat-user' }))
      ),
      section(
        trans.__('MLflow tracking'),
        row(
          trans.__('Tracking URI'),
          value(tracking.uri, { testid: 'mlplat-tracking-uri', code: true })
        ),
        row(
          trans.__('State'),
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
          trans.__('Experiment'),
          value(tracking.experiment, { testid: 'mlplat-experiment' })
        ),
        row(
          trans.__('Autolog'),
          value(tracking.autolog, { testid: 'mlplat-autolog' })
        ),
        row(
          trans.__('Async logging'),
          value(tracking.async_logging, { testid: 'mlplat-async-logging' })
        ),
        row(trans.__('Artifact proxy'), value(tracking.artifact_proxy)),
        openLink && row(trans.__('UI'), openLink)
      ),
      section(
        trans.__('Spark'),
        row(
          trans.__('Mode'),
          value(spark.mode, { testid: 'mlplat-spark-mode' })
        ),
        row(
          trans.__('Endpoint'),
          value(spark.endpoint, { testid: 'mlplat-spark-endpoint', code: true })
        ),
        row(
          trans.__('State'),
          h(
            'span',
            {
              testid: 'mlplat-spark-state',
              attrs: { 'data-state': sparkDotState(spark.state) }
            },
            dot(sparkDotState(spark.state), text(trans, spark.state)),
            text(trans, spark.state),
            detail(spark.detail)
          )
        )
      ),
      section(
        trans.__('Catalog'),
        row(
          trans.__('Backend'),
          value(catalog.backend, { testid: 'mlplat-catalog-backend' })
        )
      ),
      section(
        trans.__('Deployment'),
        row(
          trans.__('Target'),
          value(deploy.target, { testid: 'mlplat-deploy-target' })
        ),
        row(
          trans.__('Namespace'),
          value(deploy.namespace, { testid: 'mlplat-deploy-namespace' })
        )
      )
    ];
  }

  private _model: IStatusModel;
  private _openMLflow?: () => void;
  private _trans: TranslationBundle;
}

const EMPTY = '—';

/**
 * Display text of a payload value.
 */
function text(trans: TranslationBundle, v: unknown): string {
  if (v === undefined || v === null || v === '') {
    return EMPTY;
  }
  if (typeof v === 'boolean') {
    return v ? trans.__('on') : trans.__('off');
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

interface IValueOptions {
  testid?: string;
  code?: boolean;
}

function valueOf(
  trans: TranslationBundle,
  v: unknown,
  options: IValueOptions = {}
): HTMLElement {
  const classes: string[] = [];
  if (options.code) {
    classes.push('jp-MLPlatStatus-code');
  }
  const shown = text(trans, v);
  if (shown === EMPTY) {
    classes.push('jp-MLPlatStatus-muted');
  }
  return h(
    'span',
    { className: classes.join(' '), testid: options.testid },
    shown
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
