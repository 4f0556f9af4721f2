// PyTorch (.pth/.pt/.bin/.pth.tar, zip and legacy) and Paddle (.pdparams) checkpoints
// (issue 15): files written by Debian's torch and by pickle + numpy
// (tools/make_pickled_fixtures.py) load to exactly the tensors of the same weights in
// safetensors, run to the PyTorch goldens, and every hostile file is refused by the CLI with
// exit 1 and one line, without its payload ever running.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "golden_util.h"
#include "model/pickled_checkpoint.h"
#include "model/safetensors.h"

using namespace vitscope;
namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

std::string pickled(const std::string& name) { return test::source_dir() + "/tests/data/pickled/" + name; }
std::string golden_st(const std::string& c) { return test::source_dir() + "/tests/golden/" + c + "/model.safetensors"; }

const std::string& scratch() {
  static const std::string dir = [] {
    std::string d = (fs::temp_directory_path() / ("vitscope-pickled-" + std::to_string(::getpid()))).string();
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct CliResult {
  int code = -1;
  std::string out, err;
};

// Runs vitscope-cli in `cwd` (so a payload's relative marker file would land there).
CliResult run_cli(const std::vector<std::string>& args, const std::string& cwd) {
  static int counter = 0;
  std::string base = scratch() + "/cli" + std::to_string(counter++);
  std::string cmd = "cd " + quote(cwd) + " && " + quote(VITSCOPE_CLI_PATH);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " >" + quote(base + ".out") + " 2>" + quote(base + ".err") + " </dev/null";
  int st = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_file(base + ".out");
  r.err = read_file(base + ".err");
  return r;
}

// Every tensor of the pickled file equals the safetensors tensor of the same name, exactly.
void check_same_tensors(const std::string& file, const std::string& golden, const std::string& key = "",
                        size_t expect_extra = 0) {
  CAPTURE(file);
  PickledCheckpoint p(pickled(file), key);
  SafetensorsFile st(golden_st(golden));
  CHECK(p.tensors().size() == st.tensors().size() + expect_extra);
  for (const auto& t : st.tensors()) {
    CAPTURE(t.name);
    const TensorInfo* q = p.find(t.name);
    REQUIRE(q != nullptr);
    CHECK(q->shape == t.shape);
    std::vector<float> a = st.read_f32(t), b = p.read_f32(*q);
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
  }
}

// A model folder holding only `file` and the golden case's config files.
std::string model_dir_with(const std::string& file, const std::string& golden) {
  std::string dir = scratch() + "/model-" + file;
  fs::create_directories(dir);
  fs::copy_file(pickled(file), dir + "/" + file, fs::copy_options::overwrite_existing);
  for (const auto& e : fs::directory_iterator(test::source_dir() + "/tests/golden/" + golden)) {
    const std::string ext = e.path().extension().string();
    if (e.path().filename() == "meta.json") continue;  // config.json, preprocessor_config.json, *.yaml are copied
    if (ext == ".json" || ext == ".yaml" || ext == ".yml")
      fs::copy_file(e.path(), dir + "/" + e.path().filename().string(), fs::copy_options::overwrite_existing);
  }
  return dir;
}

}  // namespace

TEST_CASE("pickled: torch.save zip and legacy files hold exactly the safetensors weights") {
  check_same_tensors("tv_zip.pth", "tv_legacy_resized");          // nn.Parameters, zip
  check_same_tensors("tv_legacy.pth", "tv_legacy_resized");       // legacy format
  check_same_tensors("deit_legacy.pth", "hf_deit_teacher_resized");  // {'model': ...}, strided + shared, legacy
  check_same_tensors("timm_f16.pth.tar", "timm_f16");             // F16, module., strided + shared, zip
  check_same_tensors("dino_full.pth", "timm_dinov2_resized");     // DINO teacher: backbone. kept, head. dropped
  PickledCheckpoint legacy(pickled("tv_legacy.pth")), zip(pickled("tv_zip.pth"));
  CHECK(std::string(legacy.format()) == "pytorch legacy");
  CHECK(std::string(zip.format()) == "pytorch zip");
  for (const auto& t : zip.tensors()) CHECK_MESSAGE(t.mapped, t.name);     // stored, 64-aligned: from the map
  for (const auto& t : legacy.tensors()) CHECK_MESSAGE(t.mapped, t.name);  // read in place
  PickledCheckpoint f16(pickled("timm_f16.pth.tar"));
  CHECK(f16.find("cls_token")->dtype == DType::F16);
}

TEST_CASE("pickled: Paddle pickles (protocols 2 and 4, Paddle 2.1 tuples) hold exactly the safetensors weights") {
  check_same_tensors("hf_vitmodel_resized_p2.pdparams", "hf_vitmodel_resized");
  check_same_tensors("timm_dinov2_resized_p4.pdparams", "timm_dinov2_resized");
  check_same_tensors("tv_paddle21.pdparams", "tv_legacy_resized");
  PickledCheckpoint p4(pickled("timm_dinov2_resized_p4.pdparams"));
  CHECK(std::string(p4.format()) == "pickle");
  CHECK(p4.find("StructuredToParameterName@@") == nullptr);
}

TEST_CASE("pickled: which state dict, and --checkpoint-key") {
  PickledCheckpoint deit(pickled("deit_legacy.pth"));
  REQUIRE(!deit.notes().empty());
  CHECK(deit.notes()[0].find("checkpoint['model']") != std::string::npos);
  // timm-train files: 'state_dict' first; the EMA copy on request
  PickledCheckpoint ema(pickled("timm_f16.pth.tar"), "state_dict_ema");
  CHECK(ema.tensors().size() == 1);
  CHECK(ema.find("cls_token") != nullptr);  // module. stripped
  try {
    PickledCheckpoint bad(pickled("timm_f16.pth.tar"), "weights");
    FAIL("no error");
  } catch (const ModelError& e) {
    std::string m = e.what();
    CHECK(m.find("no key 'weights'") != std::string::npos);
    CHECK(m.find("'state_dict'") != std::string::npos);  // lists what is there
  }
  try {
    PickledCheckpoint bad(pickled("timm_f16.pth.tar"), "args");
    FAIL("no error");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("argparse.Namespace") != std::string::npos);
  }
  for (const char* f : {"whole_model.pth", "whole_model_legacy.pth"}) {
    CAPTURE(f);
    try {
      PickledCheckpoint bad(pickled(f));
      FAIL("no error");
    } catch (const ModelError& e) {
      std::string m = e.what();
      CHECK(m.find("TinyNet") != std::string::npos);
      CHECK(m.find("model.state_dict()") != std::string::npos);
    }
  }
}

