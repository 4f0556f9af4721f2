#include "overlay.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "overlay_frag.h"
#include "overlay_vert.h"
#include "viz/attention_maps.h"

namespace vitscope::gui {

namespace {

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw VulkanError(int(r), std::string("overlay: ") + what + " failed (VkResult " + std::to_string(int(r)) + ")");
}

VkShaderModule make_module(VkDevice device, const uint32_t* code, size_t bytes) {
  VkShaderModuleCreateInfo ci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  ci.codeSize = bytes;
  ci.pCode = code;
  VkShaderModule m = VK_NULL_HANDLE;
  check(vkCreateShaderModule(device, &ci, nullptr, &m), "vkCreateShaderModule");
  return m;
}

VkImageMemoryBarrier image_barrier(VkImage image, VkImageLayout from, VkImageLayout to, VkAccessFlags src,
                                   VkAccessFlags dst) {
  VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  b.srcAccessMask = src;
  b.dstAccessMask = dst;
  b.oldLayout = from;
  b.newLayout = to;
  b.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.image = image;
  b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  return b;
}

}  // namespace

Overlay::Overlay(Renderer& renderer) : r_(renderer), device_(renderer.device()) {
  try {
    VkSamplerCreateInfo si{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    si.magFilter = si.minFilter = VK_FILTER_LINEAR;
    si.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
    si.addressModeU = si.addressModeV = si.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    si.maxLod = 0.f;
    check(vkCreateSampler(device_, &si, nullptr, &linear_), "vkCreateSampler");
    si.magFilter = si.minFilter = VK_FILTER_NEAREST;
    check(vkCreateSampler(device_, &si, nullptr, &nearest_), "vkCreateSampler");

    VkDescriptorSetLayoutBinding b[3] = {};
    for (uint32_t i = 0; i < 3; ++i) {
      b[i].binding = i;
      b[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
      b[i].descriptorCount = 1;
      b[i].stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
    }
    VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    li.bindingCount = 3;
    li.pBindings = b;
    check(vkCreateDescriptorSetLayout(device_, &li, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
    VkPushConstantRange range{VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof(OverlayParams)};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &set_layout_;
    pl.pushConstantRangeCount = 1;
    pl.pPushConstantRanges = &range;
    check(vkCreatePipelineLayout(device_, &pl, nullptr, &layout_), "vkCreatePipelineLayout");
    create_pipeline();

    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 6};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.maxSets = 2;
    pi.poolSizeCount = 1;
    pi.pPoolSizes = &ps;
    check(vkCreateDescriptorPool(device_, &pi, nullptr, &pool_), "vkCreateDescriptorPool");
    VkDescriptorSetLayout layouts[2] = {set_layout_, set_layout_};
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pool_;
    ai.descriptorSetCount = 2;
    ai.pSetLayouts = layouts;
    check(vkAllocateDescriptorSets(device_, &ai, sets_), "vkAllocateDescriptorSets");

    // A mid-grey 1x1 image stands in until a real one arrives.
    placeholder_ = make_texture(1, 1, VK_FORMAT_R8G8B8A8_UNORM, VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
    const unsigned char grey[4] = {40, 40, 44, 255};
    upload_rgba(placeholder_, grey);

    // Colour maps: one row of 256 entries per map, in viz::colormap_names() order.
    const auto& names = viz::colormap_names();
    colormaps_ = make_texture(256, int(names.size()), VK_FORMAT_R8G8B8A8_UNORM,
                              VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
    std::vector<unsigned char> lut(256 * names.size() * 4);
    for (size_t m = 0; m < names.size(); ++m)
      for (int i = 0; i < 256; ++i) {
        unsigned char* px = &lut[(m * 256 + size_t(i)) * 4];
        viz::colormap(names[m], float(i) / 255.f, px);
        px[3] = 255;
      }
    upload_rgba(colormaps_, lut.data());
    tiles_.assign(1, std::vector<float>(1, 0.f));
    rebuild_atlas();
  } catch (...) {
    release();
    throw;
  }
}

Overlay::~Overlay() { release(); }

void Overlay::release() {
  if (!device_) return;
  r_.wait_idle();
  for (auto& s : staging_) destroy_staging(s);
  staging_.clear();
  destroy_texture(textures_[0]);
  destroy_texture(textures_[1]);
  destroy_texture(placeholder_);
  destroy_texture(colormaps_);
  destroy_texture(atlas_);
  if (pool_) vkDestroyDescriptorPool(device_, pool_, nullptr);
  if (pipeline_) vkDestroyPipeline(device_, pipeline_, nullptr);
  if (layout_) vkDestroyPipelineLayout(device_, layout_, nullptr);
  if (set_layout_) vkDestroyDescriptorSetLayout(device_, set_layout_, nullptr);
  if (linear_) vkDestroySampler(device_, linear_, nullptr);
  if (nearest_) vkDestroySampler(device_, nearest_, nullptr);
  pool_ = VK_NULL_HANDLE;
  pipeline_ = VK_NULL_HANDLE;
  layout_ = VK_NULL_HANDLE;
  set_layout_ = VK_NULL_HANDLE;
  linear_ = nearest_ = VK_NULL_HANDLE;
  device_ = VK_NULL_HANDLE;
}

void Overlay::create_pipeline() {
  VkShaderModule vs = make_module(device_, spv_overlay_vert, sizeof(spv_overlay_vert));
  VkShaderModule fs = VK_NULL_HANDLE;
  try {
    fs = make_module(device_, spv_overlay_frag, sizeof(spv_overlay_frag));
    VkPipelineShaderStageCreateInfo stages[2] = {};
    stages[0].sType = stages[1].sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    stages[0].stage = VK_SHADER_STAGE_VERTEX_BIT;
    stages[0].module = vs;
    stages[0].pName = "main";
    stages[1].stage = VK_SHADER_STAGE_FRAGMENT_BIT;
    stages[1].module = fs;
    stages[1].pName = "main";
    VkPipelineVertexInputStateCreateInfo vin{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    VkPipelineInputAssemblyStateCreateInfo ia{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
    VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
    vp.viewportCount = 1;
    vp.scissorCount = 1;
    VkPipelineRasterizationStateCreateInfo rs{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
    rs.lineWidth = 1.0f;
    VkPipelineMultisampleStateCreateInfo ms{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    VkPipelineColorBlendAttachmentState att{};
    att.colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT | VK_COLOR_COMPONENT_A_BIT;
    VkPipelineColorBlendStateCreateInfo cb{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
    cb.attachmentCount = 1;
    cb.pAttachments = &att;
    VkPipelineDepthStencilStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO};
    const VkDynamicState dyn[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo dy{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
    dy.dynamicStateCount = 2;
    dy.pDynamicStates = dyn;
    VkGraphicsPipelineCreateInfo ci{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
    ci.stageCount = 2;
    ci.pStages = stages;
    ci.pVertexInputState = &vin;
    ci.pInputAssemblyState = &ia;
    ci.pViewportState = &vp;
    ci.pRasterizationState = &rs;
    ci.pMultisampleState = &ms;
    ci.pDepthStencilState = &ds;
    ci.pColorBlendState = &cb;
    ci.pDynamicState = &dy;
    ci.layout = layout_;
    ci.renderPass = r_.render_pass();
    ci.subpass = 0;
    check(vkCreateGraphicsPipelines(device_, VK_NULL_HANDLE, 1, &ci, nullptr, &pipeline_), "vkCreateGraphicsPipelines");
  } catch (...) {
    vkDestroyShaderModule(device_, vs, nullptr);
    if (fs) vkDestroyShaderModule(device_, fs, nullptr);
    throw;
  }
  vkDestroyShaderModule(device_, vs, nullptr);
  vkDestroyShaderModule(device_, fs, nullptr);
}

Overlay::Texture Overlay::make_texture(int width, int height, VkFormat format, VkImageUsageFlags usage) {
  Texture t;
  t.width = width;
  t.height = height;
  try {
    VkImageCreateInfo ii{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ii.imageType = VK_IMAGE_TYPE_2D;
    ii.format = format;
    ii.extent = {uint32_t(width), uint32_t(height), 1};
    ii.mipLevels = 1;
    ii.arrayLayers = 1;
    ii.samples = VK_SAMPLE_COUNT_1_BIT;
    ii.tiling = VK_IMAGE_TILING_OPTIMAL;
    ii.usage = usage;
    ii.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    check(vkCreateImage(device_, &ii, nullptr, &t.image), "vkCreateImage");
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(device_, t.image, &req);
    VkMemoryAllocateInfo ma{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ma.allocationSize = req.size;
    ma.memoryTypeIndex = r_.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    check(vkAllocateMemory(device_, &ma, nullptr, &t.memory), "vkAllocateMemory (texture)");
    check(vkBindImageMemory(device_, t.image, t.memory, 0), "vkBindImageMemory");
    VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    vi.image = t.image;
    vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vi.format = format;
    vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    check(vkCreateImageView(device_, &vi, nullptr, &t.view), "vkCreateImageView");
  } catch (...) {
    destroy_texture(t);
    throw;
  }
  return t;
}

void Overlay::destroy_texture(Texture& t) {
  if (t.view) vkDestroyImageView(device_, t.view, nullptr);
  if (t.image) vkDestroyImage(device_, t.image, nullptr);
  if (t.memory) vkFreeMemory(device_, t.memory, nullptr);
  t = Texture{};
}

Overlay::Staging Overlay::make_staging(VkDeviceSize size) {
  Staging s;
  s.size = size;
  try {
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
    check(vkCreateBuffer(device_, &bi, nullptr, &s.buffer), "vkCreateBuffer (staging)");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, s.buffer, &req);
    VkMemoryAllocateInfo ma{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ma.allocationSize = req.size;
    ma.memoryTypeIndex =
        r_.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    check(vkAllocateMemory(device_, &ma, nullptr, &s.memory), "vkAllocateMemory (staging)");
    check(vkBindBufferMemory(device_, s.buffer, s.memory, 0), "vkBindBufferMemory");
    check(vkMapMemory(device_, s.memory, 0, size, 0, &s.mapped), "vkMapMemory");
  } catch (...) {
    destroy_staging(s);
    throw;
  }
  return s;
}

void Overlay::destroy_staging(Staging& s) {
  if (s.mapped) vkUnmapMemory(device_, s.memory);
  if (s.buffer) vkDestroyBuffer(device_, s.buffer, nullptr);
  if (s.memory) vkFreeMemory(device_, s.memory, nullptr);
  s = Staging{};
}

void Overlay::upload_rgba(Texture& t, const unsigned char* rgba) {
  const VkDeviceSize bytes = VkDeviceSize(t.width) * VkDeviceSize(t.height) * 4;
  Staging s = make_staging(bytes);
  std::memcpy(s.mapped, rgba, size_t(bytes));
  try {
    r_.submit_now([&](VkCommandBuffer cb) {
      auto to_dst = image_barrier(t.image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0,
                                  VK_ACCESS_TRANSFER_WRITE_BIT);
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                           nullptr, 1, &to_dst);
      VkBufferImageCopy region{};
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {uint32_t(t.width), uint32_t(t.height), 1};
      vkCmdCopyBufferToImage(cb, s.buffer, t.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
      auto to_read = image_barrier(t.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL,
                                   VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT);
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0,
                           nullptr, 1, &to_read);
    });
  } catch (...) {
    destroy_staging(s);
    throw;
  }
  destroy_staging(s);
}

void Overlay::write_sets() {
  for (int i = 0; i < 2; ++i) {
    VkDescriptorImageInfo infos[3] = {};
    infos[0].sampler = linear_;
    infos[0].imageView = textures_[i].view ? textures_[i].view : placeholder_.view;
    infos[1].sampler = nearest_;
    infos[1].imageView = atlas_.view;
    infos[2].sampler = nearest_;
    infos[2].imageView = colormaps_.view;
    VkWriteDescriptorSet w[3] = {};
    for (uint32_t k = 0; k < 3; ++k) {
      infos[k].imageLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
      w[k].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
      w[k].dstSet = sets_[i];
      w[k].dstBinding = k;
      w[k].descriptorCount = 1;
      w[k].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
      w[k].pImageInfo = &infos[k];
    }
    vkUpdateDescriptorSets(device_, 3, w, 0, nullptr);
  }
}

void Overlay::set_image(ImageSlot slot, const Image& image) {
  if (image.width <= 0 || image.height <= 0) return;
  std::vector<unsigned char> rgba(size_t(image.width) * size_t(image.height) * 4);
  for (size_t i = 0, n = size_t(image.width) * size_t(image.height); i < n; ++i) {
    for (int c = 0; c < 3; ++c)
      rgba[i * 4 + size_t(c)] = image.pixels[i * size_t(image.channels) + size_t(image.channels == 1 ? 0 : c)];
    rgba[i * 4 + 3] = 255;
  }
  r_.wait_idle();  // the old texture may still be in use by a frame in flight
  Texture& t = textures_[int(slot)];
  destroy_texture(t);
  t = make_texture(image.width, image.height, VK_FORMAT_R8G8B8A8_UNORM,
                   VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
  upload_rgba(t, rgba.data());
  write_sets();
}

void Overlay::set_heat(int grid_w, int grid_h, std::vector<std::vector<float>> tiles) {
  if (grid_w <= 0 || grid_h <= 0) return;
  if (tiles.empty()) tiles.emplace_back();
  for (auto& t : tiles) t.resize(size_t(grid_w) * size_t(grid_h), 0.f);
  const bool reshape = grid_w != grid_w_ || grid_h != grid_h_ || tiles.size() != tiles_.size();
  grid_w_ = grid_w;
  grid_h_ = grid_h;
  tiles_ = std::move(tiles);
  ++heat_version_;
  if (reshape) rebuild_atlas();
}

void Overlay::rebuild_atlas() {
  const int n = int(tiles_.size());
  atlas_cols_ = std::max(1, int(std::ceil(std::sqrt(double(n)))));
  const int rows = (n + atlas_cols_ - 1) / atlas_cols_;
  r_.wait_idle();
  destroy_texture(atlas_);
  for (auto& s : staging_) destroy_staging(s);
  staging_.clear();
  atlas_ = make_texture(atlas_cols_ * grid_w_, rows * grid_h_, VK_FORMAT_R32_SFLOAT,
                        VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
  // Give the atlas a defined layout and zero contents before any frame samples it.
  std::vector<float> zeros(size_t(atlas_.width) * size_t(atlas_.height), 0.f);
  Staging s = make_staging(zeros.size() * sizeof(float));
  std::memcpy(s.mapped, zeros.data(), zeros.size() * sizeof(float));
  try {
    r_.submit_now([&](VkCommandBuffer cb) {
      auto to_dst = image_barrier(atlas_.image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0,
                                  VK_ACCESS_TRANSFER_WRITE_BIT);
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                           nullptr, 1, &to_dst);
      VkBufferImageCopy region{};
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {uint32_t(atlas_.width), uint32_t(atlas_.height), 1};
      vkCmdCopyBufferToImage(cb, s.buffer, atlas_.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
      auto to_read = image_barrier(atlas_.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                                   VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT,
                                   VK_ACCESS_SHADER_READ_BIT);
      vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0,
                           nullptr, 1, &to_read);
    });
  } catch (...) {
    destroy_staging(s);
    throw;
  }
  destroy_staging(s);
  atlas_version_ = 0;
  write_sets();
}

void Overlay::before_pass(VkCommandBuffer cb, uint32_t slot) {
  if (atlas_version_ == heat_version_) return;
  const VkDeviceSize bytes = VkDeviceSize(atlas_.width) * VkDeviceSize(atlas_.height) * sizeof(float);
  if (staging_.size() <= slot) staging_.resize(size_t(slot) + 1);
  Staging& s = staging_[slot];
  if (s.size < bytes) {
    destroy_staging(s);
    s = make_staging(bytes);
  }
  // Lay the tiles out in the atlas: tile i at column i % cols, row i / cols.
  auto* dst = static_cast<float*>(s.mapped);
  std::memset(dst, 0, size_t(bytes));
  for (size_t i = 0; i < tiles_.size(); ++i) {
    const int ox = int(i % size_t(atlas_cols_)) * grid_w_, oy = int(i / size_t(atlas_cols_)) * grid_h_;
    for (int y = 0; y < grid_h_; ++y)
      std::memcpy(dst + size_t(oy + y) * size_t(atlas_.width) + size_t(ox), tiles_[i].data() + size_t(y) * size_t(grid_w_),
                  size_t(grid_w_) * sizeof(float));
  }
  auto to_dst = image_barrier(atlas_.image, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL,
                              VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_ACCESS_SHADER_READ_BIT,
                              VK_ACCESS_TRANSFER_WRITE_BIT);
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr,
                       1, &to_dst);
  VkBufferImageCopy region{};
  region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.imageExtent = {uint32_t(atlas_.width), uint32_t(atlas_.height), 1};
  vkCmdCopyBufferToImage(cb, s.buffer, atlas_.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
  auto to_read = image_barrier(atlas_.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL,
                               VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT);
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0, nullptr,
                       1, &to_read);
  atlas_version_ = heat_version_;
}

void Overlay::target(VkCommandBuffer cb, const ImDrawData* draw_data) {
  cb_ = cb;
  draw_data_ = draw_data;
}

void Overlay::new_frame() { items_.clear(); }

void Overlay::draw(ImDrawList* list, ImVec2 p0, ImVec2 p1, ImageSlot slot, int tile, const OverlayStyle& style, ImVec4 uv,
                   ImVec4 heat_uv) {
  Item item{};
  item.self = this;
  item.slot = has_image(slot) ? slot : ImageSlot::View;
  OverlayParams& p = item.params;
  p.rect[0] = p0.x;
  p.rect[1] = p0.y;
  p.rect[2] = p1.x;
  p.rect[3] = p1.y;
  p.uv_rect[0] = uv.x;
  p.uv_rect[1] = uv.y;
  p.uv_rect[2] = uv.z;
  p.uv_rect[3] = uv.w;
  p.heat_rect[0] = heat_uv.x;
  p.heat_rect[1] = heat_uv.y;
  p.heat_rect[2] = heat_uv.z;
  p.heat_rect[3] = heat_uv.w;
  tile = std::clamp(tile, 0, int(tiles_.size()) - 1);
  p.tile[0] = (tile % atlas_cols_) * grid_w_;
  p.tile[1] = (tile / atlas_cols_) * grid_h_;
  p.grid[0] = grid_w_;
  p.grid[1] = grid_h_;
  p.opacity = std::clamp(style.opacity, 0.f, 1.f);
  p.lo = style.lo;
  p.hi = style.hi;
  p.colormap = std::clamp(style.colormap, 0, int(viz::colormap_names().size()) - 1);
  p.flags = (style.heat ? kFlagHeat : 0) | (style.bilinear ? kFlagBilinear : 0) | (style.smooth_image ? kFlagSmoothImage : 0);
  p.dim = style.dim;
  items_.push_back(item);
  list->AddCallback(&Overlay::draw_callback, &items_.back());
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

void Overlay::draw_callback(const ImDrawList*, const ImDrawCmd* cmd) {
  const auto* item = static_cast<const Item*>(cmd->UserCallbackData);
  item->self->record(*item, cmd->ClipRect);
}

void Overlay::record(const Item& item, const ImVec4& clip) {
  if (!cb_ || !draw_data_) return;
  const ImDrawData* dd = draw_data_;
  const float fb_w = dd->DisplaySize.x * dd->FramebufferScale.x, fb_h = dd->DisplaySize.y * dd->FramebufferScale.y;
  const ImVec2 off = dd->DisplayPos, scale = dd->FramebufferScale;
  // Scissor exactly as the backend projects ImGui's clip rectangles.
  float x0 = std::max((clip.x - off.x) * scale.x, 0.f), y0 = std::max((clip.y - off.y) * scale.y, 0.f);
  float x1 = std::min((clip.z - off.x) * scale.x, fb_w), y1 = std::min((clip.w - off.y) * scale.y, fb_h);
  if (x1 <= x0 || y1 <= y0) return;
  VkRect2D scissor;
  scissor.offset = {int32_t(x0), int32_t(y0)};
  scissor.extent = {uint32_t(x1 - x0), uint32_t(y1 - y0)};
  OverlayParams p = item.params;
  p.rect[0] = (p.rect[0] - off.x) * scale.x;
  p.rect[1] = (p.rect[1] - off.y) * scale.y;
  p.rect[2] = (p.rect[2] - off.x) * scale.x;
  p.rect[3] = (p.rect[3] - off.y) * scale.y;
  p.framebuffer[0] = fb_w;
  p.framebuffer[1] = fb_h;
  VkViewport vp{0.f, 0.f, fb_w, fb_h, 0.f, 1.f};
  vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline_);
  vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_GRAPHICS, layout_, 0, 1, &sets_[int(item.slot)], 0, nullptr);
  vkCmdSetViewport(cb_, 0, 1, &vp);
  vkCmdSetScissor(cb_, 0, 1, &scissor);
  vkCmdPushConstants(cb_, layout_, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof(OverlayParams), &p);
  vkCmdDraw(cb_, 4, 1, 0, 0);
}

}  // namespace vitscope::gui
