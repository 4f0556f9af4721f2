// Recorder: one command buffer holding a sequence of compute dispatches, copies and
// barriers, recorded once and replayable. Owns the descriptor sets and texel-buffer
// views it creates, and a timestamp query per op when the queue supports them.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "vk/buffer.h"
#include "vk/pipeline.h"

namespace vitscope::vk {

class Context;

struct OpTime {
  std::string label;
  double ms = 0.0;
};

class Recorder {
 public:
  explicit Recorder(Context& ctx, bool timestamps = true);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void begin();
  // Binds `views` to slots 0..n-1 of `p` (texel slots get an RGBA32F view), pushes
  // constants, dispatches, then inserts a compute-to-compute barrier.
  void dispatch(const Pipeline& p, std::initializer_list<BufferView> views, const void* push,
                uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz, std::string label);
  template <class Push>
  void dispatch(const Pipeline& p, std::initializer_list<BufferView> views, const Push& push,
                uint32_t gx, uint32_t gy, uint32_t gz, std::string label) {
    dispatch(p, views, &push, sizeof(Push), gx, gy, gz, std::move(label));
  }
  // Copy with barriers before (after compute/transfer writes) and after.
  void copy(const Buffer& src, VkDeviceSize src_offset, const Buffer& dst, VkDeviceSize dst_offset,
            VkDeviceSize bytes);
  void fill_zero(const Buffer& dst);
  // Make transfer writes into host-visible buffers visible to the host.
  void host_barrier();
  void end();

  // Submits the recorded commands and waits; collects op timings.
  void run(const std::string& what);

  const std::vector<OpTime>& op_times() const { return times_; }
  double total_ms() const;
  size_t dispatch_count() const { return labels_.size(); }
  bool has_timestamps() const { return query_pool_ != VK_NULL_HANDLE; }

 private:
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  // After a time-out or device loss: which dispatch was running, from the timestamps.
  std::string progress() const;
  void compute_barrier();

  Context& ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> descriptor_pools_;
  std::vector<VkBufferView> texel_views_;
  VkQueryPool query_pool_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0;
  bool want_timestamps_ = true;
  std::vector<std::string> labels_;
  std::vector<OpTime> times_;
  bool recorded_ = false;
};

}  // namespace vitscope::vk
