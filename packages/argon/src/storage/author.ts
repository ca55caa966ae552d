import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who the writes of the current operation are made by, recorded with each batch in the change
 * log. Set by the command layer around a command (`writeAuthor.run(who, …)`) so that every write
 * path, however deep, is attributed without threading a parameter through each of them.
 */
export const writeAuthor = new AsyncLocalStorage<string>();
