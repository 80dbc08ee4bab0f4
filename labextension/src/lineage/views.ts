import { type TranslationBundle } from '@jupyterlab/translation';

import { type Child, h } from '../common/dom';
import { type ILoadable } from '../common/remotemodel';
import {
  type IImpact,
  type ILineageTable,
  type ITableLineage,
  type IVersionLineage
} from './api';

/**
 * What a click in a lineage view leads to (implemented by `lineageActions`).
 */
export interface ILineageActions {
  /** The run's page in the lab's MLflow UI. */
  openRun(experimentId: string, runId: string): void;
  /** The Models panel at a version. */
  openVersion(model: string, version: string): void;
  /** The Models panel's deployments, at one of them. */
  openDeployment(name: string): void;
  /** The Pipelines panel at a pipeline. */
  openPipeline(name: string): void;
  /** The Catalog panel at a table (`db.table`). */
  openTable(table: string): void;
  /** Run the retraining pipeline of a table's stale deployments. */
  retrain(pipeline: string, table: string): void;
  /** Fetch a table's or a version's lineage again. */
  reloadTable(table: string): void;
  reloadVersion(model: string, version: string): void;
}

/**
 * Short form of a digest for display (the full one in the tooltip).
 */
export function shortDigest(digest: string | null | undefined): string {
  return digest ? digest.slice(0, 8) : '—';
}

function link(
  action: string,
  label: string,
  data: Record<string, string>,
  props: { testid?: string; title?: string } = {}
): HTMLElement {
  const attrs: Record<string, string> = {
    href: '#',
    'data-lineage': action
  };
  for (const [key, value] of Object.entries(data)) {
    attrs[`data-${key}`] = value;
  }
  return h('a', { className: 'jp-MLPlatLineage-link', ...props, attrs }, label);
}

function heading(text: string, count?: number): HTMLElement {
  return h(
    'h4',
    { className: 'jp-MLPlatLineage-heading' },
    text,
    count === undefined
      ? null
      : h('span', { className: 'jp-MLPlatModels-chip' }, String(count))
  );
}

function muted(text: string, testid?: string): HTMLElement {
  return h('div', { className: 'jp-MLPlatLineage-muted', testid }, text);
}

/**
 * Loading and error states of a lineage lookup; `null` once there is a value.
 */
function status<T>(
  trans: TranslationBundle,
  state: ILoadable<T>,
  testid: string,
  retry: Record<string, string>
): HTMLElement | null {
  if (state.status === 'error') {
    return h(
      'div',
      {
        className: 'jp-MLPlatLineage-error',
        testid: `${testid}-error`,
        attrs: { role: 'alert' }
      },
      trans.__('Could not load the lineage: %1', state.error ?? ''),
      ' ',
      link('retry', trans.__('Retry'), retry)
    );
  }
  if (state.value === null) {
    return h(
      'div',
      {
        className: 'jp-MLPlatLineage-muted',
        testid: `${testid}-loading`,
        attrs: { role: 'status' }
      },
      trans.__('Loading the lineage…')
    );
  }
  return null;
}

function group(title: string, items: Child[], testid: string): HTMLElement {
  return h(
    'div',
    { className: 'jp-MLPlatLineage-group', testid },
    h('span', { className: 'jp-MLPlatLineage-label' }, title),
    h('span', { className: 'jp-MLPlatLineage-items' }, ...items)
  );
}

/**
 * A table's *Used by* (runs, model versions, deployments, pipelines) and its
 * *Impact* (the deployed versions trained on it, stale ones marked).
 */
export function tableLineage(
  trans: TranslationBundle,
  table: string,
  state: ILoadable<ITableLineage>
): HTMLElement {
  const waiting = status(trans, state, 'mlplat-lineage-table', {
    table
  });
  const info = state.value;
  const body: Child[] = [];
  if (waiting) {
    body.push(waiting);
  }
  if (info) {
    body.push(usedBy(trans, info), impact(trans, info));
  }
  return h(
    'div',
    {
      className: 'jp-MLPlatLineage',
      testid: 'mlplat-lineage-table',
      attrs: {
        'data-table': table,
        'aria-busy': String(state.status === 'loading')
      }
    },
    ...body
  );
}

