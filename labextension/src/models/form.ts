import { type Dialog } from '@jupyterlab/apputils';
import { type TranslationBundle } from '@jupyterlab/translation';
import { type Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import {
  type DeployTarget,
  type IDeployment,
  type IDeployRequest
} from '../tokens';
import { type IDeployDialogOptions } from './dialog';
import { canaryError, deploymentNameError } from './model';

/**
 * Deploy targets the dialog offers.
 */
export function deployTargets(
  trans: TranslationBundle
): { value: DeployTarget; label: string }[] {
  return [
    { value: 'local', label: trans.__('Local (MLServer on this machine)') },
    {
      value: 'kserve',
      label: trans.__('KServe (Kubernetes InferenceService)')
    }
  ];
}

/**
 * Values of the deploy form (as typed).
 */
export interface IDeployFormValues {
  target: DeployTarget;
  name: string;
  /** Canary percent as typed; `''` is a full rollout. */
  canary: string;
}

/**
 * Body of the deploy dialog: target, name, canary share, inline validation.
 */
export class DeployForm
  extends Widget
  implements Dialog.IBodyWidget<IDeployFormValues>
{
  constructor(
    options: IDeployDialogOptions,
    values: IDeployFormValues,
    serverError: string | null
  ) {
    super();
    this._options = options;
    const trans = (this._trans = options.trans);
    this.addClass('jp-MLPlatDeployForm');

    this._target = h(
      'select',
      {
        className: 'jp-mod-styled',
        testid: 'mlplat-deploy-target',
        attrs: { 'aria-label': trans.__('Deploy target') }
      },
      ...deployTargets(trans).map(t =>
        h('option', { attrs: { value: t.value } }, t.label)
      )
    );
    this._target.value = values.target;
    this._name = h('input', {
      className: 'jp-mod-styled',
      testid: 'mlplat-deploy-name',
      attrs: {
        type: 'text',
        'aria-label': trans.__('Deployment name'),
        autocomplete: 'off',
        spellcheck: 'false',
        maxlength: '63'
      }
    });
    this._name.value = values.name;
    this._canary = h('input', {
      className: 'jp-mod-styled',
      testid: 'mlplat-deploy-canary',
      attrs: {
        type: 'number',
        min: '1',
        max: '99',
        step: '1',
        placeholder: trans.__('empty: replace it'),
        'aria-label': trans.__('Canary share of traffic in percent')
      }
    });
    this._canary.value = values.canary;
    this._existing = h('div', { className: 'jp-MLPlatDeployForm-existing' });
    this._canaryRow = field(
      trans.__('Canary traffic %'),
      this._canary,
      trans.__(
        'Send this share of the traffic to the new version; promote or roll back later.'
      )
    );
    this._errors = h('div', {
      className: 'jp-MLPlatDeployForm-errors',
      testid: 'mlplat-deploy-errors',
      attrs: { role: 'alert' }
    });
    this._serverError = serverError;

    this.node.append(
      h(
        'div',
        { className: 'jp-MLPlatDeployForm-model' },
        h('code', {}, `models:/${options.model}/${options.version}`)
      ),
      field(trans.__('Target'), this._target),
      field(
        trans.__('Name'),
        this._name,
        trans.__(
          "Lowercase letters, digits and '-'; an existing name updates that deployment."
        )
      ),
      this._existing,
      this._canaryRow,
      this._errors
    );
    for (const input of [this._target, this._name, this._canary]) {
      input.addEventListener('input', () => this._sync(true));
    }
    this._sync(false);
  }

  getValue(): IDeployFormValues {
    return {
      target: this._target.value === 'kserve' ? 'kserve' : 'local',
      name: this._name.value.trim(),
      canary: this._existingDeployment() ? this._canary.value.trim() : ''
    };
  }

  /**
   * What is wrong with `values` (empty when they can be sent).
   */
  errors(values: IDeployFormValues): string[] {
    return [
      deploymentNameError(this._trans, values.name),
      canaryError(this._trans, values.canary)
    ].filter((e): e is string => e !== null);
  }

  /**
   * The REST request for valid `values`.
   */
  request(values: IDeployFormValues): IDeployRequest {
    const request: IDeployRequest = {
      model_uri: `models:/${this._options.model}/${this._options.version}`,
      name: values.name,
      target: values.target
    };
    if (values.canary !== '') {
      request.canary = Number(values.canary);
    }
    return request;
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._sync(false);
  }

  private _existingDeployment(): IDeployment | undefined {
    const name = this._name.value.trim();
    return this._options.deployments.find(d => d.name === name);
  }

  /**
   * Show the canary field for an existing name, validate, enable "Deploy".
   * Typing clears the server's complaint about the previous values.
   */
  private _sync(typed: boolean): void {
    if (typed) {
      this._serverError = null;
    }
    const existing = this._existingDeployment();
    this._canaryRow.hidden = !existing;
    this._existing.replaceChildren();
    if (existing) {
      this._existing.append(
        this._trans.__(
          '"%1" exists (%2, serving %3 version %4): deploying updates it.',
          existing.name,
          existing.target,
          existing.stable.name,
          existing.stable.version
        )
      );
      if (existing.details?.canary_routing === 'none') {
        this._existing.append(
          ' ',
          this._trans.__(
            'Its KServe mode (%1) sends no traffic to a canary: leave the canary empty to replace the version.',
            String(existing.details?.mode ?? 'Standard')
          )
        );
      }
    }
    const errors = this.errors(this.getValue());
    this._errors.replaceChildren(
      ...(this._serverError
        ? [
            h(
              'div',
              { className: 'jp-MLPlatDeployForm-error' },
              this._serverError
            )
          ]
        : []),
      ...errors.map(e =>
        h('div', { className: 'jp-MLPlatDeployForm-error' }, e)
      )
    );
    const accept = this.node
      .closest('.jp-Dialog-content')
      ?.querySelector<HTMLButtonElement>('.jp-mod-accept');
    if (accept) {
      accept.disabled = errors.length > 0;
    }
  }

  private _options: IDeployDialogOptions;
  private _trans: TranslationBundle;
  private _target: HTMLSelectElement;
  private _name: HTMLInputElement;
  private _canary: HTMLInputElement;
  private _canaryRow: HTMLElement;
  private _existing: HTMLElement;
  private _errors: HTMLElement;
  private _serverError: string | null;
}

function field(
  label: string,
  input: HTMLElement,
  help?: string
): HTMLLabelElement {
  return h(
    'label',
    { className: 'jp-MLPlatDeployForm-field' },
    h('span', { className: 'jp-MLPlatDeployForm-label' }, label),
    input,
    help ? h('span', { className: 'jp-MLPlatDeployForm-help' }, help) : null
  );
}
