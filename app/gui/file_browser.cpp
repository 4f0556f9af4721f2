#include "file_browser.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "model/weights.h"

namespace vitscope::gui {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string human_size(uintmax_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / double(1u << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f KB", double(bytes) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%ju B", bytes);
  return buf;
}

}  // namespace

bool is_image_file(const fs::path& p) {
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif", ".pgm", ".ppm", ".pnm", ".psd", ".hdr"};
  const std::string e = lower(p.extension().string());
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* x) { return e == x; });
}

// .safetensors .npz .pth .pt .bin .pdparams .pth.tar (load_model's list)
bool is_model_file(const fs::path& p) { return is_weight_file_name(p.filename().string()); }

bool is_model_path(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return is_model_file(p);
  // A folder load_model can open: one holding a weights file (its search order picks one).
  // Only the first entries are looked at, so that listing a big folder stays quick.
  int seen = 0;
  for (auto it = fs::directory_iterator(p, ec); !ec && it != fs::directory_iterator() && seen < 256;
       it.increment(ec), ++seen)
    if (it->is_regular_file(ec) && is_model_file(it->path())) return true;
  return false;
}

// ---------------------------------------------------------------- recent files

RecentFiles::RecentFiles(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 3 || line[1] != '\t') continue;
    FileKind kind = line[0] == 'm' ? FileKind::Model : FileKind::Image;
    entries_.emplace_back(kind, line.substr(2));
  }
}

std::string RecentFiles::default_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  fs::path base;
  if (xdg && *xdg) base = xdg;
  else if (home && *home) base = fs::path(home) / ".config";
  else return "";
  return (base / "vitscope" / "recent.txt").string();
}

void RecentFiles::add(FileKind kind, const std::string& file) {
  if (file.empty()) return;
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const auto& e) { return e.first == kind && e.second == file; }),
                 entries_.end());
  entries_.insert(entries_.begin(), {kind, file});
  // Keep the ten newest of each kind.
  int images = 0, models = 0;
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const auto& e) { return ++(e.first == FileKind::Model ? models : images) > 10; }),
                 entries_.end());
  save();
}

std::vector<std::string> RecentFiles::list(FileKind kind) const {
  std::vector<std::string> out;
  for (const auto& e : entries_)
    if (e.first == kind) out.push_back(e.second);
  return out;
}

void RecentFiles::save() const {
  if (path_.empty()) return;
  std::error_code ec;
  fs::create_directories(fs::path(path_).parent_path(), ec);
  std::ofstream out(path_, std::ios::trunc);
  for (const auto& e : entries_) out << (e.first == FileKind::Model ? 'm' : 'i') << '\t' << e.second << '\n';
  // Best effort: an unwritable config folder only loses the list.
}

// ---------------------------------------------------------------- browser

void FileBrowser::open(Mode mode, const std::string& title, const std::string& start, const std::string& file_name) {
  mode_ = mode;
  title_ = title + "##file_browser";
  request_ = true;
  name_ = file_name;
  error_.clear();
  std::error_code ec;
  fs::path p = start.empty() ? fs::current_path(ec) : fs::path(start);
  if (!fs::is_directory(p, ec)) {
    if (name_.empty() && mode != Mode::Save && fs::is_regular_file(p, ec)) name_ = p.filename().string();
    p = p.parent_path();
  }
  if (p.empty() || !fs::is_directory(p, ec)) p = fs::current_path(ec);
  navigate(p);
}

bool FileBrowser::accepts(const fs::path& p) const {
  if (show_all_) return true;
  switch (mode_) {
    case Mode::OpenImage: return is_image_file(p);
    case Mode::OpenModel: return is_model_file(p);
    case Mode::Save: return lower(p.extension().string()) == ".png";
  }
  return false;
}

void FileBrowser::navigate(const fs::path& dir) {
  std::error_code ec;
  fs::path target = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec || !fs::is_directory(target, ec)) {
    error_ = "Not a folder: " + dir.string();
    return;
  }
  std::vector<Entry> entries;
  fs::directory_iterator it(target, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    error_ = "Cannot read " + target.string() + ": " + ec.message();
    return;
  }
  for (const auto& de : it) {
    const std::string name = de.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    Entry e;
    e.name = name;
    std::error_code e2;
    e.dir = de.is_directory(e2);
    if (e.dir) e.model_dir = is_model_path(de.path());
    else if (!accepts(de.path())) continue;
    else e.size = de.file_size(e2);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.dir != b.dir) return a.dir;
    return lower(a.name) < lower(b.name);
  });
  dir_ = target;
  dir_text_ = dir_.string();
  entries_ = std::move(entries);
  selected_ = -1;
  error_.clear();
}

