/**
 * The operator's token lives in sessionStorage: it survives a reload of the
 * tab, and goes with the tab (never shared with other tabs, never left on
 * disk after the browser closes).
 */
const KEY = 'mosaic.operator-token';

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
