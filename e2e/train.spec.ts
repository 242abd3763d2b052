// The local training page: a person opens it, sees their device, presses Train, and gets a
// model that classifies Fashion-MNIST, with no network involved.
import { expect, test } from '@playwright/test';

test('trains Fashion-MNIST locally on this GPU and reports test accuracy', async ({ page }) => {
  await page.goto('/train.html');
  await expect(page.locator('#device-facts')).toContainText('Self-test');
  await expect(page.locator('#device-facts')).toContainText('Matmul kernel');
  await expect(page.getByRole('button', { name: 'Train' })).toBeEnabled({ timeout: 120_000 });
  await page.getByLabel('Training examples').fill('10000');
  await page.getByLabel('Epochs').fill('1');
  await page.getByRole('button', { name: 'Train' }).click();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeEnabled();
  await page.waitForFunction(() => window.swarmgradLocalRun?.state === 'done' || window.swarmgradLocalRun?.state === 'failed', null, {
    timeout: 300_000,
  });
  const run = await page.evaluate(() => window.swarmgradLocalRun!);
  expect(run.error).toBeUndefined();
  expect(run.summary!.steps).toBe(79);
  // One epoch over 10k examples: ~80% on the full 10k test set (measured 80.7%).
  expect(run.summary!.testAccuracy).toBeGreaterThanOrEqual(0.78);
  await expect(page.locator('#train-status')).toContainText('test accuracy');
  await expect(page.locator('#chart canvas')).toHaveCount(1);
});