function usedBy(trans: TranslationBundle, info: ITableLineage): HTMLElement {
  const { runs, versions, deployments, pipelines } = info.used_by;
  const groups: Child[] = [];
  if (runs.length > 0) {
    groups.push(
      group(
        trans.__('Runs'),
        runs.map(r =>
          link(
            'run',
            `${r.name || r.run_id.slice(0, 8)} (${
              r.context === 'output' ? trans.__('wrote') : trans.__('read')
            } ${shortDigest(r.digest)})`,
            { experiment: r.experiment_id, run: r.run_id },
            {
              testid: `mlplat-lineage-run-${r.run_id}`,
              title: trans.__('Open run %1 in MLflow', r.run_id)
            }
          )
        ),
        'mlplat-lineage-runs'
      )
    );
  }
  if (versions.length > 0) {
    groups.push(
      group(
        trans.__('Model versions'),
        versions.map(v =>
          link(
            'version',
            `${v.model} v${v.version}`,
            { model: v.model, version: v.version },
            {
              testid: `mlplat-lineage-version-${v.model}-${v.version}`,
              title: trans.__(
                'Trained on digest %1: show it in the Models panel',
                v.digest
              )
            }
          )
        ),
        'mlplat-lineage-versions'
      )
    );
  }
  if (deployments.length > 0) {
    groups.push(
      group(
        trans.__('Deployments'),
        deployments.map(d =>
          link(
            'deployment',
            `▶ ${d.name}`,
            { deployment: d.name },
            {
              testid: `mlplat-lineage-deployment-${d.name}`,
              title: trans.__(
                '%1 version %2 at %3',
                d.model,
                d.version,
                d.endpoint
              )
            }
          )
        ),
        'mlplat-lineage-deployments'
      )
    );
  }
  if (pipelines.length > 0) {
    groups.push(
      group(
        trans.__('Pipelines'),
        pipelines.map(p =>
          link(
            'pipeline',
            p.name,
            { pipeline: p.name },
            { testid: `mlplat-lineage-pipeline-${p.name}` }
          )
        ),
        'mlplat-lineage-pipelines'
      )
    );
  }
  return h(
    'section',
    { className: 'jp-MLPlatLineage-section', testid: 'mlplat-lineage-used-by' },
    h(
      'div',
      { className: 'jp-MLPlatLineage-headingRow' },
      heading(trans.__('Used by')),
      link(
        'retry',
        trans.__('Reload'),
        { table: info.table },
        {
          testid: 'mlplat-lineage-reload',
          title: trans.__('Ask again: new runs, the current digest')
        }
      )
    ),
    ...(groups.length > 0
      ? groups
      : [
          muted(
            trans.__(
              'No run has read or written this table yet (inside an MLflow run).'
            ),
            'mlplat-lineage-unused'
          )
        ])
  );
}

function impact(trans: TranslationBundle, info: ITableLineage): HTMLElement {
  const stale = info.impact.filter(i => i.stale).length;
  return h(
    'section',
    { className: 'jp-MLPlatLineage-section', testid: 'mlplat-lineage-impact' },
    heading(trans.__('Impact'), info.impact.length),
    h(
      'div',
      { className: 'jp-MLPlatLineage-muted' },
      info.digest
        ? trans.__(
            'Current digest %1; %2 of the deployed models were trained on an older one.',
            shortDigest(info.digest),
            stale
          )
        : trans.__('The current digest is unknown (Spark cannot say).')
    ),
    info.impact.length > 0
      ? h(
          'ul',
          { className: 'jp-MLPlatLineage-impact' },
          ...info.impact.map(i => impactItem(trans, info.table, i))
        )
      : muted(
          trans.__('No deployed model depends on this table.'),
          'mlplat-lineage-no-impact'
        )
  );
}

