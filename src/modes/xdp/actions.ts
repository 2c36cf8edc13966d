// XDP actions by name, as xdpcap and `--actions` spell them: the hook map's
// keys (enum xdp_action, include/uapi/linux/bpf.h).
import { closeNames, UserError } from '../../errors';

/** Index = the action's value = its key in an xdpcap hook map. */
export const XDP_ACTION_NAMES = ['aborted', 'drop', 'pass', 'tx', 'redirect'] as const;
export type XdpActionName = (typeof XDP_ACTION_NAMES)[number];

export function actionName(action: number): string {
  return XDP_ACTION_NAMES[action] ?? `action ${action}`;
}

/**
 * `--actions drop,tx` -> [1, 3] (sorted, without repeats); undefined or ''
 * -> undefined (every action the hook has). Unknown names are UserErrors.
 */
export function parseActions(text: string | undefined): number[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const actions = new Set<number>();
  for (const word of text.split(',').map((w) => w.trim().toLowerCase())) {
    if (word === '') continue;
    if (word === 'all') return undefined;
    const i = (XDP_ACTION_NAMES as readonly string[]).indexOf(word);
    if (i < 0) {
      const near = closeNames(word, XDP_ACTION_NAMES);
      throw new UserError(`--actions: unknown XDP action "${word}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`, `actions are ${XDP_ACTION_NAMES.join(', ')} (or all), comma-separated`);
    }
    actions.add(i);
  }
  if (actions.size === 0) throw new UserError('--actions names no action', `e.g. --actions drop,tx (of ${XDP_ACTION_NAMES.join(', ')})`);
  return [...actions].sort((a, b) => a - b);
}
