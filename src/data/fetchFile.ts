// Fetching a dataset's files from the coordinator in a page or worker, with errors that say
// which URL failed and why.

/** `baseUrl` as an absolute directory URL (ending in '/'), resolved against the page; `what` names the dataset in errors. */
export function datasetBaseUrl(baseUrl: string, what: string): string {
  const pageUrl = globalThis.location?.href;
  if (!pageUrl && !URL.canParse(baseUrl)) {
    throw new Error(`${what} base URL "${baseUrl}" is relative but there is no page to resolve it against; pass an absolute URL`);
  }
  return new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, pageUrl).href;
}

/** The bytes at `url`; a network failure or an HTTP error status is an Error naming the URL. */
export async function fetchDatasetFile(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`Could not fetch ${url}: ${(error as Error).message}; is the server running and serving the dataset?`);
  }
  if (!response.ok) throw new Error(`Could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}
