import { type JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import {
  type INotebookTracker,
  type Notebook,
  type NotebookPanel
} from '@jupyterlab/notebook';
import { type TranslationBundle } from '@jupyterlab/translation';
import { DisposableSet, type IDisposable } from '@lumino/disposable';

import { CATALOG_TABLE_MIME } from './model';

/**
 * Insert a code cell with `source` below the active cell of the current
 * notebook (the last one the user worked in), make it active and show the
 * notebook. Notifies the user when there is no notebook.
 *
 * @returns Whether a cell was inserted.
 */
export function insertCodeBelowActiveCell(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null,
  source: string,
  trans: TranslationBundle
): boolean {
  const panel = tracker?.currentWidget;
  if (!panel || panel.isDisposed || !panel.content.model) {
    Notification.warning(trans.__('Open a notebook to insert code'), {
      autoClose: 5000
    });
    return false;
  }
  const notebook = panel.content;
  const index = notebook.activeCell
    ? notebook.activeCellIndex + 1
    : (notebook.model?.cells.length ?? 0);
  insertCodeCell(notebook, index, source);
  app.shell.activateById(panel.id);
  return true;
}

/**
 * Insert a code cell at `index` of a notebook and make it active.
 */
export function insertCodeCell(
  notebook: Notebook,
  index: number,
  source: string
): void {
  const model = notebook.model;
  if (!model) {
    return;
  }
  const at = Math.max(0, Math.min(index, model.cells.length));
  model.sharedModel.insertCell(at, {
    cell_type: 'code',
    source,
    // Created by the user, hence trusted (like NotebookActions.insertBelow).
    metadata: { trusted: true }
  });
  notebook.activeCellIndex = at;
  notebook.deselectAll();
  notebook.mode = 'command';
  void notebook.scrollToItem(at, 'auto', 0).catch(() => undefined);
}

/**
 * Where to insert a dropped snippet into a cell source so it gets lines of its
 * own: replaces the dropped-on line if blank, goes above it when dropped
 * before its first non-blank character, else below it.
 *
 * @param source The cell source.
 * @param offset The drop offset in `source`.
 * @param snippet The code to insert.
 * @returns The range of `source` to replace and the replacement text.
 */
export function lineAwareInsertion(
  source: string,
  offset: number,
  snippet: string
): { from: number; to: number; text: string } {
  const at = Math.max(0, Math.min(offset, source.length));
  const lineStart = source.lastIndexOf('\n', at - 1) + 1;
  const newline = source.indexOf('\n', at);
  const lineEnd = newline < 0 ? source.length : newline;
  const line = source.slice(lineStart, lineEnd);
  if (line.trim() === '') {
    return { from: lineStart, to: lineEnd, text: snippet };
  }
  const indent = line.length - line.trimStart().length;
  if (at - lineStart <= indent) {
    return { from: lineStart, to: lineStart, text: `${snippet}\n` };
  }
  return { from: lineEnd, to: lineEnd, text: `\n${snippet}` };
}

/**
 * Let tables dragged from the catalog be dropped anywhere on a notebook.
 *
 * The drag is a plain HTML5 one whose `text/plain` is the snippet, which
 * CodeMirror 6 already accepts (it inserts the text at the drop position), as
 * does any text field. On notebooks this target refines it:
 * - on a cell editor, the snippet is inserted on lines of its own (see
 *   `lineAwareInsertion`) instead of in the middle of a line;
 * - elsewhere (prompts, outputs, rendered Markdown, between or below cells),
 *   a new code cell is inserted below the cell under the pointer (or at the
 *   end).
 */
export function enableCatalogDrops(tracker: INotebookTracker): IDisposable {
  const disposables = new DisposableSet();
  const attach = (_: unknown, panel: NotebookPanel): void => {
    const target = new NotebookDropTarget(panel.content);
    disposables.add(target);
    panel.disposed.connect(() => {
      disposables.remove(target);
      target.dispose();
    });
  };
  tracker.forEach(panel => attach(tracker, panel));
  tracker.widgetAdded.connect(attach);
  disposables.add({
    isDisposed: false,
    dispose: () => {
      tracker.widgetAdded.disconnect(attach);
    }
  });
  return disposables;
}

const DROP_TARGET_CLASS = 'jp-MLPlatCatalog-dropTarget';
const DROP_END_CLASS = 'jp-MLPlatCatalog-dropEnd';

/**
 * Native (HTML5) drop target on a notebook for catalog tables.
 */
class NotebookDropTarget implements IDisposable {
  constructor(notebook: Notebook) {
    this._notebook = notebook;
    const node = notebook.node;
    node.addEventListener('dragenter', this);
    node.addEventListener('dragover', this);
    node.addEventListener('dragleave', this);
    node.addEventListener('drop', this);
    // Capture phase: runs before CodeMirror's own drop handler.
    node.addEventListener('drop', this._onEditorDrop, true);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    const node = this._notebook.node;
    node.removeEventListener('dragenter', this);
    node.removeEventListener('dragover', this);
    node.removeEventListener('dragleave', this);
    node.removeEventListener('drop', this);
    node.removeEventListener('drop', this._onEditorDrop, true);
    this._clearIndicator();
  }

  handleEvent(event: Event): void {
    const drag = event as DragEvent;
    if (!this._accepts(drag)) {
      this._clearIndicator();
      return;
    }
    switch (event.type) {
      case 'dragenter':
      case 'dragover':
        drag.preventDefault();
        if (drag.dataTransfer) {
          drag.dataTransfer.dropEffect = 'copy';
        }
        this._showIndicator(this._cellIndexAt(drag.target));
        break;
      case 'dragleave':
        if (
          !(drag.relatedTarget instanceof Node) ||
          !this._notebook.node.contains(drag.relatedTarget)
        ) {
          this._clearIndicator();
        }
        break;
      case 'drop': {
        drag.preventDefault();
        drag.stopPropagation();
        this._clearIndicator();
        const source = drag.dataTransfer?.getData('text/plain') ?? '';
        if (source) {
          const index = this._cellIndexAt(drag.target);
          const cells = this._notebook.model?.cells.length ?? 0;
          insertCodeCell(this._notebook, index < 0 ? cells : index + 1, source);
          this._notebook.activate();
        }
        break;
      }
      default:
        break;
    }
  }

  /**
   * Drop of a catalog table on a cell editor: insert on lines of its own.
   */
  private _onEditorDrop = (event: DragEvent): void => {
    const transfer = event.dataTransfer;
    if (
      !transfer ||
      !Array.from(transfer.types).includes(CATALOG_TABLE_MIME) ||
      !elementOf(event.target)?.closest('.cm-content')
    ) {
      return;
    }
    const index = this._cellIndexAt(event.target);
    const cell = index >= 0 ? this._notebook.widgets[index] : null;
    const editor = cell?.editor;
    const snippet = transfer.getData('text/plain');
    if (!cell || !editor || cell.readOnly || !snippet) {
      return; // Let CodeMirror handle it.
    }
    event.preventDefault();
    event.stopPropagation();
    const shared = cell.model.sharedModel;
    const source = shared.getSource();
    const position = editor.getPositionForCoordinate({
      left: event.clientX,
      right: event.clientX,
      top: event.clientY,
      bottom: event.clientY
    });
    const offset = position ? editor.getOffsetAt(position) : source.length;
    const { from, to, text } = lineAwareInsertion(source, offset, snippet);
    shared.updateSource(from, to, text);
    this._notebook.activeCellIndex = index;
    const end = editor.getPositionAt(from + text.length);
    if (end) {
      editor.setCursorPosition(end);
    }
    editor.focus();
  };

  /**
   * Whether this target handles the drag: a catalog table that is not over a
   * cell editor (CodeMirror handles those itself).
   */
  private _accepts(event: DragEvent): boolean {
    const types = event.dataTransfer?.types ?? [];
    if (!Array.from(types).includes(CATALOG_TABLE_MIME)) {
      return false;
    }
    // CodeMirror listens on its content element only.
    return !elementOf(event.target)?.closest('.cm-content');
  }

  /**
   * Index of the cell containing `target`, or -1.
   */
  private _cellIndexAt(target: EventTarget | null): number {
    const cellNode = elementOf(target)?.closest('.jp-Cell');
    if (!cellNode) {
      return -1;
    }
    return this._notebook.widgets.findIndex(cell => cell.node === cellNode);
  }

  private _showIndicator(index: number): void {
    const cell = index >= 0 ? this._notebook.widgets[index].node : null;
    const node = cell ?? this._notebook.node;
    if (node === this._indicated) {
      return;
    }
    this._clearIndicator();
    node.classList.add(cell ? DROP_TARGET_CLASS : DROP_END_CLASS);
    this._indicated = node;
  }

  private _clearIndicator(): void {
    this._indicated?.classList.remove(DROP_TARGET_CLASS, DROP_END_CLASS);
    this._indicated = null;
  }

  private _notebook: Notebook;
  private _indicated: HTMLElement | null = null;
  private _isDisposed = false;
}

/**
 * The element of an event target (the parent of a text node).
 */
function elementOf(target: EventTarget | null): Element | null {
  if (target instanceof Element) {
    return target;
  }
  return target instanceof Node ? target.parentElement : null;
}
