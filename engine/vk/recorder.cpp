#include "vk/recorder.h"

#include <algorithm>

#include "vk/context.h"

namespace vitscope::vk {

namespace {
constexpr uint32_t kSetsPerPool = 256;
constexpr uint32_t kMaxTimestamps = 4096;
}  // namespace

Recorder::Recorder(Context& ctx, bool timestamps) : ctx_(ctx), want_timestamps_(timestamps) {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.queueFamilyIndex = ctx.info().compute_queue_family;
  VITSCOPE_VK_CHECK(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool_));
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VITSCOPE_VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &ai, &cb_));
  if (want_timestamps_ && ctx.info().timestamps) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = kMaxTimestamps;
    VITSCOPE_VK_CHECK(vkCreateQueryPool(ctx.device(), &qi, nullptr, &query_pool_));
    query_capacity_ = kMaxTimestamps;
  }
}

Recorder::~Recorder() {
  if (ctx_.lost()) return;  // the command buffer may still be running: leak, don't free
  VkDevice dev = ctx_.device();
  for (auto v : texel_views_) vkDestroyBufferView(dev, v, nullptr);
  for (auto p : descriptor_pools_) vkDestroyDescriptorPool(dev, p, nullptr);
  if (query_pool_) vkDestroyQueryPool(dev, query_pool_, nullptr);
  if (pool_) vkDestroyCommandPool(dev, pool_, nullptr);
}

void Recorder::begin() {
  VIT_ASSERT(!recorded_, "Recorder::begin called twice");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  VITSCOPE_VK_CHECK(vkBeginCommandBuffer(cb_, &bi));
  if (query_pool_) {
    vkCmdResetQueryPool(cb_, query_pool_, 0, query_capacity_);
    vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, query_pool_, 0);
  }
}

VkDescriptorSet Recorder::allocate_set(VkDescriptorSetLayout layout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!descriptor_pools_.empty()) {
      VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
      ai.descriptorPool = descriptor_pools_.back();
      ai.descriptorSetCount = 1;
      ai.pSetLayouts = &layout;
      VkDescriptorSet set;
      VkResult r = vkAllocateDescriptorSets(ctx_.device(), &ai, &set);
      if (r == VK_SUCCESS) return set;
      if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) VITSCOPE_VK_CHECK(r);
    }
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * 8},
                                     {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, kSetsPerPool * 4}};
    VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pci.maxSets = kSetsPerPool;
    pci.poolSizeCount = 2;
    pci.pPoolSizes = sizes;
    VkDescriptorPool pool;
    VITSCOPE_VK_CHECK(vkCreateDescriptorPool(ctx_.device(), &pci, nullptr, &pool));
    descriptor_pools_.push_back(pool);
  }
  throw Error("could not allocate a descriptor set");
}

void Recorder::compute_barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::dispatch(const Pipeline& p, std::initializer_list<BufferView> views,
                        const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy,
                        uint32_t gz, std::string label) {
  const auto& desc = p.desc();
  VIT_ASSERT(views.size() == desc.slots.size(),
             label + ": " + std::to_string(views.size()) + " buffers for " +
                 std::to_string(desc.slots.size()) + " slots");
  VIT_ASSERT(push_bytes == desc.push_bytes, label + ": push-constant size mismatch");
  const auto& info = ctx_.info();
  if (gx == 0 || gy == 0 || gz == 0) return;  // nothing to do
  if (gx > info.max_workgroup_count[0] || gy > info.max_workgroup_count[1] ||
      gz > info.max_workgroup_count[2])
    throw Error(label + ": dispatch of " + std::to_string(gx) + "x" + std::to_string(gy) + "x" +
                std::to_string(gz) + " workgroups exceeds the device's limit (" +
                std::to_string(info.max_workgroup_count[0]) + "x" +
                std::to_string(info.max_workgroup_count[1]) + "x" +
                std::to_string(info.max_workgroup_count[2]) + ")");

  VkDescriptorSet set = allocate_set(p.set_layout());
  std::vector<VkDescriptorBufferInfo> buffer_infos(views.size());
  std::vector<VkBufferView> texel(views.size(), VK_NULL_HANDLE);
  std::vector<VkWriteDescriptorSet> writes;
  uint32_t i = 0;
  for (const BufferView& v : views) {
    VIT_ASSERT(v.buffer != nullptr, label + ": slot " + std::to_string(i) + " has no buffer");
    VkDeviceSize bytes = v.bytes ? v.bytes : v.buffer->size() - v.offset;
    VIT_ASSERT(v.offset + bytes <= v.buffer->size(),
               label + ": view past the end of " + v.buffer->name());
    VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = set;
    w.dstBinding = i;
    w.descriptorCount = 1;
    if (desc.slots[i] == Slot::Storage) {
      if (bytes > info.max_storage_buffer_range)
        throw Error(label + ": tensor '" + v.buffer->name() + "' (" + std::to_string(bytes) +
                    " bytes) exceeds the device's maxStorageBufferRange (" +
                    std::to_string(info.max_storage_buffer_range) + " bytes)");
      buffer_infos[i] = {v.buffer->handle(), v.offset, bytes};
      w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      w.pBufferInfo = &buffer_infos[i];
    } else {
      const bool half = desc.slots[i] == Slot::TexelHalf;
      const VkDeviceSize texel_bytes = half ? 8 : 16;
      if (bytes / texel_bytes > info.max_texel_buffer_elements)
        throw Error(label + ": tensor '" + v.buffer->name() +
                    "' exceeds the device's maxTexelBufferElements");
      VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
      vi.buffer = v.buffer->handle();
      vi.format = half ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
      vi.offset = v.offset;
      vi.range = bytes / texel_bytes * texel_bytes;
      VITSCOPE_VK_CHECK(vkCreateBufferView(ctx_.device(), &vi, nullptr, &texel[i]));
      texel_views_.push_back(texel[i]);
      w.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      w.pTexelBufferView = &texel[i];
    }
    writes.push_back(w);
    ++i;
  }
  vkUpdateDescriptorSets(ctx_.device(), uint32_t(writes.size()), writes.data(), 0, nullptr);
  vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, p.handle());
  vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout(), 0, 1, &set, 0, nullptr);
  if (push_bytes)
    vkCmdPushConstants(cb_, p.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vkCmdDispatch(cb_, gx, gy, gz);
  labels_.push_back(std::move(label));
  if (query_pool_ && labels_.size() < query_capacity_)
    vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_,
                        uint32_t(labels_.size()));
  compute_barrier();
}

