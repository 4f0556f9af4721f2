// Image folders: every image file under a folder (for classify/explain over a folder) and
// torchvision's ImageFolder convention (one sub-folder per class) for eval.
#pragma once
#include <string>
#include <vector>

namespace vitscope {

// torchvision's image extensions (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp) plus
// .gif and .tga, compared case-insensitively. Files with these extensions that the decoder
// cannot read (TIFF, WebP, damaged files) are reported per file by whoever decodes them.
bool has_image_extension(const std::string& path);

struct FolderImage {
  std::string path;      // as opened: ROOT/relative
  std::string relative;  // path below the root folder, '/'-separated
  int label = -1;        // class index (ImageFolder scans), -1 otherwise
};

// Every file with an image extension below `root`, recursively (symlinked folders are
// followed, as os.walk(followlinks=True)), sorted by relative path. Throws InputError when
// root is not a readable folder.
std::vector<FolderImage> list_images(const std::string& root);

// Per-image output names for a folder run (attention maps, explanations): each image's
// relative path without its extension ("bag/bag_0018"), or with it ("bag/x.png") for images
// whose stems would collide ("x.png" and "x.jpg").
std::vector<std::string> output_names(const std::vector<FolderImage>& images);

struct ClassFolderOptions {
  // Folder names in class order (--class-map): folder k of the map is class k; class
  // folders missing from the map are left out and named in `unmapped_folders`.
  std::vector<std::string> class_map;
  // ImageNet-1k's synsets in class order (given by the caller for 1000-class models; no
  // class map). When every class folder is a synset in this list, a folder's class is its
  // index here, so a subset of ImageNet's val/ keeps the model's class numbers.
  std::vector<std::string> synsets;
};

struct ClassFolder {
  std::vector<std::string> classes;  // class index -> name (the map, the synsets or the folders)
  std::vector<FolderImage> images;   // sorted by class index, then by path (ImageFolder's order)
  std::vector<std::string> unmapped_folders;  // class folders the class map did not name
  std::string mapping;  // "folders" (sorted sub-folder names), "class map FILE" or "ImageNet synsets"
};

// torchvision's ImageFolder: the sorted sub-folders of root are classes 0..K-1 (or the
// class map's / synsets' order), each searched recursively for image files. Throws
// InputError when root has no class folder or no image at all.
ClassFolder scan_class_folders(const std::string& root, const ClassFolderOptions& options = {});

// A text file with one name per line (class maps, synset lists); blank lines and
// surrounding white space are dropped. Throws InputError naming the file.
std::vector<std::string> read_name_list(const std::string& path);

// True for an ImageNet synset id ("n01440764").
bool is_synset_name(const std::string& name);

}  // namespace vitscope
