import { DatabaseUrlError } from '../../connect/database-url-error.js';
import { isTargetSessionAttrs, targetSessionAttrsValues } from '../../connect/target-session-attrs.js';

/**
 * Checks a query parameter the connection layer reads for every driver (`target_session_attrs`,
 * `load_balance_hosts`); it is not handed to the driver. Errors name the parameter, never its value.
 */
export function connectLayerParameter(key: string, value: string, position: number): void {
  if (key === 'target_session_attrs' && !isTargetSessionAttrs(value)) {
    throw new DatabaseUrlError(
      `Expected the query parameter \`target_session_attrs\` (parameter ${position}) of the database URL to be ${targetSessionAttrsValues.join(', ')}`,
    );
  }
  if (key === 'load_balance_hosts' && value !== 'disable' && value !== 'random') {
    throw new DatabaseUrlError(
      `Expected the query parameter \`load_balance_hosts\` (parameter ${position}) of the database URL to be disable or random`,
    );
  }
}
