import { type TranslationBundle } from '@jupyterlab/translation';

import { type CatalogModel, type ITableRef } from './model';

/**
 * What the catalog panel can do with a table (implemented by the plugin).
 */
export interface ICatalogActions {
  /** Insert a `spark.table(...)` cell into the current notebook. */
  insertSnippet(ref: ITableRef): void;
  /** Insert a `spark.sql("SELECT ...")` cell into the current notebook. */
  insertSQL(ref: ITableRef): void;
  /** Copy the qualified name of the table to the clipboard. */
  copyName(ref: ITableRef): void;
  /** Start a background refresh on the server, then reload the panel. */
  refresh(): void;
}

/**
 * Class of tree items and search results that stand for a table (they carry
 * `data-database` and `data-table`); used as context-menu selector.
 */
export const TABLE_ITEM_CLASS = 'jp-MLPlatCatalog-tableItem';

/**
 * The table a catalog DOM node (or one of its ancestors) stands for.
 */
export function tableRefOf(node: Element | null): ITableRef | null {
  const item = node?.closest<HTMLElement>(`.${TABLE_ITEM_CLASS}`);
  const database = item?.dataset.database;
  const name = item?.dataset.table;
  return database !== undefined && name !== undefined
    ? { database, name }
    : null;
}

/**
 * What every catalog widget is built with.
 */
export interface ICatalogWidgetOptions {
  /** The catalog model (shared with the commands). */
  model: CatalogModel;
  /** Table actions (notebook insertion, clipboard, refresh). */
  actions: ICatalogActions;
  /** Translations of the widget's strings. */
  trans: TranslationBundle;
}
