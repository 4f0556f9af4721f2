#include "vk/pipeline.h"

#include <string>

#include "vk/context.h"

namespace vitscope::vk {

Pipeline::Pipeline(Context& ctx, const PipelineDesc& desc, VkPipelineCache cache)
    : ctx_(ctx), desc_(desc) {
  VkDevice dev = ctx.device();
  auto code = spirv(desc.shader);
  if (code.empty()) throw Error(std::string("shader not embedded: ") + shader_name(desc.shader));
  try {
    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smci.codeSize = code.size_bytes();
    smci.pCode = code.data();
    VITSCOPE_VK_CHECK(vkCreateShaderModule(dev, &smci, nullptr, &module_));

    std::vector<VkDescriptorSetLayoutBinding> bindings;
    for (uint32_t i = 0; i < desc.slots.size(); ++i) {
      VkDescriptorSetLayoutBinding b{};
      b.binding = i;
      b.descriptorType = desc.slots[i] == Slot::Storage ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                        : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      b.descriptorCount = 1;
      b.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
      bindings.push_back(b);
    }
    VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = uint32_t(bindings.size());
    dl.pBindings = bindings.data();
    VITSCOPE_VK_CHECK(vkCreateDescriptorSetLayout(dev, &dl, nullptr, &set_layout_));

    VkPushConstantRange pc{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_bytes};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &set_layout_;
    pl.pushConstantRangeCount = desc.push_bytes ? 1 : 0;
    pl.pPushConstantRanges = &pc;
    VITSCOPE_VK_CHECK(vkCreatePipelineLayout(dev, &pl, nullptr, &layout_));

    std::vector<VkSpecializationMapEntry> entries;
    for (uint32_t i = 0; i < desc.spec.size(); ++i)
      entries.push_back({i, uint32_t(i * sizeof(uint32_t)), sizeof(uint32_t)});
    VkSpecializationInfo si{};
    si.mapEntryCount = uint32_t(entries.size());
    si.pMapEntries = entries.data();
    si.dataSize = desc.spec.size() * sizeof(uint32_t);
    si.pData = desc.spec.data();

    VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpi.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    cpi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpi.stage.module = module_;
    cpi.stage.pName = "main";
    cpi.stage.pSpecializationInfo = desc.spec.empty() ? nullptr : &si;
    cpi.layout = layout_;
    VITSCOPE_VK_CHECK(vkCreateComputePipelines(dev, cache, 1, &cpi, nullptr, &pipeline_));
  } catch (...) {
    release();
    throw;
  }
}

Pipeline::~Pipeline() { release(); }

void Pipeline::release() {
  VkDevice dev = ctx_.device();
  if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
  if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
  if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
  if (module_) vkDestroyShaderModule(dev, module_, nullptr);
  pipeline_ = VK_NULL_HANDLE;
  layout_ = VK_NULL_HANDLE;
  set_layout_ = VK_NULL_HANDLE;
  module_ = VK_NULL_HANDLE;
}

PipelineCache::PipelineCache(Context& ctx) : ctx_(ctx) {
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  VITSCOPE_VK_CHECK(vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_));
}

PipelineCache::~PipelineCache() {
  pipelines_.clear();
  if (cache_) vkDestroyPipelineCache(ctx_.device(), cache_, nullptr);
}

const Pipeline& PipelineCache::get(const PipelineDesc& desc) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pipelines_.find(desc);
  if (it != pipelines_.end()) return *it->second;
  auto p = std::make_unique<Pipeline>(ctx_, desc, cache_);
  auto& ref = *p;
  pipelines_.emplace(desc, std::move(p));
  return ref;
}

}  // namespace vitscope::vk
