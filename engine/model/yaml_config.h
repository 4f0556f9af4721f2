// YAML config files (PaddleClas's ppcls/configs/*.yaml) read with yaml-cpp into the same
// JSON structure the loaders take from config.json.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace vitscope {

// The document as JSON: mappings become objects, sequences arrays; a plain scalar becomes
// an integer, a number, true/false or null where YAML 1.2's core schema reads it so, else a
// string (so "1.0/255.0" stays the text PaddleClas evaluates); quoted scalars stay strings.
// Throws ModelError naming the file and line on a syntax error, on aliases nested too deep
// and on documents over 16 MB.
nlohmann::json read_yaml_file(const std::string& path);
nlohmann::json parse_yaml(const std::string& text, const std::string& name);

}  // namespace vitscope
