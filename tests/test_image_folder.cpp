// Image folders: the ImageFolder scan (class order, class maps, ImageNet synsets), the
// threaded batch loader, and `eval --image-folder` end to end against the same images run
// one by one through the classify path in this process.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "image.h"
#include "io/batch_loader.h"
#include "io/image_folder.h"
#include "io/png.h"
#include "testutil.h"
#include "vit.h"

using namespace vitscope;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p, const std::string& text = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string run_cli(const std::string& args, int& status) {
  std::string out;
  FILE* p = ::popen((std::string(VITSCOPE_CLI_PATH) + " " + args).c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  status = ::pclose(p);
  return out;
}

// "T-shirt/top" -> "t_shirt_top": how the bundled samples are named.
std::string sample_key(const std::string& label) {
  std::string k;
  for (char ch : label) k += std::isalnum(static_cast<unsigned char>(ch)) ? char(std::tolower(ch)) : '_';
  return k;
}

}  // namespace

TEST_CASE("image folder: ImageFolder order, extensions, class map and synsets") {
  fs::path d = test::temp_dir("folder-scan");
  touch(d / "zebra" / "b.png");
  touch(d / "zebra" / "a.JPG");
  touch(d / "zebra" / "deep" / "c.jpeg");
  touch(d / "zebra" / "notes.txt");
  touch(d / "apple" / "x.bmp");
  touch(d / "apple" / "y.webp");
  touch(d / "mango" / "readme");
  touch(d / "loose.png");  // not in a class folder: not part of the dataset
  ClassFolder f = scan_class_folders(d.string());
  CHECK(f.classes == std::vector<std::string>{"apple", "mango", "zebra"});
  CHECK(f.mapping == "folders");
  std::vector<std::string> rel;
  std::vector<int> labels;
  for (const auto& im : f.images) {
    rel.push_back(im.relative);
    labels.push_back(im.label);
  }
  CHECK(rel == std::vector<std::string>{"apple/x.bmp", "apple/y.webp", "zebra/a.JPG", "zebra/b.png", "zebra/deep/c.jpeg"});
  CHECK(labels == std::vector<int>{0, 0, 2, 2, 2});

  // A class map orders the classes and leaves out folders it does not name.
  ClassFolderOptions o;
  o.class_map = {"zebra", "kiwi"};
  ClassFolder m = scan_class_folders(d.string(), o);
  CHECK(m.classes == o.class_map);
  CHECK(m.images.size() == 3);
  CHECK(std::all_of(m.images.begin(), m.images.end(), [](const FolderImage& im) { return im.label == 0; }));
  CHECK(m.unmapped_folders == std::vector<std::string>{"apple", "mango"});

  // Every folder a synset of the list: its index in the list.
  fs::path s = test::temp_dir("folder-synsets");
  touch(s / "n01443537" / "1.png");
  touch(s / "n01440764" / "0.png");
  ClassFolderOptions so;
  so.synsets = {"n01440764", "n01443537", "n01484850"};
  ClassFolder syn = scan_class_folders(s.string(), so);
  CHECK(syn.mapping == "ImageNet synsets");
  REQUIRE(syn.images.size() == 2);
  CHECK(syn.images[0].relative == "n01440764/0.png");
  CHECK(syn.images[0].label == 0);
  CHECK(syn.images[1].label == 1);
  // One folder that is not a synset of the list: plain folder order.
  touch(s / "n99999999" / "2.png");
  ClassFolder mixed = scan_class_folders(s.string(), so);
  CHECK(mixed.mapping == "folders");
  CHECK(mixed.images.back().label == 2);

  CHECK(is_synset_name("n01440764"));
  CHECK_FALSE(is_synset_name("n0144076"));
  CHECK_FALSE(is_synset_name("x01440764"));
  CHECK_THROWS_AS(scan_class_folders((d / "missing").string()), InputError);
  fs::path empty = test::temp_dir("folder-empty");
  CHECK_THROWS_AS(scan_class_folders(empty.string()), InputError);
  touch(empty / "cls" / "a.txt");
  CHECK_THROWS_AS(scan_class_folders(empty.string()), InputError);  // no image files

  std::vector<FolderImage> all = list_images(d.string());
  CHECK(all.size() == 6);  // the five class images and loose.png
  CHECK(all.front().relative == "apple/x.bmp");
}

