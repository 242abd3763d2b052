// Every WGSL file, imported as text in one place (Vite's ?raw). Kernels render these
// templates; nothing else in the code base holds WGSL.

import gelu from '../../shaders/gelu.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import matmulReference from '../../shaders/matmul_reference.wgsl?raw';
import activation from '../../shaders/activation.wgsl?raw';
import reduce from '../../shaders/reduce.wgsl?raw';
import softmaxXent from '../../shaders/softmax_xent.wgsl?raw';
import optimizer from '../../shaders/optimizer.wgsl?raw';
import gather from '../../shaders/gather.wgsl?raw';
import conv2d from '../../shaders/conv2d.wgsl?raw';
import pool from '../../shaders/pool.wgsl?raw';
import layernorm from '../../shaders/layernorm.wgsl?raw';
import dropout from '../../shaders/dropout.wgsl?raw';
import residual from '../../shaders/residual.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import embedding from '../../shaders/embedding.wgsl?raw';

export const WGSL = { gelu, matmul, matmulReference, activation, reduce, softmaxXent, optimizer, gather, conv2d, pool, layernorm, dropout, residual, attention, embedding };
