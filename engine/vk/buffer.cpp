#include "vk/buffer.h"

#include <algorithm>
#include <cstring>

#include "vk/context.h"

namespace vitscope::vk {

namespace {
std::string human_bytes(VkDeviceSize b) {
  char buf[64];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1ull << 30));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(1ull << 20));
  return buf;
}
}  // namespace

Buffer::Buffer(Context& ctx, VkDeviceSize bytes, BufferKind kind, std::string name)
    : ctx_(&ctx), size_(std::max<VkDeviceSize>(bytes, 4)), name_(std::move(name)) {
  VkDevice dev = ctx.device();
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size_;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  switch (kind) {
    case BufferKind::Device:
      bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                  VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
      break;
    case BufferKind::Upload: bci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT; break;
    case BufferKind::Readback: bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT; break;
  }
  VITSCOPE_VK_CHECK(vkCreateBuffer(dev, &bci, nullptr, &buffer_));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev, buffer_, &req);
  VkMemoryPropertyFlags want = 0, prefer = 0;
  if (kind == BufferKind::Device) {
    want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  } else if (kind == BufferKind::Upload) {
    want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  } else {
    want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    prefer = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
  }
  uint32_t type;
  try {
    type = ctx.find_memory_type(req.memoryTypeBits, want, prefer);
  } catch (const Error&) {
    if (kind != BufferKind::Device) throw;
    type = ctx.find_memory_type(req.memoryTypeBits, 0);
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  VkResult r = vkAllocateMemory(dev, &mai, nullptr, &memory_);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
    vkDestroyBuffer(dev, buffer_, nullptr);
    throw VulkanError(int(r), "out of device memory allocating " + human_bytes(req.size) +
                                  " for '" + name_ + "' on " + ctx.info().name);
  }
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(dev, buffer_, nullptr);
    VITSCOPE_VK_CHECK(r);
  }
  VITSCOPE_VK_CHECK(vkBindBufferMemory(dev, buffer_, memory_, 0));
  if (kind != BufferKind::Device) {
    VITSCOPE_VK_CHECK(vkMapMemory(dev, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_));
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(ctx.physical_device(), &mp);
    coherent_ = mp.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  }
}

Buffer::Buffer(Buffer&& o) noexcept
    : ctx_(o.ctx_), buffer_(o.buffer_), memory_(o.memory_), size_(o.size_), mapped_(o.mapped_),
      coherent_(o.coherent_), name_(std::move(o.name_)) {
  o.buffer_ = VK_NULL_HANDLE;
  o.memory_ = VK_NULL_HANDLE;
  o.mapped_ = nullptr;
}

Buffer::~Buffer() {
  if (ctx_->lost()) return;  // may still be in use by the device: leak, don't free
  VkDevice dev = ctx_->device();
  if (mapped_) vkUnmapMemory(dev, memory_);
  if (buffer_) vkDestroyBuffer(dev, buffer_, nullptr);
  if (memory_) vkFreeMemory(dev, memory_, nullptr);
}

void Buffer::invalidate() const {
  if (coherent_ || !mapped_) return;
  VkMappedMemoryRange r{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
  r.memory = memory_;
  r.size = VK_WHOLE_SIZE;
  VITSCOPE_VK_CHECK(vkInvalidateMappedMemoryRanges(ctx_->device(), 1, &r));
}

void Buffer::flush() const {
  if (coherent_ || !mapped_) return;
  VkMappedMemoryRange r{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
  r.memory = memory_;
  r.size = VK_WHOLE_SIZE;
  VITSCOPE_VK_CHECK(vkFlushMappedMemoryRanges(ctx_->device(), 1, &r));
}

Uploader::Uploader(Context& ctx, VkDeviceSize staging_bytes)
    : ctx_(ctx), staging_(ctx, staging_bytes, BufferKind::Upload, "staging") {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = ctx.info().compute_queue_family;
  VITSCOPE_VK_CHECK(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool_));
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VITSCOPE_VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &ai, &cb_));
}

Uploader::~Uploader() {
  if (pool_ && !ctx_.lost()) vkDestroyCommandPool(ctx_.device(), pool_, nullptr);
}

void Uploader::begin_if_needed() {
  if (recording_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VITSCOPE_VK_CHECK(vkBeginCommandBuffer(cb_, &bi));
  recording_ = true;
}

void Uploader::upload(const Buffer& dst, VkDeviceSize dst_offset, VkDeviceSize bytes,
                      const Fill& fill) {
  VIT_ASSERT(dst_offset + bytes <= dst.size(), "upload past the end of " + dst.name());
  VkDeviceSize done = 0;
  while (done < bytes) {
    if (used_ == staging_.size()) flush();
    VkDeviceSize n = std::min(bytes - done, staging_.size() - used_);
    fill(static_cast<char*>(staging_.mapped()) + used_, done, n);
    begin_if_needed();
    VkBufferCopy region{used_, dst_offset + done, n};
    vkCmdCopyBuffer(cb_, staging_.handle(), dst.handle(), 1, &region);
    used_ += (n + 15) & ~VkDeviceSize(15);
    used_ = std::min(used_, staging_.size());
    done += n;
  }
}

void Uploader::upload(const Buffer& dst, VkDeviceSize dst_offset, const void* data,
                      VkDeviceSize bytes) {
  upload(dst, dst_offset, bytes, [data](void* out, VkDeviceSize off, VkDeviceSize n) {
    std::memcpy(out, static_cast<const char*>(data) + off, n);
  });
}

void Uploader::flush() {
  if (!recording_) return;
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       0, 1, &mb, 0, nullptr, 0, nullptr);
  VITSCOPE_VK_CHECK(vkEndCommandBuffer(cb_));
  recording_ = false;
  ctx_.submit_and_wait(cb_, "weight upload");
  VITSCOPE_VK_CHECK(vkResetCommandBuffer(cb_, 0));
  used_ = 0;
}

void download(Context& ctx, const Buffer& src, VkDeviceSize offset, void* dst, VkDeviceSize bytes) {
  Buffer rb(ctx, bytes, BufferKind::Readback, "readback");
  VkCommandPool pool;
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.queueFamilyIndex = ctx.info().compute_queue_family;
  VITSCOPE_VK_CHECK(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool));
  struct PoolGuard {
    const Context& c;
    VkCommandPool p;
    ~PoolGuard() {
      if (!c.lost()) vkDestroyCommandPool(c.device(), p, nullptr);
    }
  } guard{ctx, pool};
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  VITSCOPE_VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &ai, &cb));
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VITSCOPE_VK_CHECK(vkBeginCommandBuffer(cb, &bi));
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  VkBufferCopy region{offset, 0, bytes};
  vkCmdCopyBuffer(cb, src.handle(), rb.handle(), 1, &region);
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0,
                       nullptr, 0, nullptr);
  VITSCOPE_VK_CHECK(vkEndCommandBuffer(cb));
  ctx.submit_and_wait(cb, "download of " + src.name());
  rb.invalidate();
  std::memcpy(dst, rb.mapped(), bytes);
}

}  // namespace vitscope::vk
