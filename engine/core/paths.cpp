#include "core/paths.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

namespace vitscope {

namespace fs = std::filesystem;

std::string executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  return exe.parent_path().string();
}

std::string find_asset(const std::string& relative) {
  fs::path exe = executable_dir();
  std::vector<fs::path> roots = {
      exe / ".." / "share" / "vitscope" / "assets",  // installed: prefix/bin -> prefix/share
      exe / "assets",                              // next to a relocated binary
      exe / ".." / "assets",
      exe / ".." / ".." / "assets",                // build tree: build/app/cli -> repo
      exe / ".." / ".." / ".." / "assets",
#ifdef VITSCOPE_SOURCE_DIR
      fs::path(VITSCOPE_SOURCE_DIR) / "assets",
#endif
#ifdef VITSCOPE_INSTALL_DATADIR
      fs::path(VITSCOPE_INSTALL_DATADIR) / "assets",
#endif
  };
  for (const auto& r : roots) {
    std::error_code ec;
    fs::path p = r / relative;
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return "";
}

}  // namespace vitscope
