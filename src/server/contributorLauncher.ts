// `--contributors N`: N headless Chromium contributors on this machine, so a job runs
// unattended on a server. Each opens the contributor page and presses its consent button,
// exactly as a visitor would: the page has no way to start without that click.

import { createHash, X509Certificate } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';

export interface LaunchedContributors {
  pages: Page[];
  close(): Promise<void>;
}

/**
 * Chromium's flag that trusts one certificate's key, as a browser trusts a certificate its
 * owner installed (not "ignore all certificate errors"): the base64 SHA-256 of its SPKI.
 */
export function trustCertificateFlag(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `--ignore-certificate-errors-spki-list=${createHash('sha256').update(spki).digest('base64')}`;
}

export async function launchContributors(url: string, count: number, log: (line: string) => void, options: { trustCertificate?: string } = {}): Promise<LaunchedContributors> {
  const args = [...chromiumArgs(), ...(options.trustCertificate ? [trustCertificateFlag(options.trustCertificate)] : [])];
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath(), args, headless: true });
  const pages: Page[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const name = `contributor ${i + 1}`;
      page.on('pageerror', (error) => log(`[${name}] page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') log(`[${name}] ${message.text()}`);
      });
      await page.goto(url);
      await page.getByRole('button', { name: /donate my gpu/i }).click();
      pages.push(page);
      log(`[${name}] started`);
    }
  } catch (error) {
    await browser.close();
    throw new Error(`Could not start local contributors: ${(error as Error).message}`);
  }
  return { pages, close: () => browser.close() };
}
