// Kernel self-test: every compute kernel (and variant) the engine could run on a device,
// on small random problems, against the CPU loops of engine/ref. What a user with an
// unusual GPU runs first (`vitscope-cli selftest`), and what the doctest suite runs on
// lavapipe under every kernel family it can run.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ops/linear.h"
#include "vk/context.h"

namespace vitscope {

struct SelftestResult {
  std::string kernel;  // e.g. "linear tiled-m fp16 weights"
  std::string shapes;  // the problems tried, e.g. "37x50x44 gelu; 70x96x64 tanh+ls+res"
  double max_error = 0;  // largest |device - reference| over every output of every problem
  double tolerance = 0;  // the tolerance at the output that came closest to its bound
  bool ok = true;
  bool skipped = false;  // not run: the device cannot (error says why)
  std::string error;  // what was thrown, if the kernel could not run
};

// Weights and arithmetic of a linear test.
enum class SelftestPrecision { F32, F16Weights, F16Math };

struct LinearSelftest {
  ops::LinearKernel kernel = ops::LinearKernel::Portable;
  SelftestPrecision precision = SelftestPrecision::F32;
  bool packed = false;     // weights packed for the texel kernel
  bool fused_ln = false;   // LayerNorm fused into the read of x (texel kernel)
  std::optional<vk::CoopmatShape> coopmat_shape;  // CoopmatEmulated: the fragment shape
};

// One linear kernel variant on four problems (every epilogue: bias, each activation, LayerScale,
// alpha, residual add; strided x and y; partial tiles). fp16 weights are compared with the
// reference on the same rounded weights; fp16 arithmetic within 16 fp16 roundings per K
// slice of sum |x w|; cooperative matrices (fp16 x and W, fp32 sums) with the reference on
// rounded x and W.
SelftestResult selftest_linear(vk::Context& ctx, const LinearSelftest& t);

// Every kernel the device would use under its kernel family (ctx.info().kernels; auto: every
// variant it can run): linear, LayerNorm, attention, patch embedding and tokens, pooling and
// softmax. `on_result` sees each line as it is finished.
std::vector<SelftestResult> run_selftest(vk::Context& ctx,
                                         const std::function<void(const SelftestResult&)>& on_result = {});

}  // namespace vitscope
