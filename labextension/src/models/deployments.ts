import { type TranslationBundle } from '@jupyterlab/translation';

import { type Child, h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { type IDeployment, type IRevision } from '../tokens';
import { type IDeploymentActions } from './actions';
import { type ModelsModel } from './model';
import { button, loading } from './render';

/**
 * The caller's deployments: state badge, progress while deploying, endpoint,
 * traffic split, promote / rollback / delete.
 */
export class DeploymentsView extends ModelView {
  constructor(options: {
    model: ModelsModel;
    actions: IDeploymentActions;
    trans: TranslationBundle;
  }) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this._trans = options.trans;
    this.addClass('jp-MLPlatDeployments');
    this.node.dataset.testid = 'mlplat-deployments';
    this.title.label = this._trans.__('Deployments');
    this.node.addEventListener('click', this._onClick);
    this.render();
  }

  render(): void {
    const trans = this._trans;
    const state = this._model.deployments;
    const list = state.value ?? [];
    const children: (Node | string)[] = [];
    if (state.status === 'error') {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatModels-error',
            testid: 'mlplat-deployments-error',
            attrs: { role: 'alert' }
          },
          trans.__(
            'Could not load the deployments: %1',
            state.error ?? trans.__('unknown error')
          )
        )
      );
    } else if (state.status === 'loading' && state.value === null) {
      children.push(loading(trans.__('Loading deployments…')));
    } else if (state.value !== null && list.length === 0) {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatModels-empty',
            testid: 'mlplat-deployments-empty'
          },
          trans.__('No deployments yet: use Deploy on a model version.')
        )
      );
    }
    if (list.length > 0) {
      children.push(
        h(
          'ul',
          { className: 'jp-MLPlatDeployments-list' },
          ...list.map(d => this._deployment(d))
        )
      );
    }
    this.node.replaceChildren(...children);
  }

  override dispose(): void {
    this.node.removeEventListener('click', this._onClick);
    super.dispose();
  }

  private _deployment(d: IDeployment): HTMLElement {
    const trans = this._trans;
    const fraction = Number(d.details?.progress?.fraction ?? 0);
    const step = d.details?.progress?.step ?? trans.__('Starting…');
    const hasCanary = d.canary !== null && d.canary !== undefined;
    return h(
      'li',
      {
        className: 'jp-MLPlatDeployments-item',
        testid: `mlplat-deployment-${d.name}`,
        attrs: { 'data-name': d.name, 'data-state': d.state }
      },
      h(
        'div',
        { className: 'jp-MLPlatDeployments-head' },
        h('span', { className: 'jp-MLPlatDeployments-name' }, d.name),
        h(
          'span',
          { className: 'jp-MLPlatModels-chip', title: trans.__('Target') },
          d.target
        ),
        routingChip(trans, d),
        h(
          'span',
          {
            className: 'jp-MLPlatDeployments-state',
            testid: `mlplat-deployment-state-${d.name}`,
            attrs: { 'data-state': d.state }
          },
          d.state
        )
      ),
      d.state === 'deploying'
        ? h(
            'div',
            {
              className: 'jp-MLPlatDeployments-progress',
              testid: `mlplat-deployment-progress-${d.name}`
            },
            h('progress', {
              attrs: {
                max: '1',
                value: String(Math.min(Math.max(fraction, 0), 1)),
                'aria-label': trans.__('Deploying %1', d.name)
              }
            }),
            h('span', { className: 'jp-MLPlatModels-muted' }, step)
          )
        : null,
      d.message && d.state !== 'deploying'
        ? h(
            'div',
            {
              className: `jp-MLPlatDeployments-message${d.state === 'failed' ? ' jp-mod-error' : ''}`
            },
            d.message
          )
        : null,
      h(
        'div',
        { className: 'jp-MLPlatDeployments-traffic' },
        ...traffic(trans, d)
      ),
      d.endpoint
        ? h(
            'div',
            { className: 'jp-MLPlatDeployments-endpoint' },
            h(
              'code',
              { testid: `mlplat-deployment-endpoint-${d.name}` },
              d.endpoint
            ),
            button(
              'copy',
              trans.__('Copy'),
              `mlplat-deployment-copy-${d.name}`,
              {
                title: trans.__('Copy the endpoint URL')
              }
            )
          )
        : null,
      h(
        'div',
        { className: 'jp-MLPlatDeployments-actions' },
        hasCanary
          ? button(
              'promote',
              trans.__('Promote'),
              `mlplat-deployment-promote-${d.name}`,
              {
                title: trans.__('Send all the traffic to the canary version')
              }
            )
          : null,
        hasCanary || d.previous
          ? button(
              'rollback',
              trans.__('Roll back'),
              `mlplat-deployment-rollback-${d.name}`,
              {
                title: hasCanary
                  ? trans.__(
                      'Drop the canary: all the traffic back to the stable version'
                    )
                  : trans.__(
                      'Serve the version from before the last promote again'
                    )
              }
            )
          : null,
        button(
          'delete',
          trans.__('Delete'),
          `mlplat-deployment-delete-${d.name}`,
          {
            title: trans.__('Stop serving and remove this deployment'),
            danger: true
          }
        )
      )
    );
  }

  private _onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    const action = target
      ?.closest<HTMLElement>('[data-action]')
      ?.getAttribute('data-action');
    const name = target
      ?.closest<HTMLElement>('.jp-MLPlatDeployments-item')
      ?.getAttribute('data-name');
    const deployment = (this._model.deployments.value ?? []).find(
      d => d.name === name
    );
    if (!action || !deployment) {
      return;
    }
    switch (action) {
      case 'promote':
        this._actions.promote(deployment);
        break;
      case 'rollback':
        this._actions.rollback(deployment);
        break;
      case 'delete':
        this._actions.remove(deployment);
        break;
      case 'copy':
        this._actions.copyEndpoint(deployment);
        break;
    }
  };

  private _model: ModelsModel;
  private _actions: IDeploymentActions;
  private _trans: TranslationBundle;
}

