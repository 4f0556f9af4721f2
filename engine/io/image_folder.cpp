#include "io/image_folder.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"

namespace vitscope {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

void require_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw InputError(root + ": no such folder");
  if (!fs::is_directory(root, ec)) throw InputError(root + ": not a folder");
}

// Image files below `dir`, relative to `root`, appended to `out` (unsorted).
void walk(const fs::path& root, const fs::path& dir, std::vector<FolderImage>& out) {
  std::error_code ec;
  auto opts = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  fs::recursive_directory_iterator it(dir, opts, ec), end;
  if (ec) throw InputError(dir.string() + ": cannot read folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw InputError(dir.string() + ": cannot read folder: " + ec.message());
    std::error_code fec;
    if (it->is_directory(fec) || !has_image_extension(it->path().filename().string())) continue;
    FolderImage f;
    f.path = it->path().string();
    f.relative = it->path().lexically_relative(root).generic_string();
    out.push_back(std::move(f));
  }
}

void sort_by_relative(std::vector<FolderImage>& v) {
  std::sort(v.begin(), v.end(), [](const FolderImage& a, const FolderImage& b) { return a.relative < b.relative; });
}

}  // namespace

bool has_image_extension(const std::string& path) {
  static const std::array<const char*, 11> kExtensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm",
                                                          ".tif", ".tiff", ".webp", ".gif", ".tga"};
  std::string ext = lower(fs::path(path).extension().string());
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

bool is_synset_name(const std::string& name) {
  return name.size() == 9 && name[0] == 'n' &&
         std::all_of(name.begin() + 1, name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

std::vector<FolderImage> list_images(const std::string& root) {
  require_folder(root);
  std::vector<FolderImage> out;
  walk(root, root, out);
  sort_by_relative(out);
  return out;
}

std::vector<std::string> output_names(const std::vector<FolderImage>& images) {
  std::vector<std::string> names;
  std::map<std::string, int> uses;
  for (const auto& im : images) {
    fs::path rel(im.relative);
    names.push_back((rel.parent_path() / rel.stem()).generic_string());
    uses[names.back()]++;
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (uses[names[i]] > 1) names[i] = images[i].relative;
  return names;
}

std::vector<std::string> read_name_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) continue;
    auto last = line.find_last_not_of(" \t\r\n");
    names.push_back(line.substr(first, last - first + 1));
  }
  if (in.bad()) throw InputError(path + ": read error");
  if (names.empty()) throw InputError(path + ": no names in the file");
  std::set<std::string> seen;
  for (const auto& n : names)
    if (!seen.insert(n).second) throw InputError(path + ": '" + n + "' is listed twice");
  return names;
}

ClassFolder scan_class_folders(const std::string& root, const ClassFolderOptions& options) {
  require_folder(root);
  std::vector<std::string> folders;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code dec;
    if (it->is_directory(dec)) folders.push_back(it->path().filename().string());
  }
  if (ec) throw InputError(root + ": cannot read folder: " + ec.message());
  if (folders.empty()) throw InputError(root + ": no class folders (expected one sub-folder per class)");
  std::sort(folders.begin(), folders.end());

  ClassFolder out;
  std::map<std::string, int> index;
  if (!options.class_map.empty()) {
    out.classes = options.class_map;
    out.mapping = "class map";
    for (size_t i = 0; i < options.class_map.size(); ++i) index[options.class_map[i]] = int(i);
  } else {
    bool synsets = !options.synsets.empty() &&
                   std::all_of(folders.begin(), folders.end(), [&](const std::string& f) {
                     return std::find(options.synsets.begin(), options.synsets.end(), f) != options.synsets.end();
                   });
    if (synsets) {
      out.classes = options.synsets;
      out.mapping = "ImageNet synsets";
    } else {
      out.classes = folders;
      out.mapping = "folders";
    }
    for (size_t i = 0; i < out.classes.size(); ++i) index[out.classes[i]] = int(i);
  }

  for (const auto& f : folders) {
    auto it = index.find(f);
    if (it == index.end()) {
      out.unmapped_folders.push_back(f);
      continue;
    }
    std::vector<FolderImage> images;
    walk(root, fs::path(root) / f, images);
    sort_by_relative(images);
    for (auto& im : images) im.label = it->second;
    out.images.insert(out.images.end(), images.begin(), images.end());
  }
  // ImageFolder's order: by class index, then path.
  std::stable_sort(out.images.begin(), out.images.end(),
                   [](const FolderImage& a, const FolderImage& b) { return a.label < b.label; });
  if (out.images.empty())
    throw InputError(root + ": no image files in the class folders (extensions: jpg jpeg png ppm bmp pgm tif "
                            "tiff webp gif tga)");
  return out;
}

}  // namespace vitscope