void Recorder::copy(const Buffer& src, VkDeviceSize src_offset, const Buffer& dst,
                    VkDeviceSize dst_offset, VkDeviceSize bytes) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                           VK_PIPELINE_STAGE_HOST_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  VkBufferCopy region{src_offset, dst_offset, bytes};
  vkCmdCopyBuffer(cb_, src.handle(), dst.handle(), 1, &region);
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                       &mb, 0, nullptr, 0, nullptr);
}

void Recorder::fill_zero(const Buffer& dst) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  vkCmdFillBuffer(cb_, dst.handle(), 0, VK_WHOLE_SIZE, 0);
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::host_barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::end() {
  VITSCOPE_VK_CHECK(vkEndCommandBuffer(cb_));
  recorded_ = true;
}

void Recorder::run(const std::string& what) {
  VIT_ASSERT(recorded_, "Recorder::run before end()");
  try {
    ctx_.submit_and_wait(cb_, what, forward_timeout_ns());
  } catch (const VulkanError& e) {
    if (e.result() != VK_TIMEOUT && e.result() != VK_ERROR_DEVICE_LOST) throw;
    throw VulkanError(e.result(), e.what() + progress());
  }
  times_.clear();
  if (!query_pool_) return;
  uint32_t n = uint32_t(std::min<size_t>(labels_.size(), query_capacity_ - 1)) + 1;
  std::vector<uint64_t> ts(n);
  VkResult r = vkGetQueryPoolResults(ctx_.device(), query_pool_, 0, n, n * sizeof(uint64_t),
                                     ts.data(), sizeof(uint64_t), VK_QUERY_RESULT_64_BIT);
  if (r != VK_SUCCESS) return;  // timings are best effort
  double period = ctx_.info().timestamp_period_ns;
  for (uint32_t i = 1; i < n; ++i)
    times_.push_back({labels_[i - 1], double(ts[i] - ts[i - 1]) * period * 1e-6});
}

std::string Recorder::progress() const {
  const size_t n_ops = labels_.size();
  if (n_ops == 0) return "";
  const std::string all = std::to_string(n_ops);
  if (query_pool_) {
    // Query 0 is written at the start, query i after dispatch i-1: the first query not yet
    // available follows the dispatch that was running.
    const uint32_t n = uint32_t(std::min<size_t>(n_ops, query_capacity_ - 1)) + 1;
    std::vector<uint64_t> v(size_t(n) * 2);
    VkResult r = vkGetQueryPoolResults(ctx_.device(), query_pool_, 0, n, v.size() * sizeof(uint64_t), v.data(),
                                       2 * sizeof(uint64_t),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WITH_AVAILABILITY_BIT);
    if (r == VK_SUCCESS || r == VK_NOT_READY) {
      for (uint32_t i = 0; i < n; ++i)
        if (v[size_t(i) * 2 + 1] == 0)
          return i == 0 ? "; it had not started (" + all + " dispatches)"
                        : "; it was running '" + labels_[i - 1] + "' (dispatch " + std::to_string(i) + " of " + all + ")";
      if (n == n_ops + 1) return "; all " + all + " dispatches had finished when the timestamps were read";
    }
  }
  return "; " + all + " dispatches, from '" + labels_.front() + "' to '" + labels_.back() + "'";
}

double Recorder::total_ms() const {
  double t = 0;
  for (auto& o : times_) t += o.ms;
  return t;
}

}  // namespace vitscope::vk
