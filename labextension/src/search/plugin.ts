import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { categoryLabel, isPalette } from '../common/launcher';
import { notifyFailure } from '../common/notify';
import { type MLflowWidget } from '../mlflow/widget';
import {
  CommandIDs,
  type ISearchResult,
  type ISearchTarget,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { searchPanelIcon } from './icons';
import { SearchModel } from './model';
import { SearchPanel } from './panel';

/**
 * Search plugin: the "Search" side panel (one query over models, versions,
 * runs, reports, pipelines, deployments, tables and columns), the palette
 * command "Search Everything" that focuses it, and the command that opens a
 * result in its own panel.
 */
export const searchPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.search,
  description:
    'Search side panel: one query language over models, runs, reports, pipelines, deployments and tables; each result opens its panel.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const { commands, shell } = app;
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new SearchModel({ translator });

    const openTarget = async (target: ISearchTarget): Promise<void> => {
      switch (target.panel) {
        case 'models':
          await commands.execute(CommandIDs.modelsOpenVersion, {
            model: target.model ?? '',
            ...(target.version ? { version: target.version } : {})
          });
          return;
        case 'catalog': {
          const [database, ...rest] = (target.table ?? '').split('.');
          await commands.execute(CommandIDs.openCatalog);
          await commands.execute(CommandIDs.catalogShowDetails, {
            database,
            table: rest.join('.')
          });
          return;
        }
        case 'pipelines':
          await commands.execute(CommandIDs.pipelinesOpenPipeline, {
            name: target.name ?? '',
            ...(target.run ? { run: target.run } : {})
          });
          return;
        case 'mlflow': {
          const widget = (await commands.execute(
            CommandIDs.openMLflow
          )) as MLflowWidget;
          widget.content.url = PageConfig.getBaseUrl() + (target.path ?? '');
          return;
        }
        default:
          if (target.path) {
            window.open(PageConfig.getBaseUrl() + target.path, '_blank');
          }
      }
    };
    const open = (result: ISearchResult): void => {
      void notifyFailure(trans.__('Could not open %1', result.title), () =>
        openTarget(result.target)
      );
    };

    const panel = new SearchPanel({ model, open, trans });
    shell.add(panel, 'left', { rank: 910 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    commands.addCommand(CommandIDs.openSearch, {
      label: trans.__('Search Everything'),
      caption: trans.__(
        'Search models, runs, reports, pipelines, deployments and tables'
      ),
      icon: args => (isPalette(args) ? undefined : searchPanelIcon),
      execute: () => {
        shell.activateById(panel.id);
        panel.focusInput();
      }
    });
    commands.addCommand(CommandIDs.searchOpenResult, {
      label: trans.__('Open Search Result'),
      caption: trans.__('Open a search result in its panel'),
      execute: args => {
        const target = args['target'];
        if (target && typeof target === 'object' && !Array.isArray(target)) {
          return openTarget(target as unknown as ISearchTarget);
        }
        return Promise.resolve();
      }
    });
    palette?.addItem({
      command: CommandIDs.openSearch,
      category: categoryLabel(trans)
    });
  }
};
