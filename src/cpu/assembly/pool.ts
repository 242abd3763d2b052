// Max and average pooling over NCHW planes, no padding, forward and backward. A call covers
// whole planes (one (n, c) image channel each); windows never leave their plane, so a
// thread that owns a plane owns every value its backward adds into.
//   maxpool  y = the window's first maximum (ky, then kx order; strict >, as the reference),
//            argmax = its flat input index (over the whole batch); dx[argmax] += dy
//   avgpool  y = (Σ window, in order) / area; dx[window] += dy / area
// Backwards zero their planes of dx, then add the outputs in increasing output order: the
// reference's order, and the same bits whatever the split into planes.

// @ts-ignore: decorator
@inline function outSize(n: i32, k: i32, s: i32): i32 {
  return (n - k) / s + 1;
}

/** y and argmax (i32 flat input indices) for planes [plane0, plane1). */
export function maxpool2dForward(x: usize, y: usize, argmax: usize, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, plane0: i32, plane1: i32): void {
  const oh = outSize(h, kh, sh);
  const ow = outSize(w, kw, sw);
  for (let plane = plane0; plane < plane1; plane++) {
    const base = plane * h * w;
    let out = <usize>plane * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const corner = base + oy * sh * w + ox * sw;
        let best = corner;
        let bestValue = load<f32>(x + <usize>corner * 4);
        for (let ky = 0; ky < kh; ky++) {
          const rowAt = corner + ky * w;
          for (let kx = 0; kx < kw; kx++) {
            const v = load<f32>(x + <usize>(rowAt + kx) * 4);
            if (v > bestValue) {
              bestValue = v;
              best = rowAt + kx;
            }
          }
        }
        store<f32>(y + out * 4, bestValue);
        store<i32>(argmax + out * 4, best);
        out++;
      }
    }
  }
}

/** dx for planes [plane0, plane1), overwritten: each output's dy added at its argmax. */
export function maxpool2dBackward(dy: usize, argmax: usize, dx: usize, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, plane0: i32, plane1: i32): void {
  const oh = outSize(h, kh, sh);
  const ow = outSize(w, kw, sw);
  const planeIn = <usize>h * w;
  const planeOut = <usize>oh * ow;
  if (plane1 <= plane0) return;
  memory.fill(dx + <usize>plane0 * planeIn * 4, 0, <usize>(plane1 - plane0) * planeIn * 4);
  const end = <usize>plane1 * planeOut;
  for (let out = <usize>plane0 * planeOut; out < end; out++) {
    const at = dx + <usize>load<i32>(argmax + out * 4) * 4;
    store<f32>(at, load<f32>(at) + load<f32>(dy + out * 4));
  }
}

/** y for planes [plane0, plane1): the window's sum in (ky, kx) order, divided by its area. */
export function avgpool2dForward(x: usize, y: usize, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, plane0: i32, plane1: i32): void {
  const oh = outSize(h, kh, sh);
  const ow = outSize(w, kw, sw);
  const area = <f32>(kh * kw);
  for (let plane = plane0; plane < plane1; plane++) {
    const base = x + <usize>plane * h * w * 4;
    let out = y + <usize>plane * oh * ow * 4;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const corner = base + (<usize>oy * sh * w + <usize>ox * sw) * 4;
        let sum: f32 = 0;
        for (let ky = 0; ky < kh; ky++) {
          const row = corner + <usize>ky * w * 4;
          for (let kx = 0; kx < kw; kx++) sum += load<f32>(row + <usize>kx * 4);
        }
        store<f32>(out, sum / area);
        out += 4;
      }
    }
  }
}

/** dx for planes [plane0, plane1), overwritten: dy / area added over each window. */
export function avgpool2dBackward(dy: usize, dx: usize, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, plane0: i32, plane1: i32): void {
  const oh = outSize(h, kh, sh);
  const ow = outSize(w, kw, sw);
  const area = <f32>(kh * kw);
  const planeIn = <usize>h * w;
  if (plane1 <= plane0) return;
  memory.fill(dx + <usize>plane0 * planeIn * 4, 0, <usize>(plane1 - plane0) * planeIn * 4);
  for (let plane = plane0; plane < plane1; plane++) {
    const base = dx + <usize>plane * planeIn * 4;
    let from = dy + <usize>plane * oh * ow * 4;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const g = load<f32>(from) / area;
        const corner = base + (<usize>oy * sh * w + <usize>ox * sw) * 4;
        for (let ky = 0; ky < kh; ky++) {
          const row = corner + <usize>ky * w * 4;
          let kx = 0;
          // Four taps of a row at once: distinct inputs, the same adds as one by one.
          for (; kx + 4 <= kw; kx += 4) v128.store(row + <usize>kx * 4, f32x4.add(v128.load(row + <usize>kx * 4), f32x4.splat(g)));
          for (; kx < kw; kx++) store<f32>(row + <usize>kx * 4, load<f32>(row + <usize>kx * 4) + g);
        }
        from += 4;
      }
    }
  }
}
