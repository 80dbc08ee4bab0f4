import { type TranslationBundle } from '@jupyterlab/translation';

import { UIFrameWidget } from '../common/uiframe';
import { AIRFLOW_WIDGET_ID } from '../tokens';
import { pipelinesIcon } from './icons';

/**
 * Where the server extension proxies the Airflow UI, relative to the Jupyter
 * base URL (behind Jupyter authentication, as the MLflow UI).
 */
export const AIRFLOW_UI_PATH = 'mlplat/airflow/';

/**
 * Main-area tab hosting the Airflow UI in an iframe.
 */
export class AirflowWidget extends UIFrameWidget {
  constructor(url: string, trans: TranslationBundle) {
    super({
      url,
      id: AIRFLOW_WIDGET_ID,
      testid: 'mlplat-airflow',
      className: 'jp-MLPlatAirflow',
      label: trans.__('Airflow'),
      caption: trans.__('Airflow UI (%1)', url),
      reloadTooltip: trans.__('Reload the Airflow UI'),
      openTooltip: trans.__('Open the Airflow UI in a new browser tab'),
      icon: pipelinesIcon,
      trans
    });
  }
}
