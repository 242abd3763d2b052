// The MLP suite's row names: the table shows them and the checks find rows by them.

export const MLP_SUITE_ID = 'mlp';
/** The micro-batch the bars are stated for. */
export const MLP_BATCH = 128;
export const TRAINING_NAME = `training examples/s, batch ${MLP_BATCH} (trainStep)`;
export const SUBMITS_NAME = `GPU submits per ${MLP_BATCH}-example forward+backward`;
export const READBACKS_NAME = `readbacks per ${MLP_BATCH}-example forward+backward`;
