// Drawing the image with its attention heat map inside Dear ImGui windows.
// Dear ImGui 1.86's Vulkan backend cannot bind user textures, so the overlay has its
// own pipeline (app/gui/shaders/overlay.*) on the same render pass and is drawn
// from an ImDrawList callback, followed by ImDrawCallback_ResetRenderState.
// Textures: the model-view image, the original image, a 256-entry colour-map
// table, and an R32F atlas holding every heat grid of the frame as tiles.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <imgui.h>

#include "image.h"
#include "renderer.h"

namespace vitscope::gui {

// Mirrors the push-constant block in shaders/overlay_params.glsl.
struct OverlayParams {
  float rect[4];
  float uv_rect[4];
  float heat_rect[4];
  float framebuffer[2];
  int32_t tile[2];
  int32_t grid[2];
  float opacity;
  float lo, hi;
  int32_t colormap;
  int32_t flags;
  float dim;
};
static_assert(sizeof(OverlayParams) == 96, "OverlayParams must match overlay_params.glsl");

constexpr int kFlagHeat = 1;
constexpr int kFlagBilinear = 2;
constexpr int kFlagSmoothImage = 4;

enum class ImageSlot { View = 0, Original = 1 };

struct OverlayStyle {
  bool heat = true;
  bool bilinear = false;
  bool smooth_image = false;
  float opacity = 0.6f;
  float lo = 0.f, hi = 1.f;  // value range of this tile (the caller resolves "auto")
  int colormap = 0;          // index into viz::colormap_names()
  float dim = 1.0f;          // brightness outside the patch grid
};

class Overlay final : public FrameHooks {
 public:
  explicit Overlay(Renderer& renderer);
  ~Overlay() override;
  Overlay(const Overlay&) = delete;
  Overlay& operator=(const Overlay&) = delete;

  // Replaces an image texture (waits for the device to go idle first).
  void set_image(ImageSlot slot, const Image& image);
  bool has_image(ImageSlot slot) const { return textures_[int(slot)].width > 0; }
  // Replaces the heat grids (each grid_w x grid_h values); uploaded before the next pass.
  void set_heat(int grid_w, int grid_h, std::vector<std::vector<float>> tiles);

  // Starts a frame: forgets the previous frame's draw items.
  void new_frame();
  // Queues a draw of image `slot` with heat tile `tile` over the screen rectangle
  // [p0, p1] (ImGui coordinates). uv: the part of the image shown; heat_uv: where the
  // patch grid lies in image uv.
  void draw(ImDrawList* list, ImVec2 p0, ImVec2 p1, ImageSlot slot, int tile, const OverlayStyle& style,
            ImVec4 uv = ImVec4(0, 0, 1, 1), ImVec4 heat_uv = ImVec4(0, 0, 1, 1));

  void before_pass(VkCommandBuffer cb, uint32_t slot) override;
  void target(VkCommandBuffer cb, const ImDrawData* draw_data) override;

 private:
  struct Texture {
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
    int width = 0, height = 0;
  };
  struct Staging {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    void* mapped = nullptr;
    VkDeviceSize size = 0;
  };
  struct Item {
    Overlay* self;
    ImageSlot slot;
    OverlayParams params;  // rect in ImGui coordinates until recorded
  };

  void release();
  static void draw_callback(const ImDrawList* list, const ImDrawCmd* cmd);
  void record(const Item& item, const ImVec4& clip);
  void create_pipeline();
  Texture make_texture(int width, int height, VkFormat format, VkImageUsageFlags usage);
  void destroy_texture(Texture& t);
  void upload_rgba(Texture& t, const unsigned char* rgba);
  Staging make_staging(VkDeviceSize size);
  void destroy_staging(Staging& s);
  void write_sets();
  void rebuild_atlas();

  Renderer& r_;
  VkDevice device_;
  VkSampler linear_ = VK_NULL_HANDLE, nearest_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkDescriptorSet sets_[2] = {VK_NULL_HANDLE, VK_NULL_HANDLE};
  Texture textures_[2];
  Texture placeholder_;
  Texture colormaps_;
  Texture atlas_;
  std::vector<Staging> staging_;

  int grid_w_ = 1, grid_h_ = 1, atlas_cols_ = 1;
  std::vector<std::vector<float>> tiles_;
  uint64_t heat_version_ = 1, atlas_version_ = 0;

  std::deque<Item> items_;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  const ImDrawData* draw_data_ = nullptr;
};

}  // namespace vitscope::gui
