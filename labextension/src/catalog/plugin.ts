import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { type ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { errorMessage } from '../common/api';
import {
  addLauncherAndPaletteItems,
  isLauncher,
  isPalette
} from '../common/launcher';
import { lineageActions } from '../lineage/actions';
import { LineageModel } from '../lineage/api';
import {
  CommandIDs,
  IStatusModel,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { type ICatalogActions, TABLE_ITEM_CLASS, tableRefOf } from './actions';
import { catalogIcon } from './icons';
import {
  CatalogModel,
  type ITableRef,
  qualifiedName,
  sqlSnippet,
  tableSnippet
} from './model';
import { enableCatalogDrops, insertCodeBelowActiveCell } from './notebook';
import { CatalogPanel } from './panel';

/**
 * A table given as command arguments (`database`, `table`), if any.
 */
function tableFromArgs(args: ReadonlyPartialJSONObject): ITableRef | null {
  const { database, table } = args;
  return typeof database === 'string' && typeof table === 'string'
    ? { database, name: table }
    : null;
}

/**
 * Data catalog plugin: "Data Catalog" side panel (search, lazy tree, details
 * and preview, progress of the server's refresh), table commands (insert
 * snippet/SQL, copy name) with a tree context menu, drag-and-drop into
 * notebooks, launcher card and palette items.
 */
export const catalogPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.catalog,
  description:
    'Data catalog side panel: search and browse datalake databases, tables and columns, preview data and insert code into notebooks.',
  autoStart: true,
  optional: [
    INotebookTracker,
    ILayoutRestorer,
    ILauncher,
    ICommandPalette,
    ITranslator,
    IStatusModel
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    statusModel: IStatusModel | null
  ): void => {
    const { commands, shell } = app;
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new CatalogModel({ translator });

    const actions: ICatalogActions = {
      insertSnippet: ref => {
        insertCodeBelowActiveCell(app, tracker, tableSnippet(ref), trans);
      },
      insertSQL: ref => {
        insertCodeBelowActiveCell(app, tracker, sqlSnippet(ref), trans);
      },
      copyName: ref => {
        const name = qualifiedName(ref);
        Clipboard.copyToSystem(name);
        Notification.info(trans.__('Copied "%1" to the clipboard', name), {
          autoClose: 2500
        });
      },
      refresh: () => {
        void commands.execute(CommandIDs.refreshCatalog);
      }
    };

    const lineage = new LineageModel({ translator });
    const panel = new CatalogPanel({
      model,
      actions,
      trans,
      lineage: {
        lineage,
        actions: lineageActions(app, lineage, statusModel, trans)
      }
    });
    shell.add(panel, 'left', { rank: 910 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    if (tracker) {
      enableCatalogDrops(tracker);
    }

    commands.addCommand(CommandIDs.openCatalog, {
      label: args =>
        isLauncher(args)
          ? trans.__('Data Catalog')
          : trans.__('Open Data Catalog'),
      caption: trans.__('Browse and search the datalake catalog'),
      icon: args => (isPalette(args) ? undefined : catalogIcon),
      execute: () => {
        shell.activateById(panel.id);
        return model.loadDatabases();
      }
    });

    commands.addCommand(CommandIDs.catalogOpenTable, {
      label: trans.__('Show Table in Data Catalog'),
      caption: trans.__('Reveal a table, its details and its lineage'),
      execute: args => {
        const [database, ...rest] =
          typeof args.table === 'string' ? args.table.split('.') : [];
        const ref =
          database && rest.length > 0
            ? { database, name: rest.join('.') }
            : tableFromArgs({ database: args.database, table: args.name });
        if (!ref) {
          return;
        }
        shell.activateById(panel.id);
        panel.reveal(ref);
      }
    });

    commands.addCommand(CommandIDs.refreshCatalog, {
      label: trans.__('Refresh Data Catalog'),
      caption: trans.__(
        'Re-read the catalog on the server in the background, then reload the panel'
      ),
      icon: args => (isPalette(args) ? undefined : refreshIcon),
      execute: async () => {
        try {
          const job = await model.refresh();
          if (job.state === 'failed') {
            Notification.error(
              trans.__('Could not refresh the catalog: %1', job.message),
              { autoClose: 8000 }
            );
            return;
          }
          if (model.databases.status === 'error' || !job.result) {
            return; // The panel shows why the reload failed.
          }
          const { databases, tables, took_ms } = job.result;
          const summary = trans.__(
            'Catalog refreshed: %1 databases, %2 tables',
            databases,
            tables
          );
          const took =
            typeof took_ms === 'number'
              ? ` ${trans.__('in %1 s', (took_ms / 1000).toFixed(1))}`
              : '';
          Notification.success(summary + took, { autoClose: 3000 });
        } catch (error) {
          Notification.error(
            trans.__('Could not refresh the catalog: %1', errorMessage(error)),
            { autoClose: 8000 }
          );
        }
      }
    });

    // Table commands: from arguments, else the table under the context menu,
    // else the selected table.
    const targetTable = (args: ReadonlyPartialJSONObject): ITableRef | null =>
      tableFromArgs(args) ??
      tableRefOf(
        app.contextMenuHitTest(node =>
          node.classList.contains(TABLE_ITEM_CLASS)
        ) ?? null
      ) ??
      model.selected;

    const tableCommands: [string, string, (ref: ITableRef) => void][] = [
      [
        CommandIDs.catalogShowDetails,
        trans.__('Show Details'),
        ref => model.select(ref)
      ],
      [
        CommandIDs.catalogInsertSnippet,
        trans.__('Insert Snippet in Notebook'),
        actions.insertSnippet
      ],
      [
        CommandIDs.catalogInsertSQL,
        trans.__('Insert SQL in Notebook'),
        actions.insertSQL
      ],
      [
        CommandIDs.catalogCopyName,
        trans.__('Copy Qualified Name'),
        actions.copyName
      ]
    ];
    tableCommands.forEach(([id, label, run], rank) => {
      commands.addCommand(id, {
        label,
        isEnabled: args => targetTable(args) !== null,
        execute: args => {
          const ref = targetTable(args);
          if (ref) {
            run(ref);
          }
        }
      });
      app.contextMenu.addItem({
        command: id,
        selector: `.${TABLE_ITEM_CLASS}`,
        rank
      });
    });

    addLauncherAndPaletteItems(trans, launcher, palette, {
      card: CommandIDs.openCatalog,
      rank: 3,
      palette: [CommandIDs.openCatalog, CommandIDs.refreshCatalog]
    });
  }
};
