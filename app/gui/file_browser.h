// An in-app file browser on std::filesystem (Debian packages no native file dialog
// library): a modal popup with places, recent files, a folder listing filtered by
// extension, and a name field for saving. Recent files persist in
// $XDG_CONFIG_HOME/vitscope/recent.txt (or ~/.config/vitscope/recent.txt).
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vitscope::gui {

enum class FileKind { Image, Model };

bool is_image_file(const std::filesystem::path& p);
// A .safetensors file, or a folder holding model.safetensors.
bool is_model_path(const std::filesystem::path& p);

class RecentFiles {
 public:
  // path "": nothing is read or written.
  explicit RecentFiles(std::string path);
  static std::string default_path();
  void add(FileKind kind, const std::string& file);
  std::vector<std::string> list(FileKind kind) const;

 private:
  void save() const;
  std::string path_;
  std::vector<std::pair<FileKind, std::string>> entries_;  // newest first
};

class FileBrowser {
 public:
  enum class Mode { OpenImage, OpenModel, Save };

  // Opens the popup on the next draw(). start: a folder or a file in it.
  void open(Mode mode, const std::string& title, const std::string& start, const std::string& file_name = "");
  // Draws the popup when open; returns the chosen path once, when confirmed.
  // escape: Esc was pressed since the last frame (closes the popup).
  std::optional<std::string> draw(const RecentFiles& recent,
                                  const std::vector<std::pair<std::string, std::string>>& places, bool escape);
  bool visible() const { return visible_ || request_; }

 private:
  void navigate(const std::filesystem::path& dir);
  bool accepts(const std::filesystem::path& p) const;

  struct Entry {
    std::string name;
    bool dir = false;
    bool model_dir = false;
    uintmax_t size = 0;
  };
  Mode mode_ = Mode::OpenImage;
  std::string title_;
  bool request_ = false, visible_ = false, show_all_ = false;
  std::filesystem::path dir_;
  std::string dir_text_, name_, error_;
  std::vector<Entry> entries_;
  int selected_ = -1;
};

}  // namespace vitscope::gui
