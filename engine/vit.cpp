#include "vit.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "ops/attention.h"
#include "ops/layernorm.h"
#include "ops/linear.h"
#include "ops/patch_embed.h"
#include "ops/pooling.h"
#include "vk/memory_budget.h"

namespace vitscope {

using vk::BufferView;

struct VitModel::Tensor {
  vk::Buffer buffer;
  std::vector<int64_t> shape;
  uint32_t ld = 0;     // row stride in elements of a row-major linear weight (N, K): K
  uint32_t group = 0;  // packed in groups of this many columns (ops::pack_weight_group), or 0
  bool f16 = false;    // stored as fp16
  BufferView view() const { return {&buffer, 0, 0}; }
};

struct VitModel::Block {
  std::unique_ptr<Tensor> norm1_w, norm1_b, qkv_w, qkv_b, proj_w, proj_b, ls1, norm2_w, norm2_b,
      fc1_w, fc1_b, fc2_w, fc2_b, ls2;
};

// Activations and the recorded command buffer for one (batch, options) pair.
struct VitModel::Plan {
  int batch = 0;
  bool keep_attention = false;  // any layer's probabilities kept
  bool profile = false;         // timestamps around every dispatch
  std::vector<bool> kept;       // per layer
  std::vector<std::unique_ptr<vk::Buffer>> owned;
  vk::Buffer* input_staging = nullptr;
  vk::Buffer* arena = nullptr;  // every activation below is a slice of it
  BufferView input, cols, patches, x, ln, qkv, attn_out, hidden, pooled, pooled2, pooled_n, logits, probs;
  std::vector<BufferView> prob;  // per layer: its own buffer when kept, else scratch or none
  vk::Buffer *logits_rb = nullptr, *probs_rb = nullptr, *attn_rb = nullptr;
  std::unique_ptr<vk::Recorder> rec;
  uint64_t bytes = 0;

  vk::Buffer* make(vk::Context& ctx, uint64_t floats, vk::BufferKind kind, const std::string& name) {
    owned.push_back(std::make_unique<vk::Buffer>(ctx, floats * 4, kind, name));
    if (kind == vk::BufferKind::Device) bytes += floats * 4;
    return owned.back().get();
  }
};

std::unique_ptr<VitModel::Tensor> VitModel::upload(vk::Uploader& up, const HostTensor& t, bool linear_weight) {
  uint64_t n = uint64_t(t.numel());
  const bool dense = linear_weight && t.shape.size() == 2;
  const uint64_t N = dense ? uint64_t(t.shape[0]) : 1, K = dense ? uint64_t(t.shape[1]) : n;
  // Dense-layer weights are the ones stored in fp16 in the fp16 modes, and packed for the
  // device's linear kernel where it reads them packed (ops::linear_weight_group).
  const bool f16 = linear_weight && precision_ != Precision::Fp32;
  uint32_t group = 0;
  if (dense) {
    ops::LinearArgs probe;
    probe.M = 1;
    probe.N = uint32_t(N);
    probe.K = uint32_t(K);
    probe.w_format = f16 ? ops::WeightFormat::F16 : ops::WeightFormat::F32;
    probe.math_f16 = f16 && precision_ == Precision::Fp16Math;
    group = ops::linear_weight_group(ctx_.info(), probe);
  }
  const uint64_t stored = group ? ops::packed_weight_elements(uint32_t(N), uint32_t(K), group) : n;
  const uint64_t esize = f16 ? 2 : 4;
  auto out = std::unique_ptr<Tensor>(
      new Tensor{vk::Buffer(ctx_, stored * esize, vk::BufferKind::Device, t.name), t.shape, uint32_t(K), group, f16});
  // Elements [first, first + count) of the stored layout, as floats. Packed: a group at a
  // time (its G rows read once, then laid out), the last one kept for the next piece.
  std::vector<float> rows, packed;
  uint64_t packed_group = UINT64_MAX;
  auto fill = [&](float* d, uint64_t first, uint64_t count) {
    if (!group) return t.read(d, int64_t(first), int64_t(count));
    const uint64_t per_group = uint64_t(group) * K;
    rows.resize(per_group);
    packed.resize(per_group);
    for (uint64_t i = first; i < first + count;) {
      const uint64_t g = i / per_group, at = i % per_group, len = std::min(per_group - at, first + count - i);
      if (g != packed_group) {
        const uint64_t real = std::min<uint64_t>(group, N - g * group);
        t.read(rows.data(), int64_t(g * per_group), int64_t(real * K));
        std::fill(rows.begin() + int64_t(real * K), rows.end(), 0.0f);
        ops::pack_weight_group(rows.data(), uint32_t(K), group, packed.data());
        packed_group = g;
      }
      std::copy_n(packed.begin() + int64_t(at), len, d + (i - first));
      i += len;
    }
  };
  up.upload(out->buffer, 0, stored * esize, [&fill, esize](void* dst, VkDeviceSize off, VkDeviceSize bytes) {
    if (esize == 4) return fill(static_cast<float*>(dst), off / 4, bytes / 4);
    std::vector<float> tmp(static_cast<size_t>(bytes / 2));
    fill(tmp.data(), off / 2, bytes / 2);
    uint16_t* h = static_cast<uint16_t*>(dst);
    for (size_t i = 0; i < tmp.size(); ++i) h[i] = float_to_half(tmp[i]);
  });
  weight_bytes_ += stored * esize;
  return out;
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::Fp32: return "fp32";
    case Precision::Fp16: return "fp16";
    case Precision::Fp16Math: return "fp16-math";
  }
  return "?";
}