/**
 * What a canary gets: its share of the traffic from the local gateway and from KServe's
 * Knative mode; nothing from KServe's Standard mode (0.20 routes everything to the stable
 * predictor).
 */
function routingChip(
  trans: TranslationBundle,
  d: IDeployment
): HTMLElement | null {
  const routing = d.details?.canary_routing;
  if (routing !== 'weighted' && routing !== 'none') {
    return null;
  }
  const mode = String(d.details?.mode ?? '');
  let title: string;
  if (routing === 'none') {
    title = trans.__(
      '%1 mode: no weighted canary (all traffic goes to the stable version); deploy replaces the version, rollback returns to the previous one',
      mode
    );
  } else if (mode) {
    title = trans.__('%1 mode: a canary gets its share of the traffic', mode);
  } else {
    title = trans.__(
      "A canary gets its share of the traffic (the gateway's weights)"
    );
  }
  return h(
    'span',
    {
      className: 'jp-MLPlatModels-chip',
      testid: `mlplat-deployment-routing-${d.name}`,
      title
    },
    routing === 'weighted'
      ? trans.__('weighted canary')
      : trans.__('no canary (%1)', mode)
  );
}

/**
 * "stable v1 90% · canary v2 10%".
 */
function traffic(trans: TranslationBundle, d: IDeployment): Child[] {
  const roles: Record<string, string> = {
    stable: trans.__('stable'),
    canary: trans.__('canary')
  };
  const part = (role: string, r: IRevision): HTMLElement =>
    h(
      'span',
      {
        className: `jp-MLPlatDeployments-revision jp-mod-${role}`,
        title: r.uri
      },
      `${roles[role]} ${r.name} v${r.version} · ${r.traffic}%`
    );
  return [part('stable', d.stable), d.canary ? part('canary', d.canary) : null];
}
