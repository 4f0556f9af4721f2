#include "ops/linear.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace vitscope::ops {

namespace {

struct Push {
  uint32_t M, N, K, lda, ldw, ldy;
  float alpha;
  float eps;  // fused LayerNorm (texel kernel)
};

constexpr uint32_t kRowsPerSubgroup = 8;  // RM in linear_texel.comp

struct Tile {
  uint32_t bm, bn, bk, tm, tn;
  uint32_t threads() const { return (bm / tm) * (bn / tn); }
};
// ggml-style tile sets for linear_tiled.comp.
constexpr Tile kSmall{32, 32, 16, 4, 2}, kMedium{64, 64, 16, 4, 4}, kLarge{128, 128, 16, 8, 8};

// Tiles of linear_coopmat.comp: BM x BN per workgroup of 4 subgroups, each owning a WM x WN
// block (WM / fragment rows x WN / fragment columns accumulators), K staged BK at a time.
struct CoopTile {
  uint32_t bm, bn, wm, wn;
};
constexpr CoopTile kCoopSmall{64, 64, 32, 32}, kCoopLarge{128, 128, 64, 64};
constexpr uint32_t kCoopBK = 32, kCoopSkew = 8;  // x and W rows in shared memory: BK + 8 halves apart

uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

const CoopTile& coop_tile(uint32_t M, uint32_t N) {
  return ceil_div(M, kCoopLarge.bm) * ceil_div(N, kCoopLarge.bn) >= 64 ? kCoopLarge : kCoopSmall;
}

uint32_t coop_shared_bytes(const CoopTile& t, const vk::CoopmatShape& s) {
  return (t.bm + t.bn) * (kCoopBK + kCoopSkew) * 2 + 4 * s.m * s.n * 4;
}

bool shape_tiles(const vk::CoopmatShape& s) {
  return s.m && s.n && s.k && 32 % s.m == 0 && 32 % s.n == 0 && 32 % s.k == 0;
}

const Tile& tile_of(LinearKernel k) {
  return k == LinearKernel::TiledSmall ? kSmall : k == LinearKernel::TiledLarge ? kLarge : kMedium;
}

}  // namespace

const char* linear_kernel_name(LinearKernel k) {
  switch (k) {
    case LinearKernel::Auto: return "auto";
    case LinearKernel::Portable: return "portable";
    case LinearKernel::Texel: return "texel";
    case LinearKernel::TiledSmall: return "tiled-s";
    case LinearKernel::TiledMedium: return "tiled-m";
    case LinearKernel::TiledLarge: return "tiled-l";
    case LinearKernel::Coopmat: return "coopmat";
    case LinearKernel::CoopmatEmulated: return "coopmat-emulated";
  }
  return "?";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::Gelu: return "gelu";
    case Activation::Tanh: return "tanh";
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::Relu: return "relu";
  }
  return "?";
}

Activation mlp_activation(const std::string& hidden_act) {
  for (Activation a : {Activation::Gelu, Activation::GeluTanh, Activation::Relu})
    if (hidden_act == activation_name(a)) return a;
  throw Error("activation '" + hidden_act + "' is not supported (gelu, gelu_tanh or relu)");
}

uint32_t linear_weight_group(const vk::DeviceInfo& d, const LinearArgs& a) {
  // On CPU devices choose_linear_kernel takes the Texel kernel whenever it can run the layer.
  LinearArgs row_major = a;
  row_major.w_group = 0;
  const bool texel = d.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU && d.kernels == vk::KernelFamily::Auto &&
                     linear_kernel_supported(d, row_major, LinearKernel::Texel);
  return texel ? 4 * d.subgroup_size : 0;
}

uint64_t packed_weight_elements(uint32_t N, uint32_t K, uint32_t G) { return uint64_t(ceil_div(N, G)) * G * K; }