Precision choose_precision(const vk::DeviceInfo& d, const std::string& request) {
  const bool cpu = d.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  // fp16 weights are read through RGBA16F texel views by the CPU-device kernel and through
  // 16-bit storage buffers by the GPU kernels.
  const bool f16_weights = cpu ? (d.fp16_texel || d.fp16_storage) : d.fp16_storage;
  if (request == "fp32") return Precision::Fp32;
  if (request == "auto") return !cpu && f16_weights ? Precision::Fp16 : Precision::Fp32;
  if (request == "fp16") {
    if (!f16_weights)
      throw InputError("--precision fp16: " + d.name + " cannot read fp16 weights (no storageBuffer16BitAccess" +
                       std::string(cpu ? " and no RGBA16F texel buffers" : "") + "); use fp32");
    return Precision::Fp16;
  }
  if (request == "fp16-math") {
    if (!d.fp16_storage || !d.fp16_arithmetic)
      throw InputError("--precision fp16-math: " + d.name + " lacks " +
                       (!d.fp16_arithmetic ? "shaderFloat16" : "storageBuffer16BitAccess") + "; use fp16 or fp32");
    return Precision::Fp16Math;
  }
  throw InputError("unknown precision '" + request + "' (fp32, fp16, fp16-math or auto)");
}

void VitModel::set_weight(ops::LinearArgs& a, const std::unique_ptr<Tensor>& w) const {
  a.w = w->view();
  a.ldw = w->ld;
  a.w_group = w->group;
  a.w_format = w->f16 ? ops::WeightFormat::F16 : ops::WeightFormat::F32;
  a.math_f16 = w->f16 && precision_ == Precision::Fp16Math;
}