TEST_CASE("batch loader: list order, per-item failures, rows packed, early stop") {
  const int n = 23;
  std::vector<std::string> paths;
  for (int i = 0; i < n; ++i) paths.push_back(std::to_string(i));
  auto decode = [](const std::string& p) {
    int i = std::stoi(p);
    if (i % 5 == 3) throw InputError(p + ": broken");
    Preprocessed out;
    out.tensor = {float(i), float(i) * 10.0f};
    return out;
  };
  for (int workers : {1, 3}) {
    BatchLoader::Options o;
    o.batch = 4;
    o.workers = workers;
    o.depth = 2;
    BatchLoader loader(paths, 2, decode, o);
    std::vector<int> seen, failed;
    int expect_first = 0;
    while (const LoadedBatch* b = loader.next()) {
      CHECK(b->first == expect_first);
      CHECK(b->count == std::min(4, n - b->first));
      expect_first += b->count;
      REQUIRE(b->tensor.size() == size_t(b->rows()) * 2);
      for (int r = 0; r < b->rows(); ++r) {
        CHECK(b->tensor[size_t(r) * 2] == float(b->items[size_t(r)]));
        CHECK(b->tensor[size_t(r) * 2 + 1] == float(b->items[size_t(r)] * 10));
        seen.push_back(b->items[size_t(r)]);
      }
      for (const auto& f : b->failures) {
        CHECK(f.message == std::to_string(f.item) + ": broken");
        failed.push_back(f.item);
      }
    }
    CHECK(expect_first == n);
    CHECK(failed == std::vector<int>{3, 8, 13, 18});
    CHECK(seen.size() == size_t(n - 4));
    CHECK(std::is_sorted(seen.begin(), seen.end()));
  }
  BatchLoader early(paths, 2, decode, {4, 2, 3, false});
  REQUIRE(early.next() != nullptr);
  early.stop();
  CHECK(early.next() == nullptr);
}

