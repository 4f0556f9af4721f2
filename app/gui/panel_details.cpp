// The right panel: prediction, the Model / Device / Timing tabs and the input size.
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app.h"
#include "theme.h"
#include "widgets.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

void App::draw_details(ImVec2 pos, ImVec2 size) {
  ImGui::SetNextWindowPos(pos);
  ImGui::SetNextWindowSize(size);
  ImGui::Begin("Prediction and model", nullptr, kPanelFlags);
  details_rect_ = rect_of(ImGui::GetWindowPos(), ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x,
                                                         ImGui::GetWindowPos().y + ImGui::GetWindowSize().y));
  const ImVec2 pred0 = ImGui::GetCursorScreenPos();
  section("Prediction");
  if (!model_) {
    ImGui::TextDisabled("No model loaded.");
  } else if (model_->config.num_classes <= 0) {
    ImGui::TextWrapped("Headless model: its output is a %d-dimensional feature vector, not classes.",
                       model_->config.embed_dim);
  } else if (!loaded_ || top_.empty()) {
    ImGui::TextDisabled("No image yet.");
  } else {
    const auto& labels = model_->config.labels;
    auto label = [&](int i) { return size_t(i) < labels.size() ? labels[size_t(i)] : "class " + std::to_string(i); };
    if (theme::headline_font()) ImGui::PushFont(theme::headline_font());
    ImGui::TextColored(theme::kAccentText, "%s", label(top_[0].first).c_str());
    if (theme::headline_font()) ImGui::PopFont();
    ImGui::TextDisabled("%.1f %% confidence, class %d of %d", double(top_[0].second) * 100.0, top_[0].first,
                        model_->config.num_classes);
    ImGui::Spacing();
    if (ImGui::BeginTable("##top", 2, ImGuiTableFlags_SizingStretchProp)) {
      ImGui::TableSetupColumn("label", ImGuiTableColumnFlags_WidthStretch, 0.42f);
      ImGui::TableSetupColumn("bar", ImGuiTableColumnFlags_WidthStretch, 0.58f);
      const size_t k = std::min<size_t>(top_.size(), 10);
      for (size_t i = 0; i < k; ++i) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextUnformatted(label(top_[i].first).c_str());
        ImGui::TableSetColumnIndex(1);
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.1f %%", double(top_[i].second) * 100.0);
        ImGui::PushStyleColor(ImGuiCol_PlotHistogram, i == 0 ? theme::kAccent : theme::kBarMuted);
        ImGui::ProgressBar(top_[i].second, ImVec2(-1.f, ImGui::GetTextLineHeight() + 2.f), pct);
        ImGui::PopStyleColor();
      }
      ImGui::EndTable();
    }
  }
  const ImVec2 pred1(pred0.x + ImGui::GetContentRegionAvail().x, ImGui::GetCursorScreenPos().y);
  predictions_rect_ = rect_of(pred0, pred1);
  if (model_) {
    const VitConfig& c = model_->config;
    ImGui::Spacing();
    if (ImGui::BeginTabBar("##info")) {
      auto info_flags = [&](InfoTab t) {
        return force_info_tab_ && info_tab_ == t ? ImGuiTabItemFlags_SetSelected : ImGuiTabItemFlags_None;
      };
      if (ImGui::BeginTabItem("Model", nullptr, info_flags(InfoTab::Model))) {
        if (ImGui::BeginTable("##model", 2, ImGuiTableFlags_SizingFixedFit)) {
          ImGui::TableSetupColumn("k", ImGuiTableColumnFlags_WidthFixed);
          ImGui::TableSetupColumn("v", ImGuiTableColumnFlags_WidthStretch);
          key_value("Architecture", c.architecture);
          key_value("File", fs::path(model_->path).filename().string());
          key_value("Parameters", format_count(model_->parameters) + "  (" + format_bytes(model_->weight_bytes) + ")");
          key_value("Input", std::to_string(c.in_chans) + " x " + std::to_string(c.img_h) + " x " + std::to_string(c.img_w));
          const bool resized = c.img_h != model_->native_h || c.img_w != model_->native_w;
          key_value("Native size", std::to_string(model_->native_h) + " x " + std::to_string(model_->native_w) +
                                       (resized ? " (position embeddings resampled)" : ""));
          key_value("Patches", std::to_string(c.patch) + " px, " + std::to_string(c.grid_h()) + " x " +
                                   std::to_string(c.grid_w()) + " grid");
          key_value("Tokens", std::to_string(c.tokens()) + " (" + std::to_string(c.prefix_tokens()) + " prefix)");
          key_value("Layers", std::to_string(c.depth));
          key_value("Heads", std::to_string(c.num_heads) + " of width " + std::to_string(c.head_dim()));
          key_value("Embedding", std::to_string(c.embed_dim) + ", MLP " + std::to_string(c.mlp_hidden));
          key_value("Classes", c.num_classes > 0 ? std::to_string(c.num_classes) : "headless");
          char gf[48];
          std::snprintf(gf, sizeof gf, "%.4g GFLOP per image", model_->gflops);
          key_value("Compute", gf);
          if (loaded_) key_value("Preprocess", loaded_->preprocess);
          ImGui::EndTable();
        }
        draw_input_size();
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Device", nullptr, info_flags(InfoTab::Device))) {
        if (ImGui::BeginTable("##device", 2, ImGuiTableFlags_SizingFixedFit)) {
          ImGui::TableSetupColumn("k", ImGuiTableColumnFlags_WidthFixed);
          ImGui::TableSetupColumn("v", ImGuiTableColumnFlags_WidthStretch);
          key_value("Inference", model_->device.name);
          key_value("Type", model_->device.type);
          key_value("Driver", model_->device.driver);
          key_value("Memory", format_bytes(model_->device.device_local_bytes));
          key_value("Drawing", renderer_.device_name());
          ImGui::EndTable();
        }
        if (devices_.size() > 1) {
          ImGui::Spacing();
          ImGui::TextDisabled("Run the model on:");
          ImGui::SetNextItemWidth(-1);
          const std::string current = std::to_string(model_->device.index) + ": " + model_->device.name;
          if (ImGui::BeginCombo("##devices", current.c_str())) {
            for (const auto& d : devices_) {
              const std::string label = std::to_string(d.index) + ": " + d.name;
              if (ImGui::Selectable(label.c_str(), d.index == model_->device.index) && d.index != model_->device.index) {
                options_.device = int(d.index);
                request(model_path_, image_path_);
              }
            }
            ImGui::EndCombo();
          }
        }
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Timing", nullptr, info_flags(InfoTab::Timing))) {
        draw_timing();
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
      force_info_tab_ = false;
    }
  }
  ImGui::End();
}