VitModel::VitModel(vk::Context& ctx, LoadedModel model, Precision precision)
    : ctx_(ctx), model_(std::move(model)), precision_(precision) {
  const VitWeights& w = model_.weights;
  params_ = w.parameter_count();
  check_device_memory(ctx_, weights_request(w));  // clear error before any allocation
  vk::Uploader up(ctx_);
  auto opt = [&](const std::optional<HostTensor>& t) { return t ? upload(up, *t) : nullptr; };
  patch_w_ = upload(up, w.patch_w);
  patch_b_ = opt(w.patch_b);
  prefix_ = opt(w.prefix);
  pos_ = opt(w.pos);
  for (const auto& b : w.blocks) {
    Block d;
    d.norm1_w = upload(up, b.norm1_w);
    d.norm1_b = upload(up, b.norm1_b);
    d.qkv_w = upload(up, b.qkv_w, true);
    d.qkv_b = opt(b.qkv_b);
    d.proj_w = upload(up, b.proj_w, true);
    d.proj_b = upload(up, b.proj_b);
    d.ls1 = opt(b.ls1);
    d.norm2_w = upload(up, b.norm2_w);
    d.norm2_b = upload(up, b.norm2_b);
    d.fc1_w = upload(up, b.fc1_w, true);
    d.fc1_b = upload(up, b.fc1_b);
    d.fc2_w = upload(up, b.fc2_w, true);
    d.fc2_b = upload(up, b.fc2_b);
    d.ls2 = opt(b.ls2);
    blocks_.push_back(std::move(d));
    // Keep the host's peak memory near one copy of the weights: once a block is on the
    // device, its pages of the mapped file can go.
    up.flush();
    auto drop = [](const HostTensor& t) {
      for (const auto& piece : t.pieces)
        if (piece.file && piece.src) piece.file->release(*piece.src);
    };
    for (const HostTensor* t : {&b.norm1_w, &b.norm1_b, &b.qkv_w, &b.proj_w, &b.proj_b, &b.norm2_w, &b.norm2_b,
                                &b.fc1_w, &b.fc1_b, &b.fc2_w, &b.fc2_b})
      drop(*t);
    for (const auto* t : {&b.qkv_b, &b.ls1, &b.ls2})
      if (*t) drop(**t);
  }
  norm_w_ = opt(w.norm_w);
  norm_b_ = opt(w.norm_b);
  fc_norm_w_ = opt(w.fc_norm_w);
  fc_norm_b_ = opt(w.fc_norm_b);
  head_w_ = w.head_w ? upload(up, *w.head_w, true) : nullptr;
  head_b_ = opt(w.head_b);
  head_dist_w_ = w.head_dist_w ? upload(up, *w.head_dist_w, true) : nullptr;
  head_dist_b_ = opt(w.head_dist_b);
  pooler_w_ = w.pooler_w ? upload(up, *w.pooler_w, true) : nullptr;
  pooler_b_ = opt(w.pooler_b);
  up.flush();
  // The weights now live on the device: let the OS drop the mapped file pages.
  for (const auto& t : model_.file->tensors()) model_.file->release(t);
}

VitModel::~VitModel() = default;

uint64_t VitModel::activation_bytes() const { return plan_ ? plan_->bytes : 0; }

double VitModel::flops_per_image() const {
  const VitConfig& c = config();
  double N = c.tokens(), C = c.embed_dim, M = c.mlp_hidden, Np = c.num_patches();
  double K = double(c.in_chans) * c.patch * c.patch;
  double f = 2 * Np * K * C;  // patch embedding
  f += c.depth * (2 * N * C * 3 * C + 2 * 2 * N * N * C + 2 * N * C * C + 2 * 2 * N * C * M);
  f += 2 * C * c.output_dim();
  return f;
}