std::optional<std::string> FileBrowser::draw(const RecentFiles& recent,
                                             const std::vector<std::pair<std::string, std::string>>& places,
                                             bool escape) {
  if (request_) {
    ImGui::OpenPopup(title_.c_str());
    request_ = false;
    visible_ = true;
  }
  if (!visible_) return std::nullopt;
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(ImVec2(vp->Pos.x + vp->Size.x * 0.5f, vp->Pos.y + vp->Size.y * 0.5f), ImGuiCond_Appearing,
                          ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(std::min(760.f, vp->Size.x - 40.f), std::min(500.f, vp->Size.y - 40.f)), ImGuiCond_Appearing);
  std::optional<std::string> chosen;
  bool open = true;
  if (!ImGui::BeginPopupModal(title_.c_str(), &open, ImGuiWindowFlags_NoSavedSettings)) {
    visible_ = false;
    return std::nullopt;
  }
  bool close = !open || escape;

  // Path bar.
  if (ImGui::Button("Up")) navigate(dir_.parent_path());
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputText("##path", &dir_text_, ImGuiInputTextFlags_EnterReturnsTrue)) {
    std::error_code ec;
    fs::path typed(dir_text_);
    if (fs::is_directory(typed, ec)) {
      navigate(typed);
    } else if (mode_ != Mode::Save && fs::is_regular_file(typed, ec)) {
      chosen = typed.string();
    } else {
      error_ = "No such folder: " + dir_text_;
    }
  }

  const float footer = ImGui::GetFrameHeightWithSpacing() * 2.f + 6.f;
  const float places_w = 190.f;
  // Places and recent files.
  ImGui::BeginChild("##places", ImVec2(places_w, -footer), true);
  ImGui::TextDisabled("Places");
  for (const auto& [label, path] : places) {
    if (path.empty()) continue;
    if (ImGui::Selectable(label.c_str(), false)) navigate(path);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", path.c_str());
  }
  if (mode_ != Mode::Save) {
    auto items = recent.list(mode_ == Mode::OpenModel ? FileKind::Model : FileKind::Image);
    if (!items.empty()) {
      ImGui::Spacing();
      ImGui::TextDisabled("Recent");
      for (size_t i = 0; i < items.size(); ++i) {
        ImGui::PushID(int(i));
        std::string label = fs::path(items[i]).filename().string();
        if (label.empty()) label = items[i];
        if (ImGui::Selectable(label.c_str(), false, ImGuiSelectableFlags_AllowDoubleClick) &&
            ImGui::IsMouseDoubleClicked(0))
          chosen = items[i];
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n(double-click to open)", items[i].c_str());
        ImGui::PopID();
      }
    }
  }
  ImGui::EndChild();
  ImGui::SameLine();

  // Folder listing.
  ImGui::BeginChild("##listing", ImVec2(0, -footer), true);
  if (ImGui::Selectable("..", false, ImGuiSelectableFlags_AllowDoubleClick) && ImGui::IsMouseDoubleClicked(0))
    navigate(dir_.parent_path());
  fs::path go_to;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    ImGui::PushID(int(i));
    std::string label = e.dir ? e.name + "/" : e.name;
    if (e.model_dir) label += "   [model]";
    if (ImGui::Selectable(label.c_str(), selected_ == int(i), ImGuiSelectableFlags_AllowDoubleClick)) {
      selected_ = int(i);
      if (!e.dir || (mode_ == Mode::OpenModel && e.model_dir)) name_ = e.name;
      if (ImGui::IsMouseDoubleClicked(0)) {
        if (e.dir) go_to = dir_ / e.name;
        else chosen = (dir_ / e.name).string();
      }
    }
    if (!e.dir) {
      ImGui::SameLine(ImGui::GetWindowContentRegionMax().x - 80.f);
      ImGui::TextDisabled("%s", human_size(e.size).c_str());
    }
    ImGui::PopID();
  }
  if (entries_.empty()) ImGui::TextDisabled(show_all_ ? "(empty folder)" : "(no matching files here)");
  ImGui::EndChild();
  if (!go_to.empty()) navigate(go_to);

  // Name field and buttons.
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(mode_ == Mode::Save ? "Save as" : "Name");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-1);
  bool enter = ImGui::InputText("##name", &name_, ImGuiInputTextFlags_EnterReturnsTrue);
  if (!error_.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.f, 0.45f, 0.4f, 1.f));
    ImGui::TextUnformatted(error_.c_str());
    ImGui::PopStyleColor();
  } else {
    const char* filter = mode_ == Mode::OpenImage ? "Images: png jpg bmp tga gif pnm"
                         : mode_ == Mode::OpenModel ? "Models: .safetensors .pth .pt .bin .pth.tar .pdparams .npz files, or folders marked [model]"
                                                    : "PNG files";
    ImGui::TextDisabled("%s", filter);
  }
  ImGui::SameLine();
  float right = ImGui::GetWindowContentRegionMax().x;
  ImGui::SetCursorPosX(right - 330.f);
  if (ImGui::Checkbox("All files", &show_all_)) navigate(dir_);
  ImGui::SameLine();
  ImGui::SetCursorPosX(right - 180.f);
  if (ImGui::Button("Cancel", ImVec2(85, 0))) close = true;
  ImGui::SameLine();
  const char* action = mode_ == Mode::Save ? "Save" : "Open";
  if ((ImGui::Button(action, ImVec2(85, 0)) || enter) && !name_.empty()) {
    fs::path p = fs::path(name_).is_absolute() ? fs::path(name_) : dir_ / name_;
    std::error_code ec;
    if (mode_ == Mode::Save) {
      if (p.extension().empty()) p += ".png";
      chosen = p.string();
    } else if (fs::is_directory(p, ec) && !(mode_ == Mode::OpenModel && is_model_path(p))) {
      navigate(p);
      name_.clear();
    } else if (fs::exists(p, ec)) {
      chosen = p.string();
    } else {
      error_ = "No such file: " + p.string();
    }
  }
  if (chosen) close = true;
  if (close) {
    ImGui::CloseCurrentPopup();
    visible_ = false;
  }
  ImGui::EndPopup();
  return chosen;
}

}  // namespace vitscope::gui
