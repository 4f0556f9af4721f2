#include "model/yaml_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include "core/error.h"

namespace vitscope {

namespace {

constexpr size_t kMaxYamlBytes = 16u << 20;
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 1u << 20;  // aliases can multiply a small file's nodes

struct Converter {
  const std::string& name;
  size_t nodes = 0;

  nlohmann::json scalar(const YAML::Node& n) const {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted: a string whatever it looks like
    static const std::regex integer("[-+]?[0-9]+"), hex("0x[0-9a-fA-F]+"),
        number("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (std::regex_match(s, integer) || std::regex_match(s, hex)) {
      errno = 0;
      long long v = std::strtoll(s.c_str(), nullptr, 0);
      if (errno == 0 && !(s.size() > 1 && s[0] == '0' && std::isdigit(static_cast<unsigned char>(s[1]))))
        return v;
    }
    if (std::regex_match(s, number)) return std::strtod(s.c_str(), nullptr);
    if (s == ".inf" || s == "+.inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf") return -std::numeric_limits<double>::infinity();
    return s;
  }

  nlohmann::json convert(const YAML::Node& n, int depth) {
    if (depth > kMaxDepth) throw ModelError(name + ": YAML nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (++nodes > kMaxNodes) throw ModelError(name + ": YAML document has over " + std::to_string(kMaxNodes) + " nodes");
    switch (n.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined: return nullptr;
      case YAML::NodeType::Scalar: return scalar(n);
      case YAML::NodeType::Sequence: {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : n) out.push_back(convert(item, depth + 1));
        return out;
      }
      case YAML::NodeType::Map: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& kv : n) {
          if (!kv.first.IsScalar()) throw ModelError(name + ": YAML mapping keys must be plain values");
          out[kv.first.Scalar()] = convert(kv.second, depth + 1);
        }
        return out;
      }
    }
    return nullptr;
  }
};

}  // namespace

nlohmann::json parse_yaml(const std::string& text, const std::string& name) {
  if (text.size() > kMaxYamlBytes) throw ModelError(name + ": YAML file over 16 MB");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ModelError(name + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Converter c{name};
  try {
    return c.convert(root, 0);
  } catch (const YAML::Exception& e) {
    throw ModelError(name + ": invalid YAML: " + e.msg);
  }
}

nlohmann::json read_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": cannot open");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, size_t(in.gcount()));
    if (text.size() > kMaxYamlBytes) throw ModelError(path + ": YAML file over 16 MB");
  }
  return parse_yaml(text, path);
}

}  // namespace vitscope
