// Buffers: RAII VkBuffer + VkDeviceMemory, and the staging helpers that move data
// between the host and device-local memory.
#pragma once
#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace vitscope::vk {

class Context;

enum class BufferKind {
  Device,    // device-local storage buffer (weights, activations)
  Upload,    // host-visible, written by the CPU, source of transfers
  Readback,  // host-visible (cached where possible), destination of transfers
};

class Buffer {
 public:
  Buffer(Context& ctx, VkDeviceSize bytes, BufferKind kind, std::string name);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&&) = delete;

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize size() const { return size_; }
  const std::string& name() const { return name_; }
  // Host pointer for Upload/Readback buffers (persistently mapped); null for Device.
  void* mapped() const { return mapped_; }
  // For Readback buffers on non-coherent memory: make device writes visible.
  void invalidate() const;
  void flush() const;

 private:
  Context* ctx_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
  bool coherent_ = true;
  std::string name_;
};

// A byte range of a buffer, as bound to one shader slot.
struct BufferView {
  const Buffer* buffer = nullptr;
  VkDeviceSize offset = 0;
  VkDeviceSize bytes = 0;  // 0: to the end of the buffer
  // Whether the view starts on a multiple of `a` bytes (texel views and vec4 accesses need it).
  bool aligned_to(VkDeviceSize a) const { return a == 0 || offset % a == 0; }
};

// Streams host data into device-local buffers through one staging buffer, batching
// copies into few submits. `fill` writes `bytes` bytes at `dst` (mapped staging memory).
class Uploader {
 public:
  explicit Uploader(Context& ctx, VkDeviceSize staging_bytes = 16u << 20);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  using Fill = std::function<void(void* dst, VkDeviceSize offset_in_source, VkDeviceSize bytes)>;
  // Copies `bytes` bytes produced by `fill` into `dst` at `dst_offset`, in chunks.
  void upload(const Buffer& dst, VkDeviceSize dst_offset, VkDeviceSize bytes, const Fill& fill);
  void upload(const Buffer& dst, VkDeviceSize dst_offset, const void* data, VkDeviceSize bytes);
  // Submits pending copies and waits.
  void flush();

 private:
  Context& ctx_;
  Buffer staging_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  VkDeviceSize used_ = 0;
  bool recording_ = false;
  void begin_if_needed();
};

// Reads `bytes` bytes of a device buffer back to the host (one blocking transfer).
void download(Context& ctx, const Buffer& src, VkDeviceSize offset, void* dst, VkDeviceSize bytes);

}  // namespace vitscope::vk
