// A contributor's dataset from the coordinator, in the format the job names (JobInfo.dataset).

import type { DatasetFormat, DatasetSplits } from './dataset.ts';
import { loadFashionMnistFromUrl } from './fashionMnist.ts';
import { loadU8DatasetFromUrl } from './swarmgradU8.ts';

const LOADERS: { [F in DatasetFormat]: (baseUrl: string) => Promise<DatasetSplits> } = {
  'fashion-mnist-idx-gz': loadFashionMnistFromUrl,
  'swarmgrad-u8': loadU8DatasetFromUrl,
};

export function loadDatasetFromUrl(baseUrl: string, format: DatasetFormat): Promise<DatasetSplits> {
  const load = LOADERS[format];
  if (!load) return Promise.reject(new Error(`Dataset format ${JSON.stringify(format)} is not one this page reads (${Object.keys(LOADERS).join(', ')}); reload the page`));
  return load(baseUrl);
}