TEST_CASE("pickled: checkpoints run to the PyTorch goldens from their files") {
  struct Case {
    const char* file;
    const char* golden;
  };
  for (Case c : {Case{"tv_zip.pth", "tv_legacy_resized"}, Case{"tv_legacy.pth", "tv_legacy_resized"},
                 Case{"deit_legacy.pth", "hf_deit_teacher_resized"}, Case{"timm_f16.pth.tar", "timm_f16"},
                 Case{"dino_full.pth", "timm_dinov2_resized"},
                 Case{"hf_vitmodel_resized_p2.pdparams", "hf_vitmodel_resized"},
                 Case{"timm_dinov2_resized_p4.pdparams", "timm_dinov2_resized"},
                 // the seed layouts of issue 14, from the files their frameworks write
                 Case{"paddle_clas.pdparams", "paddle_clas"}, Case{"paddle_tutorial.pdparams", "paddle_tutorial"},
                 Case{"enc_postnorm_relu.pth", "enc_postnorm_relu"},
                 Case{"enc_postnorm_relu_legacy.pth", "enc_postnorm_relu"}}) {
    CAPTURE(c.file);
    test::GoldenCase g = test::golden_case(c.golden);
    g.model_dir = model_dir_with(c.file, c.golden);
    test::GoldenResult r = test::check_golden_case(g);
    CHECK(r.passed);
  }
}

TEST_CASE("pickled: every hostile file is refused with exit 1 and one line, and no payload runs") {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(test::source_dir() + "/tests/data/hostile"))
    files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 40);
  // 200,000-deep nesting, written here (600 KB each): lists, tuples (MARKs), dicts; as a
  // Paddle pickle and inside a legacy torch file.
  const int depth = 200000;
  std::string lists = "\x80\x02"s + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  std::string tuples = "\x80\x02"s + std::string(depth, '(') + std::string(depth, 't') + ".";
  std::string dicts = "\x80\x02}"s;
  for (int i = 1; i < depth; ++i) dicts += "K\x00}"s;
  dicts += std::string(depth - 1, 's') + ".";
  std::string legacy_head = read_file(pickled("tv_legacy.pth")).substr(0, 137);  // magic, protocol, sys info
  REQUIRE(legacy_head.substr(legacy_head.size() - 1) == ".");
  for (auto [name, bytes] : {std::pair{"deep_lists.pdparams", lists}, {"deep_tuples.pdparams", tuples},
                             {"deep_dicts.pdparams", dicts}, {"deep_lists_legacy.pth", legacy_head + lists}}) {
    std::string path = scratch() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    files.push_back(path);
  }
  for (const auto& f : files) {
    CAPTURE(f);
    std::string cwd = scratch() + "/run-" + fs::path(f).filename().string();
    fs::create_directories(cwd);
    CliResult r = run_cli({"info", "--model", f}, cwd);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find(f) != std::string::npos);  // names the file
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
    CHECK_FALSE(fs::exists(cwd + "/vitscope_pwned"));
    std::string name = fs::path(f).filename().string();
    // payload files name the global they wanted to call
    if (name.rfind("os_system", 0) == 0) CHECK(r.err.find("posix.system") != std::string::npos);
    if (name.rfind("eval", 0) == 0) CHECK(r.err.find(".eval") != std::string::npos);
    if (name.rfind("exec", 0) == 0) CHECK(r.err.find(".exec") != std::string::npos);
    // (protocol 2 writes subprocess.Popen under its Python 2 name, commands.Popen)
    if (name.rfind("subprocess", 0) == 0) CHECK(r.err.find(".Popen") != std::string::npos);
    if (name.rfind("importlib", 0) == 0) CHECK(r.err.find("importlib.import_module") != std::string::npos);
    if (name.rfind("deep", 0) == 0) CHECK(r.err.find("nested") != std::string::npos);
    if (name.find("past_storage") != std::string::npos) CHECK(r.err.find("tensor 'w'") != std::string::npos);
  }
}
