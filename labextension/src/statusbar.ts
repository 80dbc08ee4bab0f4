import { dot, type DotState, h } from './dom';
import { ModelView } from './modelview';
import { type IStatusModel } from './tokens';

/**
 * Compact status-bar item: "MLflow ●" (green: tracking server reachable,
 * red: unreachable or status error, grey: unknown/loading).
 */
export class StatusBarItem extends ModelView {
  constructor(options: StatusBarItem.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this.addClass('jp-MLPlatStatusBar');
    this.node.dataset.testid = 'mlplat-statusbar';
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    const activate = options.onClick;
    if (activate) {
      this.node.addEventListener('click', () => activate());
      this.node.addEventListener('keydown', event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          activate();
        }
      });
    }
    this.render();
  }

  render(): void {
    const { status, error } = this._model;
    const reachable = status?.tracking?.reachable;
    let state: DotState = 'unknown';
    let tooltip = 'MLflow tracking: checking…';
    if (error) {
      state = 'error';
      tooltip = `ML platform status unavailable: ${error}`;
    } else if (reachable === true) {
      state = 'ok';
      tooltip = `MLflow tracking server reachable (${status?.tracking.uri ?? ''})`;
    } else if (reachable === false) {
      state = 'error';
      tooltip = `MLflow tracking server unreachable (${status?.tracking.uri ?? ''})`;
    }
    this.node.dataset.state = state;
    this.node.title = `${tooltip}\nClick to show the ML Platform panel.`;
    this.node.replaceChildren(h('span', {}, 'MLflow'), dot(state, tooltip));
  }

  private _model: IStatusModel;
}

/**
 * A namespace for `StatusBarItem` statics.
 */
export namespace StatusBarItem {
  export interface IOptions {
    model: IStatusModel;
    /** Called on click / Enter. */
    onClick?: () => void;
  }
}