void VitModel::record(Plan& p) {
  const VitConfig& c = config();
  const uint32_t B = uint32_t(p.batch), N = uint32_t(c.tokens()), C = uint32_t(c.embed_dim),
                 H = uint32_t(c.num_heads), D = uint32_t(c.head_dim()), M = uint32_t(c.mlp_hidden),
                 T = uint32_t(c.prefix_tokens()), Np = uint32_t(c.num_patches()),
                 K = uint32_t(c.output_dim()), L = uint32_t(c.depth);
  const uint32_t rows = B * N;
  check_device_memory(ctx_, activations_request(c, p.batch, p.keep_attention, weight_bytes_));
  auto dev = vk::BufferKind::Device;
  uint64_t in_floats = uint64_t(B) * c.in_chans * c.img_h * c.img_w;
  p.input_staging = p.make(ctx_, in_floats, vk::BufferKind::Upload, "input staging");

  // Activations share one arena. Besides the residual stream x, two scratch regions are
  // reused by tensors whose lifetimes do not overlap:
  //   S1: patch columns -> LN(x) -> attention output -> LN(x) -> ... (row width C)
  //   S2: input image -> patch embeddings -> qkv -> MLP hidden -> qkv -> ... (widest rows)
  // Slices start on the device's storage and texel offset alignments.
  const vk::DeviceInfo& info = ctx_.info();
  const uint64_t align = std::max<uint64_t>({16, info.min_storage_offset_alignment, info.min_texel_offset_alignment});
  uint64_t top = 0;
  auto region = [&](uint64_t floats) {
    uint64_t at = top;
    top += (floats * 4 + align - 1) / align * align;
    return std::pair<uint64_t, uint64_t>{at, floats * 4};
  };
  const uint64_t cols_floats = uint64_t(B) * Np * c.in_chans * c.patch * c.patch;
  auto rx = region(uint64_t(rows) * C);
  auto s1 = region(std::max<uint64_t>(uint64_t(rows) * C, cols_floats));
  auto s2 = region(std::max<uint64_t>({uint64_t(rows) * 3 * C, uint64_t(rows) * M, in_floats, uint64_t(B) * Np * C}));
  auto rpool = region(uint64_t(B) * C), rpool2 = region(uint64_t(B) * C), rpooln = region(uint64_t(B) * C);
  auto rlogits = region(uint64_t(B) * K), rprobs = region(uint64_t(B) * K);
  p.arena = p.make(ctx_, top / 4, dev, "activations");
  auto slice = [&](std::pair<uint64_t, uint64_t> r, uint64_t floats) {
    return BufferView{p.arena, r.first, floats * 4};
  };
  p.input = slice(s2, in_floats);
  p.cols = slice(s1, cols_floats);
  p.patches = slice(s2, uint64_t(B) * Np * C);
  p.x = slice(rx, uint64_t(rows) * C);
  p.ln = slice(s1, uint64_t(rows) * C);
  p.qkv = slice(s2, uint64_t(rows) * 3 * C);
  p.attn_out = slice(s1, uint64_t(rows) * C);
  p.hidden = slice(s2, uint64_t(rows) * M);
  p.pooled = slice(rpool, uint64_t(B) * C);
  p.pooled2 = slice(rpool2, uint64_t(B) * C);
  p.pooled_n = slice(rpooln, uint64_t(B) * C);
  p.logits = slice(rlogits, uint64_t(B) * K);
  p.probs = slice(rprobs, uint64_t(B) * K);

  // Attention probabilities: a buffer per kept layer; a scratch one only for kernels that
  // need it when nothing is kept.
  uint64_t att = uint64_t(B) * H * N * N;
  ops::AttentionArgs probe{p.qkv, {}, p.attn_out, B, N, H, D};
  probe.write_prob = false;
  bool scratch_needed = ops::choose_attention_kernel(info, probe) == ops::AttentionKernel::TwoPass;
  BufferView scratch{};
  for (uint32_t l = 0; l < L; ++l) {
    if (p.kept[l]) {
      p.prob.push_back({p.make(ctx_, att, dev, "attention probabilities " + std::to_string(l)), 0, 0});
    } else {
      if (scratch_needed && !scratch.buffer) scratch = {p.make(ctx_, att, dev, "attention scratch"), 0, 0};
      p.prob.push_back(scratch);
    }
  }
  p.logits_rb = p.make(ctx_, uint64_t(B) * K, vk::BufferKind::Readback, "logits readback");
  p.probs_rb = p.make(ctx_, uint64_t(B) * K, vk::BufferKind::Readback, "probs readback");
  if (p.keep_attention) {
    p.attn_rb = p.make(ctx_, att * L, vk::BufferKind::Readback, "attention readback");
    std::memset(p.attn_rb->mapped(), 0, att * L * 4);  // layers not asked for read as zeros
    p.attn_rb->flush();
  }

  p.rec = std::make_unique<vk::Recorder>(ctx_, p.profile);
  vk::Recorder& rec = *p.rec;
  auto V = [](const BufferView& v) { return v; };
  auto O = [](const std::unique_ptr<Tensor>& t) {
    return t ? std::optional<BufferView>(t->view()) : std::nullopt;
  };
  rec.begin();
  rec.copy(*p.input_staging, 0, *p.input.buffer, p.input.offset, in_floats * 4);

  // z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos                         (eq. 1)
  ops::PatchEmbedArgs pe;
  pe.image = V(p.input);
  pe.cols = V(p.cols);
  pe.weight = patch_w_->view();
  pe.bias = O(patch_b_);
  pe.patches = V(p.patches);
  pe.B = B;
  pe.Cin = uint32_t(c.in_chans);
  pe.H = uint32_t(c.img_h);
  pe.W = uint32_t(c.img_w);
  pe.P = uint32_t(c.patch);
  pe.C = C;
  ops::patch_embed(ctx_, rec, pe);
  ops::TokensArgs tk;
  tk.prefix = prefix_ ? prefix_->view() : BufferView{&ctx_.dummy_buffer(), 0, 0};
  tk.patches = V(p.patches);
  tk.pos = O(pos_);
  tk.z = V(p.x);
  tk.B = B;
  tk.T = T;
  tk.Np = Np;
  tk.C = C;
  tk.pos_prefix = uint32_t(c.pos_prefix);
  ops::assemble_tokens(ctx_, rec, tk);

  // A Dense layer y = x W^T + b over `rows` rows (epilogue options set by the caller).
  auto dense = [&](const BufferView& x, const std::unique_ptr<Tensor>& w, const std::unique_ptr<Tensor>& bias,
                   const BufferView& y, uint32_t m, uint32_t n, uint32_t k) {
    ops::LinearArgs a;
    a.x = x;
    set_weight(a, w);
    a.bias = O(bias);
    a.y = y;
    a.M = m;
    a.N = n;
    a.K = k;
    return a;
  };

  // LN(z) feeding a Dense layer that reads the residual stream: fused into the layer's read
  // of x where that pays (narrow layers on CPU devices), else a LayerNorm pass into p.ln.
  auto normed_dense = [&](const std::unique_ptr<Tensor>& g, const std::unique_ptr<Tensor>& beta,
                          ops::LinearArgs a, const std::string& norm_label) {
    a.ln = ops::FusedLayerNorm{g->view(), beta->view(), c.eps};
    if (ops::linear_fuses_layernorm(ctx_.info(), a)) return a;
    ops::layernorm(ctx_, rec, {V(p.x), g->view(), beta->view(), V(p.ln), rows, C, 0, 0, c.eps}, norm_label);
    a.ln.reset();
    a.x = V(p.ln);
    return a;
  };

  const ops::Activation act = ops::mlp_activation(c.hidden_act);
  const std::string act_label = std::string("+") + ops::activation_name(act);
  for (uint32_t l = 0; l < L; ++l) {
    const Block& b = blocks_[l];
    std::string name = "block" + std::to_string(l);
    if (c.norm_first) {
      // z'_l = MSA(LN(z_{l-1})) + z_{l-1}                                     (eq. 2)
      ops::LinearArgs qkv = normed_dense(b.norm1_w, b.norm1_b,
                                         dense(V(p.x), b.qkv_w, b.qkv_b, V(p.qkv), rows, 3 * C, C), name + ".norm1");
      ops::linear(ctx_, rec, qkv, name + (qkv.ln ? ".norm1+attn.qkv" : ".attn.qkv"));
      ops::AttentionArgs attn{V(p.qkv), p.prob[l], V(p.attn_out), B, N, H, D};
      attn.write_prob = p.kept[l];
      ops::attention(ctx_, rec, attn, name + ".attn");
      ops::LinearArgs proj = dense(V(p.attn_out), b.proj_w, b.proj_b, V(p.x), rows, C, C);
      proj.gamma = O(b.ls1);  // LayerScale, when the model has it
      proj.residual = true;
      ops::linear(ctx_, rec, proj, name + ".attn.proj+residual");
      // z_l = MLP(LN(z'_l)) + z'_l                                             (eq. 3)
      ops::LinearArgs fc1 = normed_dense(b.norm2_w, b.norm2_b,
                                         dense(V(p.x), b.fc1_w, b.fc1_b, V(p.hidden), rows, M, C), name + ".norm2");
      fc1.act = act;
      ops::linear(ctx_, rec, fc1, name + (fc1.ln ? ".norm2+mlp.fc1" : ".mlp.fc1") + act_label);
      ops::LinearArgs fc2 = dense(V(p.hidden), b.fc2_w, b.fc2_b, V(p.x), rows, C, M);
      fc2.gamma = O(b.ls2);
      fc2.residual = true;
      ops::linear(ctx_, rec, fc2, name + ".mlp.fc2+residual");
    } else {
      // Post-norm (nn.TransformerEncoderLayer, norm_first=False): the norms follow the
      // residual adds, so no LayerNorm is fused into a Dense layer's read of x. z'_l lives
      // in p.ln, free once the attention output has been projected.
      // z'_l = LN1(z_{l-1} + MSA(z_{l-1}))
      ops::linear(ctx_, rec, dense(V(p.x), b.qkv_w, b.qkv_b, V(p.qkv), rows, 3 * C, C), name + ".attn.qkv");
      ops::AttentionArgs attn{V(p.qkv), p.prob[l], V(p.attn_out), B, N, H, D};
      attn.write_prob = p.kept[l];
      ops::attention(ctx_, rec, attn, name + ".attn");
      ops::LinearArgs proj = dense(V(p.attn_out), b.proj_w, b.proj_b, V(p.x), rows, C, C);
      proj.residual = true;
      ops::linear(ctx_, rec, proj, name + ".attn.proj+residual");
      ops::layernorm(ctx_, rec, {V(p.x), b.norm1_w->view(), b.norm1_b->view(), V(p.ln), rows, C, 0, 0, c.eps},
                     name + ".norm1");
      // z_l = LN2(z'_l + MLP(z'_l))
      ops::LinearArgs fc1 = dense(V(p.ln), b.fc1_w, b.fc1_b, V(p.hidden), rows, M, C);
      fc1.act = act;
      ops::linear(ctx_, rec, fc1, name + ".mlp.fc1" + act_label);
      ops::LinearArgs fc2 = dense(V(p.hidden), b.fc2_w, b.fc2_b, V(p.ln), rows, C, M);
      fc2.residual = true;
      ops::linear(ctx_, rec, fc2, name + ".mlp.fc2+residual");
      ops::layernorm(ctx_, rec, {V(p.ln), b.norm2_w->view(), b.norm2_b->view(), V(p.x), rows, C, 0, 0, c.eps},
                     name + ".norm2");
    }
  }

  // y = LN(z_L^0), or the normed mean of the patch tokens                     (eq. 4)
  BufferView pooled = V(p.pooled);
  if (c.global_pool == "token") {
    auto pick = [&](uint32_t token, const BufferView& out, const std::string& label) {
      if (norm_w_) {
        ops::layernorm(ctx_, rec, {BufferView{p.x.buffer, p.x.offset + uint64_t(token) * C * 4, p.x.bytes - uint64_t(token) * C * 4}, norm_w_->view(), norm_b_->view(),
                                   V(out), B, C, N * C, C, c.eps}, label);
      } else {
        for (uint32_t b = 0; b < B; ++b)
          rec.copy(*p.x.buffer, p.x.offset + (uint64_t(b) * N + token) * C * 4, *out.buffer,
                   out.offset + uint64_t(b) * C * 4, uint64_t(C) * 4);
      }
    };
    pick(0, p.pooled, "norm(cls)");
    if (head_dist_w_) pick(1, p.pooled2, "norm(dist)");
  } else {
    BufferView seq = V(p.x);
    if (norm_w_) {
      ops::layernorm(ctx_, rec, {V(p.x), norm_w_->view(), norm_b_->view(), V(p.ln), rows, C, 0, 0, c.eps}, "norm");
      seq = V(p.ln);
    }
    ops::pool_mean(ctx_, rec, seq, V(p.pooled), B, N, T, C);
    if (fc_norm_w_) {
      ops::layernorm(ctx_, rec, {V(p.pooled), fc_norm_w_->view(), fc_norm_b_->view(), V(p.pooled_n), B, C, 0, 0, c.eps},
                     "fc_norm");
      pooled = V(p.pooled_n);
    }
  }

  if (head_w_) {
    ops::LinearArgs head = dense(pooled, head_w_, head_b_, V(p.logits), B, K, C);
    if (head_dist_w_) head.alpha = 0.5f;  // DeiT: mean of the class and distillation heads
    ops::linear(ctx_, rec, head, "head");
    if (head_dist_w_) {
      ops::LinearArgs hd = head;
      hd.x = V(p.pooled2);
      set_weight(hd, head_dist_w_);
      hd.bias = O(head_dist_b_);
      hd.residual = true;
      ops::linear(ctx_, rec, hd, "head_dist");
    }
    ops::softmax_rows(ctx_, rec, V(p.logits), V(p.probs), B, K);
    rec.copy(*p.probs.buffer, p.probs.offset, *p.probs_rb, 0, uint64_t(B) * K * 4);
  } else if (pooler_w_) {
    ops::LinearArgs pl = dense(pooled, pooler_w_, pooler_b_, V(p.logits), B, K, C);
    pl.act = ops::Activation::Tanh;
    ops::linear(ctx_, rec, pl, "pooler");
  } else {
    rec.copy(*pooled.buffer, pooled.offset, *p.logits.buffer, p.logits.offset, uint64_t(B) * K * 4);
  }
  rec.copy(*p.logits.buffer, p.logits.offset, *p.logits_rb, 0, uint64_t(B) * K * 4);
  if (p.keep_attention)
    for (uint32_t l = 0; l < L; ++l)
      if (p.kept[l]) rec.copy(*p.prob[l].buffer, 0, *p.attn_rb, uint64_t(l) * att * 4, att * 4);
  rec.host_barrier();
  rec.end();
}