void pack_weight_group(const float* rows, uint32_t K, uint32_t G, float* out) {
  const uint32_t lanes = G / 4;
  for (uint32_t c = 0; c < G; ++c) {
    const uint32_t slot = (c % 4) * lanes + c / 4;
    for (uint32_t k4 = 0; k4 < K / 4; ++k4)
      std::memcpy(out + (uint64_t(k4) * G + slot) * 4, rows + uint64_t(c) * K + 4 * k4, 4 * sizeof(float));
  }
}

bool linear_kernel_supported(const vk::DeviceInfo& d, const LinearArgs& a, LinearKernel k) {
  uint32_t lda = a.lda ? a.lda : a.K, ldw = a.ldw ? a.ldw : a.K;
  const bool f16 = a.w_format == WeightFormat::F16;
  if (a.math_f16 && !f16) return false;
  if ((a.ln || a.w_group) && k != LinearKernel::Texel && k != LinearKernel::Auto) return false;
  switch (k) {
    case LinearKernel::Auto: return true;
    case LinearKernel::Portable:
      return !a.math_f16 && (!f16 || d.fp16_storage) && d.max_workgroup_invocations >= 256;
    case LinearKernel::Texel: {
      if (a.math_f16 || (f16 && !d.fp16_texel)) return false;
      uint32_t sg = d.subgroup_size;
      bool sg_ok = d.subgroup_ballot && (sg == 4 || sg == 8 || sg == 16) &&
                   sg * 4 <= d.max_workgroup_invocations;
      uint64_t align = std::max<uint64_t>(16, d.min_texel_offset_alignment);
      bool ln_ok =
          !a.ln || (d.subgroup_arithmetic && a.ln->gamma.aligned_to(align) && a.ln->beta.aligned_to(align));
      bool w_ok = a.w_group ? a.w_group == 4 * sg : ldw % 4 == 0;
      return sg_ok && ln_ok && w_ok && a.K % 4 == 0 && lda % 4 == 0 && a.x.aligned_to(align) && a.w.aligned_to(align);
    }
    case LinearKernel::TiledSmall:
    case LinearKernel::TiledMedium:
    case LinearKernel::TiledLarge:
      if (f16 && !d.fp16_storage) return false;
      if (a.math_f16 && !d.fp16_arithmetic) return false;
      return tile_of(k).threads() <= d.max_workgroup_invocations;
    case LinearKernel::Coopmat: {
      // fp16 x fp16 -> fp32 fragments: fp16 arithmetic is at least as exact as math_f16 asks.
      if (f16 && !d.fp16_storage) return false;
      auto c = vk::coopmat_config(d);
      return c && coop_shared_bytes(coop_tile(a.M, a.N), c->shape) <= d.max_shared_memory;
    }
    case LinearKernel::CoopmatEmulated: {
      if ((f16 && !d.fp16_storage) || !d.fp16_arithmetic || !a.coopmat_shape || !shape_tiles(*a.coopmat_shape))
        return false;
      const vk::CoopmatShape& s = *a.coopmat_shape;
      const uint32_t sg = d.subgroup_size;
      return sg && (s.m * s.n) % sg == 0 && 4 * sg <= d.max_workgroup_invocations &&
             coop_shared_bytes(coop_tile(a.M, a.N), s) <= d.max_shared_memory;
    }
  }
  return false;
}

namespace {
// Columns per lane of the texel kernel: 16 measured ~20% faster than 8 on lavapipe (fewer x
// broadcasts per W fetch); narrow outputs (heads) take fewer so that fewer lanes idle.
uint32_t texel_columns(uint32_t sg, uint32_t N) { return N <= sg * 4 ? 4u : N <= sg * 8 ? 8u : 16u; }
}  // namespace

bool linear_fuses_layernorm(const vk::DeviceInfo& d, const LinearArgs& a) {
  if (!a.ln || !linear_kernel_supported(d, a, LinearKernel::Texel)) return false;
  LinearArgs plain = a;  // only where the texel kernel would run this layer anyway (CPU devices)
  plain.ln.reset();
  if (choose_linear_kernel(d, plain) != LinearKernel::Texel) return false;
  const uint32_t sg = d.subgroup_size;
  return ceil_div(a.N, sg * texel_columns(sg, a.N)) <= 8;
}

