import { type TranslationBundle } from '@jupyterlab/translation';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { button, caret, loading } from '../models/render';
import {
  type IPipeline,
  type IPipelineImportError,
  type IPipelineRun,
  type IPipelineTask
} from '../tokens';
import { type IPipelinesWidgetOptions } from './actions';
import { type PipelinesModel } from './model';
import { stateChip, when } from './render';

/**
 * The caller's pipelines: import errors (file:line), then each DAG with its
 * schedule, next run, paused state, owner and last run; trigger / pause /
 * unpause; expanded, its recent runs with every task's state as a chip in
 * Airflow's colours (a click shows the task's log tail).
 */
export class PipelinesList extends ModelView {
  constructor(options: IPipelinesWidgetOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._options = options;
    this._trans = options.trans;
    this.addClass('jp-MLPlatPipelines-list');
    this.node.dataset.testid = 'mlplat-pipelines-list';
    this.title.label = this._trans.__('Pipelines');
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKeyDown);
    this.render();
  }

  render(): void {
    const trans = this._trans;
    const state = this._model.list;
    const value = state.value;
    const children: (Node | string)[] = [];
    if (state.status === 'error') {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatPipelines-error',
            testid: 'mlplat-pipelines-error',
            attrs: { role: 'alert' }
          },
          trans.__(
            'Could not load the pipelines: %1',
            state.error ?? trans.__('unknown error')
          )
        )
      );
    } else if (value === null) {
      children.push(loading(trans.__('Loading pipelines…')));
    }
    if (value !== null && value.import_errors.length > 0) {
      children.push(this._importErrors(value.import_errors));
    }
    if (value !== null && value.pipelines.length === 0) {
      children.push(
        h(
          'div',
          {
            className: 'jp-MLPlatPipelines-empty',
            testid: 'mlplat-pipelines-empty'
          },
          trans.__(
            'No pipelines yet. Mark notebook cells of @task functions with "Mark Cell for Pipeline" and run "Export Notebook as Pipeline", use %%mlp pipeline in a cell, or %mlp pipeline new --template classification.'
          )
        )
      );
    }
    if (value !== null && value.pipelines.length > 0) {
      children.push(
        h(
          'ul',
          { className: 'jp-MLPlatPipelines-dags' },
          ...value.pipelines.map(p => this._pipeline(p))
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

  private _importErrors(errors: IPipelineImportError[]): HTMLElement {
    const trans = this._trans;
    return h(
      'div',
      {
        className: 'jp-MLPlatPipelines-importErrors',
        testid: 'mlplat-pipelines-import-errors',
        attrs: { role: 'alert' }
      },
      h(
        'div',
        { className: 'jp-MLPlatPipelines-label' },
        trans._n(
          '%1 DAG file does not import',
          '%1 DAG files do not import',
          errors.length
        )
      ),
      h(
        'ul',
        {},
        ...errors.map(e =>
          h(
            'li',
            { testid: `mlplat-pipelines-import-error-${e.file}` },
            h(
              'code',
              { className: 'jp-MLPlatPipelines-where' },
              e.line ? `${e.file}:${e.line}` : e.file
            ),
            ' ',
            e.message
          )
        )
      )
    );
  }

  private _pipeline(p: IPipeline): HTMLElement {
    const trans = this._trans;
    const open = this._model.isExpanded(p.dag_id);
    const busy = this._model.isBusy(p.dag_id);
    const pause = p.paused
      ? button(
          'unpause',
          trans.__('Unpause'),
          `mlplat-pipeline-unpause-${p.dag_id}`,
          {
            title: trans.__('Resume the schedule of %1', p.dag_id)
          }
        )
      : button(
          'pause',
          trans.__('Pause'),
          `mlplat-pipeline-pause-${p.dag_id}`,
          {
            title: trans.__('Pause the schedule of %1', p.dag_id)
          }
        );
    const trigger = button(
      'trigger',
      trans.__('Trigger'),
      `mlplat-pipeline-trigger-${p.dag_id}`,
      { title: trans.__('Start a run of %1 now', p.dag_id), primary: true }
    );
    trigger.disabled = pause.disabled = busy;
    return h(
      'li',
      {
        className: 'jp-MLPlatPipelines-dag',
        testid: `mlplat-pipeline-${p.dag_id}`,
        attrs: {
          'data-dag': p.dag_id,
          'data-paused': String(p.paused),
          'aria-expanded': String(open)
        }
      },
      h(
        'div',
        { className: 'jp-MLPlatPipelines-dagHead' },
        h(
          'button',
          {
            className: 'jp-MLPlatPipelines-toggle',
            testid: `mlplat-pipeline-toggle-${p.dag_id}`,
            title: open
              ? trans.__('Hide the runs')
              : trans.__('Show the recent runs'),
            attrs: { type: 'button', 'data-action': 'toggle' }
          },
          caret(open),
          h('span', { className: 'jp-MLPlatPipelines-name' }, p.dag_id)
        ),
        p.paused
          ? h(
              'span',
              {
                className: 'jp-MLPlatPipelines-paused',
                testid: `mlplat-pipeline-paused-${p.dag_id}`,
                title: trans.__('The scheduler does not start runs of it')
              },
              trans.__('paused')
            )
          : null,
        p.last_run
          ? stateChip(trans, p.last_run.state, {
              testid: `mlplat-pipeline-last-${p.dag_id}`,
              title: trans.__('Last run: %1', p.last_run.run_id)
            })
          : null
      ),
      h(
        'dl',
        { className: 'jp-MLPlatPipelines-facts' },
        h('dt', {}, trans.__('Schedule')),
        h(
          'dd',
          { testid: `mlplat-pipeline-schedule-${p.dag_id}` },
          p.schedule && p.schedule !== 'None'
            ? h('code', {}, p.schedule)
            : trans.__('on demand')
        ),
        h('dt', {}, trans.__('Next run')),
        h('dd', {}, p.paused ? trans.__('paused') : when(p.next_run)),
        h('dt', {}, trans.__('Owner')),
        h('dd', {}, p.owner || '—'),
        h('dt', {}, trans.__('File')),
        h('dd', {}, h('code', {}, p.file))
      ),
      h('div', { className: 'jp-MLPlatPipelines-actions' }, trigger, pause),
      open ? this._runs(p.dag_id) : null
    );
  }

  private _runs(dagId: string): HTMLElement {
    const trans = this._trans;
    const state = this._model.runs(dagId);
    const runs = state.value ?? [];
    let body: (Node | string)[];
    if (state.status === 'error') {
      body = [
        h(
          'div',
          { className: 'jp-MLPlatPipelines-error', attrs: { role: 'alert' } },
          trans.__('Could not load the runs: %1', state.error ?? '')
        )
      ];
    } else if (state.value === null) {
      body = [loading(trans.__('Loading runs…'))];
    } else if (runs.length === 0) {
      body = [
        h(
          'div',
          { className: 'jp-MLPlatPipelines-empty' },
          trans.__('No runs yet: Trigger starts one.')
        )
      ];
    } else {
      body = [
        h(
          'ul',
          { className: 'jp-MLPlatPipelines-runs' },
          ...runs.map(run => this._run(dagId, run))
        )
      ];
    }
    return h(
      'div',
      {
        className: 'jp-MLPlatPipelines-runsBox',
        testid: `mlplat-pipeline-runs-${dagId}`
      },
      ...body
    );
  }

  private _run(dagId: string, run: IPipelineRun): HTMLElement {
    const trans = this._trans;
    return h(
      'li',
      {
        className:
          this._model.markedRun === `${dagId}/${run.run_id}`
            ? 'jp-MLPlatPipelines-run jp-mod-selected'
            : 'jp-MLPlatPipelines-run',
        testid: `mlplat-pipeline-run-${run.run_id}`,
        attrs: { 'data-run': run.run_id, 'data-state': run.state ?? 'none' }
      },
      h(
        'div',
        { className: 'jp-MLPlatPipelines-runHead' },
        stateChip(trans, run.state),
        h(
          'span',
          { className: 'jp-MLPlatPipelines-runId', title: run.run_id },
          run.run_id
        ),
        h(
          'span',
          { className: 'jp-MLPlatPipelines-muted' },
          run.triggered_by || run.run_type || ''
        ),
        when(run.start)
      ),
      h(
        'div',
        { className: 'jp-MLPlatPipelines-tasks' },
        ...run.tasks.map(task => this._task(dagId, run, task))
      )
    );
  }

  private _task(
    dagId: string,
    run: IPipelineRun,
    task: IPipelineTask
  ): HTMLElement {
    const trans = this._trans;
    const shown = this._model.logTarget;
    const selected =
      shown !== null &&
      shown.dagId === dagId &&
      shown.runId === run.run_id &&
      shown.taskId === task.task_id;
    const tries =
      task.try_number > 1 ? ` · ${trans.__('try %1', task.try_number)}` : '';
    const chip = stateChip(trans, task.state, {
      label: `${task.task_id}${tries}`,
      testid: `mlplat-task-${task.task_id}`,
      title: trans.__(
        '%1: %2 — click for its log',
        task.task_id,
        task.state ?? trans.__('no status')
      )
    });
    chip.classList.add('jp-MLPlatPipelines-task');
    if (selected) {
      chip.classList.add('jp-mod-selected');
    }
    chip.setAttribute('role', 'button');
    chip.setAttribute('tabindex', '0');
    chip.dataset.action = 'log';
    chip.dataset.task = task.task_id;
    return chip;
  }

  /**
   * Enter or Space on a task chip (a `role="button"` span) opens its log.
   */
  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target instanceof HTMLElement ? event.target : null;
    if (
      target?.dataset.action === 'log' &&
      (event.key === 'Enter' || event.key === ' ')
    ) {
      event.preventDefault();
      target.click();
    }
  };

  private _onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    const actionNode = target?.closest<HTMLElement>('[data-action]');
    const dagId = target
      ?.closest<HTMLElement>('.jp-MLPlatPipelines-dag')
      ?.getAttribute('data-dag');
    if (!actionNode || !dagId) {
      return;
    }
    const actions = this._options.actions;
    switch (actionNode.dataset.action) {
      case 'toggle':
        this._model.toggle(dagId);
        break;
      case 'trigger':
        actions.trigger(dagId);
        break;
      case 'pause':
        actions.setPaused(dagId, true);
        break;
      case 'unpause':
        actions.setPaused(dagId, false);
        break;
      case 'log': {
        const runId = actionNode
          .closest<HTMLElement>('.jp-MLPlatPipelines-run')
          ?.getAttribute('data-run');
        const taskId = actionNode.dataset.task;
        if (runId && taskId) {
          actions.showLog({ dagId, runId, taskId });
        }
        break;
      }
    }
  };

  private _model: PipelinesModel;
  private _options: IPipelinesWidgetOptions;
  private _trans: TranslationBundle;
}
