import { serverLogger as commonServerLogger } from '@argon/common/logger';
import type { Logger } from 'pino';

/** `plinth serve` logs as every server of the platform does (see @argon/common/logger). */
export { logTransport } from '@argon/common/logger';

export const serverLogger = (): Logger => commonServerLogger('plinth');