// Two fields (H, W) stepping by the patch size, Apply and Native: the model is
// reloaded at that size on the worker thread and the current image run again.
void App::draw_input_size() {
  const VitConfig& c = model_->config;
  const int P = std::max(c.patch, 1);
  ImGui::Spacing();
  ImGui::TextDisabled("Input size (H x W)");
  help_marker("Run the model at another input size, in multiples of the patch size. The position embeddings "
              "are resampled the way the checkpoint's framework does; the image is preprocessed to the new "
              "size. Native returns to the checkpoint's own size.");
  const float field = std::max(ImGui::GetContentRegionAvail().x * 0.5f - ImGui::GetFontSize(), 60.f);
  ImGui::SetNextItemWidth(field);
  ImGui::InputInt("##input_h", &edit_h_, P, 8 * P);
  ImGui::SameLine();
  ImGui::TextUnformatted("x");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(field);
  ImGui::InputInt("##input_w", &edit_w_, P, 8 * P);
  edit_h_ = std::clamp(edit_h_, P, std::max(P, 1024));
  edit_w_ = std::clamp(edit_w_, P, std::max(P, 1024));
  const bool same = edit_h_ == c.img_h && edit_w_ == c.img_w;
  if (same) ImGui::BeginDisabled();
  if (ImGui::Button("Apply")) {
    const bool native = edit_h_ == model_->native_h && edit_w_ == model_->native_w;
    input_h_ = native ? 0 : edit_h_;
    input_w_ = native ? 0 : edit_w_;
    request(model_path_, image_path_);
  }
  if (same) ImGui::EndDisabled();
  ImGui::SameLine();
  const bool at_native = model_->requested_h <= 0 && model_->requested_w <= 0;
  if (at_native) ImGui::BeginDisabled();
  if (ImGui::Button("Native")) {
    input_h_ = input_w_ = 0;
    edit_h_ = model_->native_h;
    edit_w_ = model_->native_w;
    request(model_path_, image_path_);
  }
  if (at_native) ImGui::EndDisabled();
}

void App::draw_timing() {
  if (!loaded_) {
    ImGui::TextDisabled("No run yet.");
    return;
  }
  const ForwardResult& f = loaded_->forward;
  ImGui::Text("Forward pass %.2f ms, GPU %.2f ms", f.wall_ms, f.gpu_ms);
  if (f.op_times.empty()) {
    ImGui::TextDisabled("This device has no timestamp queries.");
    return;
  }
  ImGui::Checkbox("Per layer", &timing_by_layer_);
  ImGui::SameLine();
  ImGui::TextDisabled("%zu dispatches", f.op_times.size());
  std::vector<OpTotal> totals;
  for (const auto& t : f.op_times) {
    std::string name = t.label;
    if (!timing_by_layer_ && name.rfind("block", 0) == 0) {
      const size_t dot = name.find('.');
      if (dot != std::string::npos) name = name.substr(dot + 1);
    }
    auto it = std::find_if(totals.begin(), totals.end(), [&](const OpTotal& o) { return o.name == name; });
    if (it == totals.end()) {
      totals.push_back({name, 1, t.ms});
    } else {
      ++it->calls;
      it->ms += t.ms;
    }
  }
  if (!timing_by_layer_)
    std::stable_sort(totals.begin(), totals.end(), [](const OpTotal& a, const OpTotal& b) { return a.ms > b.ms; });
  const double sum = std::max(f.gpu_ms, 1e-9);
  const ImVec2 table_size(0.f, std::max(ImGui::GetContentRegionAvail().y - 4.f, 80.f));
  if (ImGui::BeginTable("##ops", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_ScrollY,
                        table_size)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("Op", ImGuiTableColumnFlags_WidthStretch, 0.5f);
    ImGui::TableSetupColumn("ms", ImGuiTableColumnFlags_WidthStretch, 0.2f);
    ImGui::TableSetupColumn("share", ImGuiTableColumnFlags_WidthStretch, 0.3f);
    ImGui::TableHeadersRow();
    for (const auto& o : totals) {
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      if (o.calls > 1) ImGui::Text("%s x%d", o.name.c_str(), o.calls);
      else ImGui::TextUnformatted(o.name.c_str());
      ImGui::TableSetColumnIndex(1);
      ImGui::Text("%.3f", o.ms);
      ImGui::TableSetColumnIndex(2);
      ImGui::PushStyleColor(ImGuiCol_PlotHistogram, theme::kBarMuted);
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * o.ms / sum);
      ImGui::ProgressBar(float(o.ms / sum), ImVec2(-1.f, ImGui::GetTextLineHeight()), pct);
      ImGui::PopStyleColor();
    }
    ImGui::EndTable();
  }
}

}  // namespace vitscope::gui
