import { type ICommandPalette } from '@jupyterlab/apputils';
import { type ILauncher } from '@jupyterlab/launcher';
import { type TranslationBundle } from '@jupyterlab/translation';
import { type ReadonlyPartialJSONObject } from '@lumino/coreutils';

/**
 * Launcher section rank: after "Notebook" (0) and "Console" (20), before "Other" (100).
 */
export const LAUNCHER_CATEGORY_RANK = 50;

/**
 * Whether a command is being rendered by the launcher.
 */
export function isLauncher(args: ReadonlyPartialJSONObject): boolean {
  return args['isLauncher'] === true;
}

/**
 * Whether a command is being rendered by the command palette (no icon there).
 */
export function isPalette(args: ReadonlyPartialJSONObject): boolean {
  return args['isPalette'] === true;
}

/**
 * The launcher section and palette category of every plugin: "ML Platform".
 */
export function categoryLabel(trans: TranslationBundle): string {
  return trans.__('ML Platform');
}

/**
 * Add a feature's card to the "ML Platform" launcher section (at `rank`) and
 * its commands to the palette category of the same name.
 */
export function addLauncherAndPaletteItems(
  trans: TranslationBundle,
  launcher: ILauncher | null,
  palette: ICommandPalette | null,
  items: { card: string; rank: number; palette: string[] }
): void {
  const category = categoryLabel(trans);
  launcher?.add({
    command: items.card,
    category,
    categoryRank: LAUNCHER_CATEGORY_RANK,
    rank: items.rank,
    args: { isLauncher: true }
  });
  for (const command of items.palette) {
    palette?.addItem({ command, category, args: { isPalette: true } });
  }
}
