import { LabIcon } from '@jupyterlab/ui-components';

/**
 * Three connected steps: the pipelines side panel, its commands and the
 * Airflow UI tab.
 */
export const pipelinesIcon = new LabIcon({
  name: 'jupyter-mlplat:pipelines',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h6v5H3zM15 4h6v5h-6zM9 15h6v5H9zM9 6h6v1.5H9zM17.25 9h1.5v3.75H12.75V15h-1.5v-3.75h6z"/>' +
    '</g></svg>'
});
