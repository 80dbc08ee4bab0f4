import { Notification } from '@jupyterlab/apputils';

import { errorMessage } from './api';

/**
 * Run a panel action; a failure becomes an error notification
 * "`failure`: the server's message".
 */
export async function notifyFailure(
  failure: string,
  run: () => Promise<unknown>
): Promise<void> {
  try {
    await run();
  } catch (error) {
    Notification.error(`${failure}: ${errorMessage(error)}`, {
      autoClose: 8000
    });
  }
}
