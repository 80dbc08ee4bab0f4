import { LabIcon } from '@jupyterlab/ui-components';

import catalogSvgstr from '../../style/icons/catalog.svg';
import columnSvgstr from '../../style/icons/column.svg';
import tableSvgstr from '../../style/icons/table.svg';

/**
 * Database cylinder: the data catalog side panel, launcher card and databases.
 */
export const catalogIcon = new LabIcon({
  name: 'jupyter-mlplat:catalog',
  svgstr: catalogSvgstr
});

/**
 * A table of the data catalog.
 */
export const catalogTableIcon = new LabIcon({
  name: 'jupyter-mlplat:catalog-table',
  svgstr: tableSvgstr
});

/**
 * A column of a catalog table.
 */
export const catalogColumnIcon = new LabIcon({
  name: 'jupyter-mlplat:catalog-column',
  svgstr: columnSvgstr
});
