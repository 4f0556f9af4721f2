// Compute pipelines built from embedded SPIR-V, created once and cached per
// (shader, binding signature, push-constant size, specialization constants).
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "vitscope/shaders_id.h"

namespace vitscope::vk {

class Context;

enum class Slot : uint8_t {
  Storage,     // storage buffer (readonly or writeonly decided by the shader)
  TexelFloat,  // uniform texel buffer (samplerBuffer), read as RGBA32F
  TexelHalf,   // uniform texel buffer (samplerBuffer) over fp16 data, read as RGBA16F
};

struct PipelineDesc {
  ShaderId shader;
  std::vector<Slot> slots;          // binding i of set 0
  uint32_t push_bytes = 0;          // push-constant block size
  std::vector<uint32_t> spec;       // constant_id i = spec[i] (floats bit-cast)
  bool operator<(const PipelineDesc& o) const {
    return std::tie(shader, slots, push_bytes, spec) <
           std::tie(o.shader, o.slots, o.push_bytes, o.spec);
  }
};

class Pipeline {
 public:
  Pipeline(Context& ctx, const PipelineDesc& desc, VkPipelineCache cache);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  VkPipeline handle() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  const PipelineDesc& desc() const { return desc_; }

 private:
  void release();

  Context& ctx_;
  PipelineDesc desc_;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};

class PipelineCache {
 public:
  explicit PipelineCache(Context& ctx);
  ~PipelineCache();
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;

  const Pipeline& get(const PipelineDesc& desc);
  size_t size() const { return pipelines_.size(); }

 private:
  Context& ctx_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::map<PipelineDesc, std::unique_ptr<Pipeline>> pipelines_;
  std::mutex mutex_;
};

inline uint32_t spec_float(float f) {
  uint32_t u;
  static_assert(sizeof u == sizeof f);
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
}

}  // namespace vitscope::vk
