import { type Notebook } from '@jupyterlab/notebook';

/**
 * A notebook cell's model.
 */
type ICellModel = Notebook['widgets'][number]['model'];

/**
 * The cell tag that marks a notebook's pipeline cells.
 */
export const PIPELINE_TAG = 'pipeline';

/**
 * A cell's tags (`metadata.tags`).
 */
function tags(cell: ICellModel): string[] {
  const value: unknown = cell.getMetadata('tags');
  return Array.isArray(value)
    ? value.filter((t): t is string => typeof t === 'string')
    : [];
}

/**
 * Whether a cell is marked as a pipeline cell.
 */
export function isPipelineCell(cell: ICellModel): boolean {
  return cell.type === 'code' && tags(cell).includes(PIPELINE_TAG);
}

/**
 * Add the pipeline tag to the selected cells, or remove it when they all
 * have it already.
 *
 * @returns Whether the cells are marked now.
 */
export function togglePipelineCells(notebook: Notebook): boolean {
  const cells = notebook.widgets
    .filter(cell => notebook.isSelectedOrActive(cell))
    .map(cell => cell.model)
    .filter(cell => cell.type === 'code');
  const mark = !cells.every(isPipelineCell);
  for (const cell of cells) {
    const rest = tags(cell).filter(t => t !== PIPELINE_TAG);
    const next = mark ? [...rest, PIPELINE_TAG] : rest;
    if (next.length > 0) {
      cell.setMetadata('tags', next);
    } else {
      cell.deleteMetadata('tags');
    }
  }
  return mark;
}

/**
 * The notebook's pipeline cells, in order, as one piece of code (blank line
 * between cells); `''` when none is marked.
 */
export function pipelineSource(notebook: Notebook): string {
  const cells = notebook.model?.cells;
  if (!cells) {
    return '';
  }
  const parts: string[] = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (isPipelineCell(cell)) {
      parts.push(cell.sharedModel.getSource().trimEnd());
    }
  }
  return parts.filter(p => p.length > 0).join('\n\n');
}

/**
 * A pipeline name from a notebook path: `notebooks/Train Iris.ipynb` →
 * `train_iris` (letters, digits and `_`, starting with a letter).
 */
export function pipelineNameFor(path: string): string {
  const base = (path.split('/').pop() ?? '').replace(/\.ipynb$/i, '');
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .replace(/_+$/, '')
    .slice(0, 100);
  return name || 'pipeline';
}