LinearKernel choose_linear_kernel(const vk::DeviceInfo& d, const LinearArgs& a) {
  if (a.kernel != LinearKernel::Auto) return a.kernel;
  if (a.ln || a.w_group) return LinearKernel::Texel;  // the only one that can; linear() reports what is missing
  switch (d.kernels) {
    case vk::KernelFamily::Portable: return LinearKernel::Portable;
    case vk::KernelFamily::Coopmat:
      if (linear_kernel_supported(d, a, LinearKernel::Coopmat)) return LinearKernel::Coopmat;
      break;  // what it cannot take goes to the tiles
    case vk::KernelFamily::Tiled: break;
    case vk::KernelFamily::Auto: break;
  }
  if (d.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU && d.kernels == vk::KernelFamily::Auto) {
    // Shared memory is emulated on CPU drivers and tiling through it is ~50x slower there.
    // Only fp16 arithmetic, which just the tiled kernel has, ends up there.
    for (LinearKernel t : {LinearKernel::Texel, LinearKernel::Portable, LinearKernel::TiledSmall})
      if (linear_kernel_supported(d, a, t)) return t;
    return LinearKernel::Texel;  // linear() reports what is missing
  }
  // GPUs: the largest tile that still gives the device enough workgroups to fill it.
  LinearKernel k;
  if (ceil_div(a.M, kLarge.bm) * ceil_div(a.N, kLarge.bn) >= 64)
    k = LinearKernel::TiledLarge;
  else if (a.M > 32 && a.N > 32 && ceil_div(a.M, kMedium.bm) * ceil_div(a.N, kMedium.bn) >= 16)
    k = LinearKernel::TiledMedium;
  else
    k = LinearKernel::TiledSmall;
  // Smaller tiles need fewer threads per workgroup.
  for (LinearKernel t : {LinearKernel::TiledLarge, LinearKernel::TiledMedium, LinearKernel::TiledSmall})
    if (tile_of(t).bm <= tile_of(k).bm && linear_kernel_supported(d, a, t)) return t;
  return LinearKernel::Portable;  // linear() reports it if this cannot run either
}

