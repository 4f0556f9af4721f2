// Device-memory checks made before allocating: a model's weights, and a forward pass's
// activations plus the weights already resident, against the device's largest
// device-local heap; and each buffer against maxStorageBufferRange (the most one shader
// binding can address). Too large gives a vitscope::Error such as
//   "model needs 1.40 GiB of device memory, device 0 (llvmpipe) has 1.00 GiB"
// instead of a VK_ERROR_OUT_OF_DEVICE_MEMORY later (or none at all, on drivers that
// over-commit). VITSCOPE_MEMORY_CHECK=0 skips the heap comparison (not the range one).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/weights.h"
#include "vk/context.h"

namespace vitscope {

struct MemoryRequest {
  std::string what;        // "model", "forward pass of batch 8", ...
  uint64_t total = 0;      // device bytes that will be resident together
  uint64_t largest = 0;    // the largest single buffer
  std::string largest_name;
  uint64_t per_image_largest = 0;  // for activations: bytes of the largest buffer per image
  std::string hint;        // appended to the message, e.g. "use a smaller batch"
};

// The weights of `w` as uploaded (float32, one buffer per tensor).
MemoryRequest weights_request(const VitWeights& w);
// Device activations of one recorded forward pass (mirrors VitModel::record), plus
// `resident` bytes already on the device (the weights).
MemoryRequest activations_request(const VitConfig& c, int batch, bool keep_attention, uint64_t resident);

// "" when `r` fits `d`, else the message.
std::string memory_problem(const vk::DeviceInfo& d, const MemoryRequest& r);
// Throws vitscope::Error with memory_problem's message.
void check_device_memory(const vk::Context& ctx, const MemoryRequest& r);

std::string human_bytes(uint64_t bytes);  // "1.40 GiB", "12.5 MiB", "900 bytes"

}  // namespace vitscope
