import { Dialog } from '@jupyterlab/apputils';
import { type TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../common/api';
import { h } from '../common/dom';
import { type IPipelineExported, type IPipelineExportRequest } from '../tokens';

/**
 * The export form's values.
 */
interface IExportValues {
  name: string;
  schedule: string;
}

/**
 * Body of the export dialog: the pipeline's name and schedule, the number of
 * cells exported, the server's last refusal.
 */
class ExportForm extends Widget implements Dialog.IBodyWidget<IExportValues> {
  constructor(
    trans: TranslationBundle,
    values: IExportValues,
    cells: number,
    error: string | null
  ) {
    super();
    this.addClass('jp-MLPlatPipelines-exportForm');
    this._name = field('name', values.name, {
      placeholder: 'train_iris',
      pattern: '[A-Za-z][A-Za-z0-9_]{0,99}'
    });
    this._schedule = field('schedule', values.schedule, {
      placeholder: trans.__('@daily, 0 6 * * *, table:demo.iris or empty'),
      list: 'mlplat-pipeline-schedules'
    });
    this.node.append(
      h(
        'p',
        {},
        trans._n(
          'Writes the %1 pipeline cell of this notebook as an Airflow DAG file in the pipelines folder.',
          'Writes the %1 pipeline cells of this notebook as an Airflow DAG file in the pipelines folder.',
          cells
        )
      ),
      h('label', {}, trans.__('Name'), this._name),
      h(
        'label',
        {},
        trans.__('Schedule (empty: run on demand)'),
        this._schedule
      ),
      h(
        'datalist',
        { attrs: { id: 'mlplat-pipeline-schedules' } },
        ...['@hourly', '@daily', '@weekly', '0 6 * * *'].map(value =>
          h('option', { attrs: { value } })
        )
      ),
      error
        ? h(
            'div',
            {
              className: 'jp-MLPlatPipelines-error',
              testid: 'mlplat-export-error',
              attrs: { role: 'alert' }
            },
            error
          )
        : ''
    );
  }

  getValue(): IExportValues {
    return {
      name: this._name.value.trim(),
      schedule: this._schedule.value.trim()
    };
  }

  private _name: HTMLInputElement;
  private _schedule: HTMLInputElement;
}

function field(
  name: string,
  value: string,
  attrs: Record<string, string>
): HTMLInputElement {
  const input = h('input', {
    className: 'jp-mod-styled',
    testid: `mlplat-export-${name}`,
    attrs: { type: 'text', spellcheck: 'false', autocomplete: 'off', ...attrs }
  });
  input.value = value;
  return input;
}

/**
 * Ask for the pipeline's name and schedule, then export. The dialog opens
 * again with the values kept and the server's reason shown when it refuses
 * (a bad name or schedule, or Airflow's import error as file:line).
 *
 * @returns What was written, or `null` if cancelled.
 */
export async function exportWithDialog(options: {
  name: string;
  cells: number;
  source: string;
  notebook: string;
  send: (request: IPipelineExportRequest) => Promise<IPipelineExported>;
  trans: TranslationBundle;
}): Promise<IPipelineExported | null> {
  const trans = options.trans;
  let values: IExportValues = { name: options.name, schedule: '' };
  let error: string | null = null;
  for (;;) {
    const dialog = new Dialog<IExportValues>({
      title: trans.__('Export notebook as pipeline'),
      body: new ExportForm(trans, values, options.cells, error),
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: trans.__('Export') })
      ],
      focusNodeSelector: '[data-testid="mlplat-export-name"]'
    });
    dialog.node.dataset.testid = 'mlplat-export-dialog';
    const result = await dialog.launch();
    if (!result.button.accept || result.value === null) {
      return null;
    }
    values = result.value;
    try {
      return await options.send({
        name: values.name,
        schedule: values.schedule || null,
        source: options.source,
        notebook: options.notebook
      });
    } catch (reason) {
      error = errorMessage(reason);
    }
  }
}
