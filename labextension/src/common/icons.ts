import { LabIcon } from '@jupyterlab/ui-components';

import mlplatSvgstr from '../../style/icons/mlplat.svg';

/**
 * Beaker icon used by the status panel, launcher items and the MLflow tab.
 */
export const mlplatIcon = new LabIcon({
  name: 'jupyter-mlplat:beaker',
  svgstr: mlplatSvgstr
});