void linear(vk::Context& ctx, vk::Recorder& rec, const LinearArgs& a, std::string label) {
  using vk::Slot;
  const vk::DeviceInfo& d = ctx.info();
  LinearKernel k = choose_linear_kernel(d, a);
  const bool f16 = a.w_format == WeightFormat::F16;
  if (!linear_kernel_supported(d, a, k))
    throw Error(label + ": the " + linear_kernel_name(k) + " linear kernel cannot run M=" + std::to_string(a.M) +
                " N=" + std::to_string(a.N) + " K=" + std::to_string(a.K) +
                (a.math_f16 ? " with fp16 arithmetic" : f16 ? " with fp16 weights" : "") +
                (a.ln ? " with a fused LayerNorm" : "") +
                (a.w_group ? " with weights packed in groups of " + std::to_string(a.w_group) : "") + " on " + d.name);
  vk::BufferView dummy{&ctx.dummy_buffer(), 0, 0};
  Push p{a.M, a.N, a.K, a.lda ? a.lda : a.K, a.ldw ? a.ldw : a.K, a.ldy ? a.ldy : a.N, a.alpha,
         a.ln ? a.ln->eps : 0.0f};
  std::vector<uint32_t> spec{a.bias ? 1u : 0u, uint32_t(a.act), a.residual ? 1u : 0u, a.gamma ? 1u : 0u};
  ShaderId shader;
  std::vector<Slot> slots{Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage, Slot::Storage};
  uint32_t gx, gy;
  if (k == LinearKernel::Texel) {
    uint32_t sg = d.subgroup_size, wy = 1, cn = texel_columns(sg, a.N);
    spec.insert(spec.end(), {sg, wy, cn, a.ln ? 1u : 0u, a.w_group ? 1u : 0u});
    shader = ShaderId::linear_texel;
    slots[0] = Slot::TexelFloat;
    slots[1] = f16 ? Slot::TexelHalf : Slot::TexelFloat;
    // The vec4 epilogue (loads and stores of 4 adjacent columns per lane) where y, bias and
    // LayerScale can be viewed as whole vec4s: always with packed weights (which give lanes
    // runs of 4 columns anyway), with row-major ones for layers with a side of at most 384
    // (there, on ViT-B/16's layers, its wider gather in W cost ~20% more than it saved).
    const uint64_t align = std::max<uint64_t>({16, d.min_texel_offset_alignment, d.min_storage_offset_alignment});
    if ((a.w_group || a.K <= 384 || a.N <= 384) && a.N % 4 == 0 && p.ldy % 4 == 0 && a.y.aligned_to(align) &&
        (!a.bias || a.bias->aligned_to(align)) && (!a.gamma || a.gamma->aligned_to(align))) {
      shader = ShaderId::linear_texel_v4;
      slots[2] = slots[3] = Slot::TexelFloat;
      slots.push_back(Slot::TexelFloat);
    }
    slots.insert(slots.end(), {Slot::TexelFloat, Slot::TexelFloat});
    gx = ceil_div(a.N, sg * cn);
    gy = ceil_div(a.M, kRowsPerSubgroup * wy);
  } else if (k == LinearKernel::Coopmat || k == LinearKernel::CoopmatEmulated) {
    const vk::CoopmatShape shape = k == LinearKernel::Coopmat ? vk::coopmat_config(d)->shape : *a.coopmat_shape;
    const CoopTile& t = coop_tile(a.M, a.N);
    const uint32_t sg = d.subgroup_size;
    spec.insert(spec.end(), {t.bm, t.bn, kCoopBK, t.wm, t.wn, shape.m, shape.n, shape.k, sg,
                             (t.bm / t.wm) * (t.bn / t.wn) * sg});
    if (k == LinearKernel::CoopmatEmulated) {
      shader = f16 ? ShaderId::linear_coopmat_emu_f16w : ShaderId::linear_coopmat_emu;
    } else {
#ifdef VITSCOPE_HAVE_COOPMAT_NV
      shader = f16 ? ShaderId::linear_coopmat_nv_f16w : ShaderId::linear_coopmat_nv;
#else
      throw Error(label + ": this build has no cooperative-matrix shader (its glslang could not compile "
                          "GL_NV_cooperative_matrix)");
#endif
    }
    gx = ceil_div(a.N, t.bn);
    gy = ceil_div(a.M, t.bm);
  } else if (k == LinearKernel::Portable) {
    shader = f16 ? ShaderId::linear_f16w : ShaderId::linear;
    gx = ceil_div(a.N, 64);
    gy = ceil_div(a.M, 64);
  } else {
    const Tile& t = tile_of(k);
    spec.insert(spec.end(), {t.bm, t.bn, t.bk, t.tm, t.tn, t.threads()});
    shader = a.math_f16 ? ShaderId::linear_tiled_f16math : f16 ? ShaderId::linear_tiled_f16w : ShaderId::linear_tiled;
    gx = ceil_div(a.N, t.bn);
    gy = ceil_div(a.M, t.bm);
  }
  const auto& pipe = ctx.pipelines().get({shader, slots, sizeof(Push), spec});
  if (k == LinearKernel::Texel) {
    vk::BufferView g = a.ln ? a.ln->gamma : dummy, b = a.ln ? a.ln->beta : dummy;
    if (shader == ShaderId::linear_texel_v4)
      rec.dispatch(pipe, {a.x, a.w, a.bias.value_or(dummy), a.gamma.value_or(dummy), a.y, g, b, a.y}, p, gx, gy, 1,
                   std::move(label));
    else
      rec.dispatch(pipe, {a.x, a.w, a.bias.value_or(dummy), a.gamma.value_or(dummy), a.y, g, b}, p, gx, gy, 1,
                   std::move(label));
  } else {
    rec.dispatch(pipe, {a.x, a.w, a.bias.value_or(dummy), a.gamma.value_or(dummy), a.y}, p, gx, gy, 1,
                 std::move(label));
  }
}

}  // namespace vitscope::ops
