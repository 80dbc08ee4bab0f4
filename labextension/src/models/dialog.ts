import { Dialog } from '@jupyterlab/apputils';
import { type TranslationBundle } from '@jupyterlab/translation';

import { errorMessage } from '../common/api';
import { type IDeployment, type IDeployRequest } from '../tokens';
import { DeployForm, type IDeployFormValues } from './form';
import { deploymentNameFor } from './model';

/**
 * What the deploy dialog needs to know.
 */
export interface IDeployDialogOptions {
  /** Registered model name. */
  model: string;
  /** Version to deploy. */
  version: string;
  /** The caller's deployments (a canary is offered when the name exists). */
  deployments: ReadonlyArray<IDeployment>;
  /** Target selected at first (the server's default). */
  defaultTarget: string;
  /** Send the request; rejects with the server's message when refused. */
  deploy: (request: IDeployRequest) => Promise<IDeployment>;
  /** Translations of the dialog's strings. */
  trans: TranslationBundle;
}

/**
 * Ask where and how to deploy a model version, then deploy it. The dialog
 * opens again with the values kept and the reason shown when the input is
 * invalid or the server refuses it.
 *
 * @returns The new deployment (state `deploying`), or `null` if cancelled.
 */
export async function deployWithDialog(
  options: IDeployDialogOptions
): Promise<IDeployment | null> {
  let values: IDeployFormValues = {
    target: options.defaultTarget === 'kserve' ? 'kserve' : 'local',
    name: deploymentNameFor(options.model),
    canary: ''
  };
  const trans = options.trans;
  let serverError: string | null = null;
  for (;;) {
    const form = new DeployForm(options, values, serverError);
    const dialog = new Dialog<IDeployFormValues>({
      title: trans.__('Deploy %1 version %2', options.model, options.version),
      body: form,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({
          label: trans.__('Deploy'),
          ariaLabel: trans.__('Deploy the model')
        })
      ],
      focusNodeSelector: `[data-testid="mlplat-deploy-name"]`
    });
    dialog.addClass('jp-MLPlatDeployDialog');
    dialog.node.dataset.testid = 'mlplat-deploy-dialog';
    const result = await dialog.launch();
    if (!result.button.accept || result.value === null) {
      return null;
    }
    values = result.value;
    if (form.errors(values).length > 0) {
      serverError = null;
      continue; // Shown inline when the dialog opens again.
    }
    try {
      return await options.deploy(form.request(values));
    } catch (error) {
      serverError = errorMessage(error);
    }
  }
}
