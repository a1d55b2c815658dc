import { parseLabelSelector, SelectorError } from '../../model/label-selector.js';
import type { Kind } from '../../model/types.js';
import { CliError, type ApiClient } from '../api-client.js';
import { EXIT } from '../exit-codes.js';

// `luma delete KIND -l SELECTOR`: the objects of a kind whose labels match, found with the
// list call `get -l` uses. The selector is checked here first, so that a typo is a usage
// error (exit 2) before anything is asked; an empty one is refused, since it would select
// every object of the kind.

export async function selectedTargets(
  api: ApiClient,
  kind: Kind,
  selector: string,
): Promise<Array<{ kind: Kind; name: string }>> {
  if (selector.trim() === '')
    throw new CliError('-l needs a selector such as app=web; an empty one would delete every object', EXIT.usage);
  try {
    parseLabelSelector(selector);
  } catch (error) {
    if (error instanceof SelectorError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
  const { items } = await api.list(kind, { labelSelector: selector });
  return items.map((object) => ({ kind, name: object.metadata.name }));
}
