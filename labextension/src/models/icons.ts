import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A cube: the models side panel and its commands.
 */
export const modelsIcon = new LabIcon({
  name: 'jupyter-mlplat:models',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M12 2 3 7v10l9 5 9-5V7l-9-5zm0 2.3L18.8 8 12 11.7 5.2 8 12 4.3zM5 9.7l6 3.3v6.7l-6-3.3V9.7zm8 10v-6.7l6-3.3v6.7l-6 3.3z"/>' +
    '</g></svg>'
});
