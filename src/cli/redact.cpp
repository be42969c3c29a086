#include "cli/redact.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>

namespace zks::cli {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool looksSecret(std::string_view name) {
  const std::string l = lower(name);
  return std::any_of(kSecretWords.begin(), kSecretWords.end(),
                     [&](const std::string& word) { return l.find(word) != std::string::npos; });
}

// Replaces the values of secret keys anywhere in `j`; true when it did.
bool redactJson(nlohmann::ordered_json& j) {
  bool changed = false;
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (looksSecret(it.key())) {
        it.value() = kRedacted;
        changed = true;
      } else {
        changed = redactJson(it.value()) || changed;
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j) changed = redactJson(v) || changed;
  }
  return changed;
}

// key=value / key: value lines; comments and other lines kept as they are.
bool redactProperties(const std::string& text, std::string& out) {
  std::istringstream in(text);
  std::string line;
  bool changed = false;
  bool first = true;
  while (std::getline(in, line)) {
    if (!first) out += '\n';
    first = false;
    const size_t start = line.find_first_not_of(" \t");
    const size_t sep = start == std::string::npos ? std::string::npos : line.find_first_of("=:", start);
    if (sep != std::string::npos && line[start] != '#' && line[start] != '!' &&
        looksSecret(std::string_view(line).substr(start, sep - start))) {
      out += line.substr(0, sep + 1) + kRedacted;
      changed = true;
    } else {
      out += line;
    }
  }
  if (!text.empty() && text.back() == '\n') out += '\n';
  return changed;
}

}  // namespace

std::string Redactor::aclId(const zk::Acl& acl) const {
  if (show_ || acl.scheme != "digest") return acl.id;
  const size_t colon = acl.id.find(':');
  return (colon == std::string::npos ? acl.id : acl.id.substr(0, colon)) + ":" + kRedacted;
}

bool Redactor::secretNode(const plan::Change& change) const {
  if (show_) return false;
  return secret_paths_.matches(change.path) || (!change.source_path.empty() && secret_paths_.matches(change.source_path));
}

bool Redactor::secretField(std::string_view field) const {
  if (show_) return false;
  // A JSON pointer: its last token names the field.
  const size_t slash = field.rfind('/');
  return looksSecret(slash == std::string_view::npos ? field : field.substr(slash + 1));
}

std::string Redactor::payload(const std::string& data) const {
  if (show_ || data.empty()) return data;
  auto j = nlohmann::ordered_json::parse(data, nullptr, false);
  if (!j.is_discarded() && j.is_structured()) {
    return redactJson(j) ? j.dump() : data;
  }
  std::string out;
  return redactProperties(data, out) ? out : data;
}

}  // namespace zks::cli
