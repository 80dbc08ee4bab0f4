import { type TranslationBundle } from '@jupyterlab/translation';

import { mlplatIcon } from '../common/icons';
import { UIFrameWidget } from '../common/uiframe';
import { MLFLOW_WIDGET_ID } from '../tokens';

/**
 * Main-area tab hosting the MLflow tracking UI (its routes live in the URL
 * hash) in an iframe.
 */
export class MLflowWidget extends UIFrameWidget {
  constructor(url: string, trans: TranslationBundle) {
    super({
      url,
      id: MLFLOW_WIDGET_ID,
      testid: 'mlplat-mlflow',
      className: 'jp-MLPlatMLflow',
      label: trans.__('MLflow'),
      caption: trans.__('MLflow tracking UI (%1)', url),
      reloadTooltip: trans.__('Reload the MLflow UI'),
      openTooltip: trans.__('Open the MLflow UI in a new browser tab'),
      icon: mlplatIcon,
      trans
    });
  }
}
