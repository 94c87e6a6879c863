/** The database outlives any key: a URL's `user:pass@` is dropped, whoever passed it in. */
export function withoutCredentials(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return baseUrl.replace(/\/\/[^/@\s]*@/, '//');
  }
  if (url.username === '' && url.password === '') return baseUrl;
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/+$/, '');
}