TEST_CASE("CLI: eval --image-folder and classify --images agree with classify image by image") {
  const std::string root = test::source_dir();
  const std::string model_dir = root + "/assets/models/fashion-vit";
  LoadedModel lm = load_model(model_dir);
  const VitConfig c = lm.config;
  REQUIRE(c.labels.size() == 10);

  // Class folders named after the labels (sorted, they are not the model's order: the class
  // map gives it), the bundled samples and their mirror images, a damaged PNG, a text file.
  fs::path d = test::temp_dir("folder-eval");
  std::map<std::string, int> key_to_class;
  std::vector<std::string> folder_of(10);
  for (int k = 0; k < 10; ++k) {
    key_to_class[sample_key(c.labels[size_t(k)])] = k;
    folder_of[size_t(k)] = sample_key(c.labels[size_t(k)]);
  }
  {
    std::ofstream map(d / "classes.txt");
    for (const auto& f : folder_of) map << f << "\n";
  }
  fs::path data = d / "data";
  std::map<std::string, int> truth;  // relative path -> class
  for (const auto& e : fs::directory_iterator(root + "/assets/samples")) {
    std::string name = e.path().stem().string();
    if (name.rfind("photo_", 0) == 0) name = name.substr(6, name.find("_on_") - 6);
    else name = name.substr(0, name.find_last_of('_'));
    auto it = key_to_class.find(name);
    if (it == key_to_class.end()) continue;
    const std::string folder = folder_of[size_t(it->second)];
    fs::create_directories(data / folder);
    fs::copy_file(e.path(), data / folder / e.path().filename());
    truth[folder + "/" + e.path().filename().string()] = it->second;
    Image im = load_image(e.path().string());
    if (im.width > 64) continue;
    for (int y = 0; y < im.height; ++y)
      std::reverse(im.pixels.begin() + long(size_t(y) * im.width * im.channels),
                   im.pixels.begin() + long(size_t(y + 1) * im.width * im.channels));  // grey: a mirror image
    if (im.channels != 1) continue;
    std::string mirrored = "mirror_" + e.path().stem().string() + ".png";
    write_png((data / folder / mirrored).string(), im.width, im.height, 1, im.pixels.data());
    truth[folder + "/" + mirrored] = it->second;
  }
  REQUIRE(truth.size() >= 30);
  touch(data / folder_of[6] / "broken.png", "not a png");
  touch(data / folder_of[6] / "notes.txt", "not an image");

  // The reference: each image alone through load_image + preprocess + forward (classify's path).
  VitModel model(test::context(), std::move(lm));
  std::map<std::string, int> ref_top1;
  int64_t ref_top1_ok = 0, ref_top5_ok = 0;
  std::vector<int64_t> ref_confusion(100, 0);
  std::set<std::string> near_ties;
  for (const auto& [rel, cls] : truth) {
    Preprocessed p = preprocess(load_image((data / rel).string()), c.pre, c.in_chans);
    ForwardResult r = model.forward(p.tensor.data(), 1);
    std::vector<int> order(10);
    for (int k = 0; k < 10; ++k) order[size_t(k)] = k;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return r.probs[size_t(a)] > r.probs[size_t(b)]; });
    if (r.probs[size_t(order[0])] - r.probs[size_t(order[1])] < 1e-4f) near_ties.insert(rel);
    ref_top1[rel] = order[0];
    ref_top1_ok += order[0] == cls;
    ref_top5_ok += std::find(order.begin(), order.begin() + 5, cls) != order.begin() + 5;
    ref_confusion[size_t(cls) * 10 + size_t(order[0])]++;
  }
  test::require_no_validation_messages();
  INFO("near ties: " << near_ties.size());
  REQUIRE(near_ties.empty());

  fs::path preds = d / "predictions.jsonl";
  int status = 0;
  std::string out = run_cli("eval --model " + model_dir + " --image-folder " + data.string() + " --class-map " +
                                (d / "classes.txt").string() + " --batch 7 --workers 3 --json -q --predictions-out " +
                                preds.string(),
                            status);
  REQUIRE(status == 0);
  auto j = nlohmann::json::parse(out);
  CHECK(j["files"] == truth.size() + 1);
  CHECK(j["images"] == truth.size());
  REQUIRE(j["unreadable"].size() == 1);
  CHECK(j["unreadable"][0]["path"] == folder_of[6] + "/broken.png");
  CHECK(j["correct"] == ref_top1_ok);
  CHECK(j["top5_correct"] == ref_top5_ok);
  CHECK(j["class_mapping"].get<std::string>().rfind("class map", 0) == 0);
  std::vector<int64_t> confusion;
  for (const auto& row : j["confusion"])
    for (const auto& v : row) confusion.push_back(v.get<int64_t>());
  CHECK(confusion == ref_confusion);
  int64_t per_class_images = 0;
  for (const auto& pc : j["per_class"]) {
    const int k = pc["class"];
    CHECK(pc["folder"] == folder_of[size_t(k)]);
    CHECK(pc["correct"] == ref_confusion[size_t(k) * 10 + size_t(k)]);
    per_class_images += pc["images"].get<int64_t>();
  }
  CHECK(per_class_images == int64_t(truth.size()));

  // Per-image results: the same top-1 as the one-by-one reference, under each image's path.
  std::ifstream pf(preds);
  std::string line;
  size_t lines = 0;
  while (std::getline(pf, line)) {
    auto r = nlohmann::json::parse(line);
    const std::string rel = r["path"];
    REQUIRE(truth.count(rel) == 1);
    CHECK(r["label"] == truth[rel]);
    REQUIRE(r["top"].size() == 5);
    CHECK(r["top"][0]["index"] == ref_top1[rel]);
    ++lines;
  }
  CHECK(lines == truth.size());

  // classify --images: one JSON line per file (the damaged one with its error), the same
  // top-1; a second run after a cut (ten whole lines and half of the eleventh) completes the
  // file without repeating a path.
  fs::path jsonl = d / "results.jsonl";
  run_cli("classify --model " + model_dir + " --images " + data.string() + " --out " + jsonl.string() + " --batch 5 -q",
          status);
  REQUIRE(status == 0);
  std::vector<std::string> first_lines;
  for (std::ifstream in(jsonl); std::getline(in, line);) first_lines.push_back(line);
  CHECK(first_lines.size() == truth.size() + 1);
  for (const auto& l : first_lines) {
    auto r = nlohmann::json::parse(l);
    const std::string rel = r["path"];
    if (rel == folder_of[6] + "/broken.png") {
      CHECK(r.contains("error"));
      continue;
    }
    REQUIRE(truth.count(rel) == 1);
    CHECK(r["top"][0]["index"] == ref_top1[rel]);
  }
  {
    std::ofstream cut(jsonl, std::ios::trunc);
    for (size_t i = 0; i < 10; ++i) cut << first_lines[i] << "\n";
    cut << first_lines[10].substr(0, first_lines[10].size() / 2);
  }
  run_cli("classify --model " + model_dir + " --images " + data.string() + " --out " + jsonl.string() + " -q", status);
  REQUIRE(status == 0);
  std::vector<std::string> resumed;
  std::multiset<std::string> paths;
  for (std::ifstream in(jsonl); std::getline(in, line);) {
    resumed.push_back(line);
    paths.insert(nlohmann::json::parse(line)["path"].get<std::string>());
  }
  CHECK(resumed.size() == first_lines.size());
  CHECK(std::equal(first_lines.begin(), first_lines.begin() + 10, resumed.begin()));
  std::set<std::string> unique(paths.begin(), paths.end());
  CHECK(unique.size() == paths.size());
  for (size_t i = 10; i < resumed.size(); ++i) {
    auto r = nlohmann::json::parse(resumed[i]);
    if (r.contains("top")) CHECK(r["top"][0]["index"] == ref_top1[r["path"].get<std::string>()]);
  }
}