ForwardResult VitModel::forward(const float* input, int batch, const ForwardOptions& options) {
  const VitConfig& c = config();
  if (batch <= 0) throw Error("batch size must be positive");
  std::vector<bool> kept(size_t(c.depth), options.keep_attention);
  for (int l : options.attention_layers) {
    if (l < 0 || l >= c.depth)
      throw InputError("attention layer " + std::to_string(l) + " does not exist (the model has " +
                       std::to_string(c.depth) + " layers)");
    kept[size_t(l)] = true;
  }
  if (!plan_ || plan_->batch != batch || plan_->kept != kept || plan_->profile != options.profile) {
    plan_.reset();
    auto p = std::make_unique<Plan>();
    p->batch = batch;
    p->kept = kept;
    p->profile = options.profile;
    p->keep_attention = std::find(kept.begin(), kept.end(), true) != kept.end();
    record(*p);
    plan_ = std::move(p);
  }
  Plan& p = *plan_;
  size_t in_floats = size_t(batch) * c.in_chans * c.img_h * c.img_w;
  std::memcpy(p.input_staging->mapped(), input, in_floats * 4);
  p.input_staging->flush();

  auto t0 = std::chrono::steady_clock::now();
  p.rec->run("forward pass of " + c.architecture);
  auto t1 = std::chrono::steady_clock::now();

  ForwardResult r;
  r.batch = batch;
  r.outputs = c.output_dim();
  size_t out = size_t(batch) * size_t(r.outputs);
  p.logits_rb->invalidate();
  r.logits.assign(static_cast<float*>(p.logits_rb->mapped()), static_cast<float*>(p.logits_rb->mapped()) + out);
  if (c.num_classes > 0) {
    p.probs_rb->invalidate();
    r.probs.assign(static_cast<float*>(p.probs_rb->mapped()), static_cast<float*>(p.probs_rb->mapped()) + out);
  }
  if (p.keep_attention) {
    p.attn_rb->invalidate();
    size_t n = p.attn_rb->size() / 4;
    r.attention.assign(static_cast<float*>(p.attn_rb->mapped()), static_cast<float*>(p.attn_rb->mapped()) + n);
  }
  r.op_times = p.rec->op_times();
  r.gpu_ms = p.rec->total_ms();
  r.wall_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  return r;
}

}  // namespace vitscope
