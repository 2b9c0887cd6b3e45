/**
 * `/me waves` is an action: the text is stored as typed, so a client that does not know the
 * convention still shows something sensible, and every Chatter client renders it as
 * "* alice waves". One rule here, so the web app and the terminal agree.
 */
export const ME_PREFIX = '/me ';

/** The action of an action message ("waves" for "/me waves"), or undefined for an ordinary one. */
export function actionText(text: string): string | undefined {
  if (!text.startsWith(ME_PREFIX)) return undefined;
  const action = text.slice(ME_PREFIX.length).trim();
  return action === '' ? undefined : action;
}

export function isAction(text: string): boolean {
  return actionText(text) !== undefined;
}
