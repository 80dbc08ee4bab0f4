import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A magnifier over a stack: the one search over everything.
 */
export const searchPanelIcon = new LabIcon({
  name: 'jupyter-mlplat:search',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h10v2H3zM3 9h6v2H3zM3 14h5v2H3zM15.5 8a5.5 5.5 0 0 1 4.4 8.8l2.9 2.9-1.4 1.4-2.9-2.9A5.5 5.5 0 1 1 15.5 8zm0 2a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7z"/>' +
    '</g></svg>'
});