TEST_CASE("CLI: eval --image-folder maps ImageNet synset folders to a 1000-class model's classes") {
  // A tiny 1000-class ViT whose head always ranks class 1 first, then 0, then 999, then 998
  // and 997 (weights ~0, bias decides): the classes each folder is counted under follow.
  std::map<std::string, test::TensorF32> t;
  uint32_t seed = 5;
  auto rnd = [&](std::vector<int64_t> shape, float scale, float offset = 0.f) {
    size_t n = 1;
    for (auto v : shape) n *= size_t(v);
    return test::TensorF32{shape, test::random_vector(n, seed++, scale, offset)};
  };
  const int64_t C = 8, M = 16, G = 4;
  t["patch_embed.proj.weight"] = rnd({C, 3, 4, 4}, 0.2f);
  t["patch_embed.proj.bias"] = rnd({C}, 0.1f);
  t["cls_token"] = rnd({1, 1, C}, 0.5f);
  t["pos_embed"] = rnd({1, 1 + G, C}, 0.3f);
  const std::string b = "blocks.0.";
  t[b + "norm1.weight"] = rnd({C}, 0.1f, 1.f);
  t[b + "norm1.bias"] = rnd({C}, 0.1f);
  t[b + "attn.qkv.weight"] = rnd({3 * C, C}, 0.3f);
  t[b + "attn.qkv.bias"] = rnd({3 * C}, 0.1f);
  t[b + "attn.proj.weight"] = rnd({C, C}, 0.2f);
  t[b + "attn.proj.bias"] = rnd({C}, 0.1f);
  t[b + "norm2.weight"] = rnd({C}, 0.1f, 1.f);
  t[b + "norm2.bias"] = rnd({C}, 0.1f);
  t[b + "mlp.fc1.weight"] = rnd({M, C}, 0.2f);
  t[b + "mlp.fc1.bias"] = rnd({M}, 0.1f);
  t[b + "mlp.fc2.weight"] = rnd({C, M}, 0.15f);
  t[b + "mlp.fc2.bias"] = rnd({C}, 0.1f);
  t["norm.weight"] = rnd({C}, 0.1f, 1.f);
  t["norm.bias"] = rnd({C}, 0.1f);
  t["head.weight"] = rnd({1000, C}, 1e-3f);
  test::TensorF32 bias{{1000}, std::vector<float>(1000, 0.0f)};
  bias.data[1] = 10;
  bias.data[0] = 9;
  bias.data[999] = 8;
  bias.data[998] = 7;
  bias.data[997] = 6;
  t["head.bias"] = bias;
  fs::path d = test::temp_dir("folder-synset-model");
  test::write_safetensors((d / "model.safetensors").string(), t);
  nlohmann::json margs = {{"img_size", 8}, {"patch_size", 4}, {"in_chans", 3}, {"embed_dim", C},
                          {"depth", 1},    {"num_heads", 2},  {"mlp_ratio", 2.0}};
  nlohmann::json cfg = {{"architecture", "vit_test_synsets"}, {"num_classes", 1000}, {"global_pool", "token"},
                        {"model_args", margs},
                        {"pretrained_cfg", {{"input_size", {3, 8, 8}}, {"crop_pct", 1.0}}}};
  std::ofstream(d / "config.json") << cfg.dump(2);

  // n01440764 is class 0, n01443537 class 1, n15075141 class 999 (sorted: folders 0, 1, 2).
  fs::path data = d / "val";
  const std::vector<std::pair<std::string, int>> folders = {{"n01440764", 2}, {"n01443537", 3}, {"n15075141", 1}};
  std::vector<unsigned char> px(8 * 8 * 3, 0);
  for (const auto& [name, count] : folders) {
    fs::create_directories(data / name);
    for (int i = 0; i < count; ++i) {
      for (size_t p = 0; p < px.size(); ++p) px[p] = static_cast<unsigned char>((p * 37 + size_t(i) * 91) % 256);
      write_png((data / name / ("img" + std::to_string(i) + ".png")).string(), 8, 8, 3, px.data());
    }
  }
  int status = 0;
  std::string out = run_cli("eval --model " + d.string() + " --image-folder " + data.string() + " --json -q", status);
  REQUIRE(status == 0);
  auto j = nlohmann::json::parse(out);
  CHECK(j["class_mapping"] == "ImageNet synsets");
  CHECK(j["images"] == 6);
  CHECK(j["correct"] == 3);       // the n01443537 images: class 1
  CHECK(j["top5_correct"] == 6);  // 0 and 999 are in every top-5
  std::map<int, std::pair<int64_t, int64_t>> per_class;
  for (const auto& pc : j["per_class"]) per_class[pc["class"]] = {pc["images"], pc["correct"]};
  CHECK(per_class == std::map<int, std::pair<int64_t, int64_t>>{{0, {2, 0}}, {1, {3, 3}}, {999, {1, 0}}});
  CHECK(j["per_class"][2]["folder"] == "n15075141");
  CHECK(j["predictions"][0]["top"][0]["index"] == 1);
}