function impactItem(
  trans: TranslationBundle,
  table: string,
  item: IImpact
): HTMLElement {
  return h(
    'li',
    {
      className: `jp-MLPlatLineage-impactItem${item.stale ? ' jp-mod-stale' : ''}`,
      testid: `mlplat-lineage-impact-${item.deployment}`,
      attrs: { 'data-stale': String(item.stale) }
    },
    link('deployment', `▶ ${item.deployment}`, { deployment: item.deployment }),
    link('version', `${item.model} v${item.version}`, {
      model: item.model,
      version: item.version
    }),
    h(
      'span',
      {
        className: `jp-MLPlatModels-badge ${item.stale ? 'jp-mod-stale' : 'jp-mod-pass'}`,
        title: trans.__(
          'Trained on %1, the table is at %2',
          item.trained_digest,
          item.current_digest ?? trans.__('unknown')
        )
      },
      item.stale
        ? trans.__('stale: trained on %1', shortDigest(item.trained_digest))
        : trans.__('current')
    ),
    item.stale && item.pipeline
      ? h(
          'button',
          {
            className: 'jp-MLPlatModels-button jp-mod-accept',
            testid: `mlplat-lineage-retrain-${item.deployment}`,
            title: trans.__(
              'Run the pipeline %1 (it retrains on %2)',
              item.pipeline,
              table
            ),
            attrs: {
              type: 'button',
              'data-lineage': 'retrain',
              'data-pipeline': item.pipeline,
              'data-table': table
            }
          },
          trans.__('Retrain')
        )
      : null
  );
}

/**
 * A model version's *Trained on* (tables, digests, stale ones marked) and the
 * tables its run wrote.
 */
export function versionLineage(
  trans: TranslationBundle,
  model: string,
  version: string,
  state: ILoadable<IVersionLineage>
): HTMLElement {
  const testid = `mlplat-lineage-version-${model}-${version}`;
  const waiting = status(trans, state, testid, { model, version });
  const info = state.value;
  const tables = (items: ILineageTable[]): HTMLElement[] =>
    items.map(t => tableItem(trans, t));
  return h(
    'div',
    {
      className: 'jp-MLPlatLineage',
      testid,
      attrs: { 'aria-busy': String(state.status === 'loading') }
    },
    waiting,
    info
      ? group(
          trans.__('Trained on'),
          info.trained_on.length > 0
            ? tables(info.trained_on)
            : [muted(trans.__('no catalog table recorded'))],
          `mlplat-lineage-trained-on-${model}-${version}`
        )
      : null,
    info && info.outputs.length > 0
      ? group(
          trans.__('Wrote'),
          tables(info.outputs),
          `mlplat-lineage-outputs-${model}-${version}`
        )
      : null
  );
}

function tableItem(trans: TranslationBundle, t: ILineageTable): HTMLElement {
  const columns = (t.schema ?? []).map(c => `${c.name} ${c.type}`).join(', ');
  return h(
    'span',
    {
      className: `jp-MLPlatLineage-table${t.stale ? ' jp-mod-stale' : ''}`,
      testid: `mlplat-lineage-trained-table-${t.table}`,
      attrs: { 'data-stale': String(Boolean(t.stale)) }
    },
    link(
      'table',
      t.table,
      { table: t.table },
      { title: trans.__('Show %1 in the Data Catalog (%2)', t.table, columns) }
    ),
    h(
      'span',
      { className: 'jp-MLPlatLineage-digest', title: t.digest },
      `@${shortDigest(t.digest)}`
    ),
    t.stale
      ? h(
          'span',
          {
            className: 'jp-MLPlatModels-badge jp-mod-stale',
            title: trans.__(
              'The table changed since: it is at %1 now',
              t.current_digest ?? ''
            )
          },
          trans.__('changed since')
        )
      : null
  );
}

/**
 * Handle a click on a lineage link or button inside `event`'s target; `true`
 * when it was one.
 */
export function onLineageClick(
  event: MouseEvent,
  actions: ILineageActions
): boolean {
  const target = event.target instanceof Element ? event.target : null;
  const node = target?.closest<HTMLElement>('[data-lineage]');
  if (!node) {
    return false;
  }
  event.preventDefault();
  const data = node.dataset;
  switch (data.lineage) {
    case 'run':
      actions.openRun(data.experiment ?? '', data.run ?? '');
      break;
    case 'version':
      actions.openVersion(data.model ?? '', data.version ?? '');
      break;
    case 'deployment':
      actions.openDeployment(data.deployment ?? '');
      break;
    case 'pipeline':
      actions.openPipeline(data.pipeline ?? '');
      break;
    case 'table':
      actions.openTable(data.table ?? '');
      break;
    case 'retrain':
      actions.retrain(data.pipeline ?? '', data.table ?? '');
      break;
    case 'retry':
      if (data.table) {
        actions.reloadTable(data.table);
      } else {
        actions.reloadVersion(data.model ?? '', data.version ?? '');
      }
      break;
  }
  return true;
}
