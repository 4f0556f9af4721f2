#include "vk/memory_budget.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace vitscope {

std::string human_bytes(uint64_t b) {
  char buf[64];
  if (b >= (uint64_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(uint64_t(1) << 30));
  else if (b >= (uint64_t(1) << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(uint64_t(1) << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
  return buf;
}

namespace {

struct Tally {
  MemoryRequest r;
  void add(const std::string& name, uint64_t bytes, uint64_t per_image = 0) {
    r.total += bytes;
    if (bytes > r.largest) {
      r.largest = bytes;
      r.largest_name = name;
      r.per_image_largest = per_image;
    }
  }
};

}  // namespace

MemoryRequest weights_request(const VitWeights& w) {
  Tally t;
  t.r.what = "model";
  auto add = [&](const HostTensor& h) { t.add(h.name, uint64_t(h.numel()) * 4); };
  auto opt = [&](const std::optional<HostTensor>& h) {
    if (h) add(*h);
  };
  // Dense weights (N, K) may be stored packed for the CPU-device kernel, their columns
  // rounded up to a group of up to 64 (ops::linear_weight_group).
  auto dense = [&](const HostTensor& h) {
    if (h.shape.size() != 2) return add(h);
    t.add(h.name, (uint64_t(h.shape[0]) + 63) / 64 * 64 * uint64_t(h.shape[1]) * 4);
  };
  add(w.patch_w);
  opt(w.patch_b);
  opt(w.prefix);
  opt(w.pos);
  for (const auto& b : w.blocks) {
    for (const HostTensor* h : {&b.norm1_w, &b.norm1_b, &b.proj_b, &b.norm2_w, &b.norm2_b, &b.fc1_b, &b.fc2_b})
      add(*h);
    for (const HostTensor* h : {&b.qkv_w, &b.proj_w, &b.fc1_w, &b.fc2_w}) dense(*h);
    opt(b.qkv_b);
    opt(b.ls1);
    opt(b.ls2);
  }
  for (const auto* h : {&w.norm_w, &w.norm_b, &w.fc_norm_w, &w.fc_norm_b, &w.head_b, &w.head_dist_b, &w.pooler_b})
    opt(*h);
  for (const auto* h : {&w.head_w, &w.head_dist_w, &w.pooler_w})
    if (*h) dense(**h);
  return t.r;
}

MemoryRequest activations_request(const VitConfig& c, int batch, bool keep_attention, uint64_t resident) {
  // Mirrors VitModel::record: one arena holding the residual stream, two scratch regions
  // reused by tensors whose lifetimes do not overlap, the pooled vectors and the logits;
  // plus one buffer of attention probabilities per layer when they are kept (one scratch
  // buffer otherwise, counted to stay on the safe side). Every tensor is bound on its own,
  // so the largest one is what maxStorageBufferRange limits.
  Tally t;
  t.r.what = "forward pass of batch " + std::to_string(batch);
  t.r.hint = "; use a smaller batch";
  const uint64_t B = uint64_t(batch), N = uint64_t(c.tokens()), C = uint64_t(c.embed_dim),
                 H = uint64_t(c.num_heads), M = uint64_t(c.mlp_hidden), Np = uint64_t(c.num_patches()),
                 K = uint64_t(c.output_dim()), L = uint64_t(c.depth);
  const uint64_t pixels = uint64_t(c.in_chans) * uint64_t(c.img_h) * uint64_t(c.img_w);
  const uint64_t cols = Np * uint64_t(c.in_chans) * uint64_t(c.patch) * uint64_t(c.patch);
  // Per image, in floats.
  const uint64_t x = N * C, s1 = std::max(N * C, cols), s2 = std::max({N * 3 * C, N * M, pixels, Np * C});
  struct Binding {
    const char* name;
    uint64_t floats;
  };
  for (Binding b : {Binding{"input", pixels}, {"patch columns", cols}, {"patch embeddings", Np * C},
                    {"residual stream", x}, {"qkv", N * 3 * C}, {"mlp hidden", N * M},
                    {"attention probabilities", H * N * N}, {"logits", K}})
    t.add(b.name, B * b.floats * 4, b.floats * 4);
  const uint64_t arena = B * (x + s1 + s2 + 3 * C + 2 * K) * 4;
  const uint64_t attention = (keep_attention ? L : 1) * B * H * N * N * 4;
  t.r.total = arena + attention + resident;
  return t.r;
}

std::string memory_problem(const vk::DeviceInfo& d, const MemoryRequest& r) {
  const std::string dev = "device " + std::to_string(d.index) + " (" + d.name + ")";
  const char* env = std::getenv("VITSCOPE_MEMORY_CHECK");
  const bool check_heap = !(env && std::strcmp(env, "0") == 0);
  if (check_heap && d.device_local_bytes > 0 && r.total > d.device_local_bytes)
    return r.what + " needs " + human_bytes(r.total) + " of device memory, " + dev + " has " +
           human_bytes(d.device_local_bytes) + r.hint;
  if (d.max_storage_buffer_range > 0 && r.largest > d.max_storage_buffer_range) {
    std::string msg = r.what + ": tensor '" + r.largest_name + "' is " + human_bytes(r.largest) +
                      ", over the " + human_bytes(d.max_storage_buffer_range) +
                      " one shader binding can address on " + dev + " (maxStorageBufferRange)";
    if (r.per_image_largest > 0) {
      uint64_t most = d.max_storage_buffer_range / r.per_image_largest;
      msg += most > 0 ? "; use a batch of at most " + std::to_string(most)
                      : "; even one image is too large for this device";
    }
    return msg;
  }
  return "";
}

void check_device_memory(const vk::Context& ctx, const MemoryRequest& r) {
  std::string problem = memory_problem(ctx.info(), r);
  if (!problem.empty()) throw Error(problem);
}

}  // namespace vitscope
