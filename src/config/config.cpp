// Loads the YAML config into Config. The walk checks every key it meets and
// keeps going after a problem, so one run of `validate` shows every mistake
// with its line; the cross-checks between roots and state_path come last.

#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "config/checks.h"

namespace zks::config {
namespace fs = std::filesystem;

std::string Problem::describe() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

namespace {

// One value of the document, with the dotted name and the line an operator
// looks for. The line is the key's: yaml-cpp marks an empty value at the
// start of whatever follows it.
struct Field {
  std::string name;
  int line = 0;
  YAML::Node node;
};

// A key a section accepts and what to do with its value.
struct Key {
  std::string_view name;
  std::function<void(const Field&)> load;
  bool required = false;
};

std::string kindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "no value";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

std::string inQuotes(std::string_view text) { return "'" + std::string(text) + "'"; }

class Loader {
 public:
  Loader(std::string file, fs::path base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  void load(const YAML::Node& root) {
    Field top{"", std::max(lineOf(root), 1), root};
    if (root.IsNull()) {
      add(0, "the file is empty; it needs at least primary, backup and sync sections");
      return;
    }
    walkMap(top, {
                     {"primary", [this](const Field& f) { loadSite(f, config_.primary); }, true},
                     {"backup", [this](const Field& f) { loadSite(f, config_.backup); }, true},
                     {"sync", [this](const Field& f) { loadSync(f); }, true},
                     {"mapping", [this](const Field& f) { loadMapping(f); }},
                     {"state_path", [this](const Field& f) { loadStatePath(f); }},
                     {"diff", [this](const Field& f) { loadDiff(f); }},
                     {"http", [this](const Field& f) { loadHttp(f); }},
                     {"log", [this](const Field& f) { loadLog(f); }},
                 });
    checkTargets();
  }

  Config& config() { return config_; }
  std::vector<Problem>& problems() { return problems_; }

  void add(int line, std::string message) { problems_.push_back(Problem{file_, line, std::move(message)}); }

 private:
  static int lineOf(const YAML::Node& node, int fallback = 0) {
    YAML::Mark mark = node.Mark();
    return mark.line >= 0 ? mark.line + 1 : fallback;
  }

  // Reports unknown, duplicate and missing keys, and hands each known key's
  // value to its loader. An empty section counts as a section with no keys.
  void walkMap(const Field& map, const std::vector<Key>& keys) {
    std::string where = map.name.empty() ? "at the top level" : "in " + inQuotes(map.name);
    std::set<std::string_view> seen;
    std::set<std::string_view> hinted;  // required keys a misspelling stands for
    if (!map.node.IsNull() && !map.node.IsMap()) {
      add(map.line, (map.name.empty() ? "the top level" : map.name) + " must be a mapping of keys, got " + kindOf(map.node));
      return;
    }
    std::map<std::string, int> lines;
    for (auto it = map.node.begin(); it != map.node.end(); ++it) {
      const YAML::Node key_node = it->first;
      int line = lineOf(key_node, map.line);
      if (!key_node.IsScalar()) {
        add(line, "keys " + where + " must be plain names, got " + kindOf(key_node));
        continue;
      }
      const std::string& key = key_node.Scalar();
      std::string name = map.name.empty() ? key : map.name + "." + key;
      if (auto [first, inserted] = lines.emplace(key, line); !inserted) {
        add(line, "duplicate key " + inQuotes(name) + " (first on line " + std::to_string(first->second) + ")");
        continue;
      }
      auto known = std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.name == key; });
      if (known == keys.end()) {
        std::string message = "unknown key " + inQuotes(key) + " " + where;
        if (auto hint = closest(key, keys)) {
          message += "; did you mean " + inQuotes(*hint) + "?";
          hinted.insert(*hint);
        } else {
          message += " (known keys:";
          for (const Key& k : keys) message += " " + std::string(k.name);
          message += ")";
        }
        add(line, std::move(message));
        continue;
      }
      seen.insert(known->name);
      YAML::Node value = it->second;
      known->load(Field{name, line, value});
    }
    for (const Key& k : keys) {
      // A misspelled required key was already reported as such; a second
      // problem for the same slip would only add noise.
      if (k.required && !seen.contains(k.name) && !hinted.contains(k.name)) {
        std::string name = map.name.empty() ? std::string(k.name) : map.name + "." + std::string(k.name);
        add(map.line, "missing required key " + inQuotes(name));
      }
    }
  }

  static std::optional<std::string_view> closest(std::string_view key, const std::vector<Key>& keys) {
    std::optional<std::string_view> best;
    size_t best_distance = 3;  // more than two edits is a different word
    for (const Key& k : keys) {
      size_t distance = editDistance(key, k.name);
      if (distance < best_distance) {
        best_distance = distance;
        best = k.name;
      }
    }
    return best;
  }

  // Calls each for every item; an empty value counts as an empty list.
  void walkList(const Field& list, const std::function<void(const Field&)>& each) {
    if (list.node.IsNull()) return;
    if (!list.node.IsSequence()) {
      add(list.line, list.name + " must be a list, got " + kindOf(list.node));
      return;
    }
    size_t index = 0;
    int previous_line = list.line;
    for (auto it = list.node.begin(); it != list.node.end(); ++it, ++index) {
      YAML::Node item = *it;
      // yaml-cpp marks an empty item at the token after it, which may be a
      // later section; the list's line or the previous item's is closer.
      int line = item.IsNull() ? previous_line : lineOf(item, list.line);
      previous_line = line;
      each(Field{list.name + "[" + std::to_string(index) + "]", line, item});
    }
  }

  std::optional<std::string> textOf(const Field& f) {
    if (f.node.IsScalar()) return f.node.Scalar();
    add(f.line, f.name + " must be a string, got " + kindOf(f.node));
    return std::nullopt;
  }

  std::optional<long long> integer(const Field& f, long long min, long long max) {
    if (!f.node.IsScalar()) {
      add(f.line, f.name + " must be an integer, got " + kindOf(f.node));
      return std::nullopt;
    }
    const std::string& text = f.node.Scalar();
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) {
      add(f.line, f.name + " must be at most " + std::to_string(max) + ", got " + text);
      return std::nullopt;
    }
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
      add(f.line, f.name + " must be an integer, got " + inQuotes(text));
      return std::nullopt;
    }
    if (value < min) {
      std::string rule = min == 1 ? "must be greater than 0" : min == 0 ? "must not be negative" : "must be at least " + std::to_string(min);
      add(f.line, f.name + " " + rule + ", got " + text);
      return std::nullopt;
    }
    if (value > max) {
      add(f.line, f.name + " must be at most " + std::to_string(max) + ", got " + text);
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> boolean(const Field& f) {
    bool value = false;
    if (f.node.IsScalar() && YAML::convert<bool>::decode(f.node, value)) return value;
    add(f.line, f.name + " must be true or false, got " + kindOf(f.node));
    return std::nullopt;
  }

  void positiveInt(const Field& f, int& out) {
    if (auto v = integer(f, 1, INT_MAX)) out = static_cast<int>(*v);
  }

  std::optional<std::string> oneOf(const Field& f, std::initializer_list<std::string_view> allowed) {
    auto text = textOf(f);
    if (!text) return std::nullopt;
    if (std::find(allowed.begin(), allowed.end(), *text) != allowed.end()) return text;
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    add(f.line, f.name + " must be one of " + list + "; got " + inQuotes(*text));
    return std::nullopt;
  }

  std::optional<std::string> znodePath(const Field& f) {
    auto text = textOf(f);
    if (!text) return std::nullopt;
    if (auto error = znodePathError(*text)) {
      add(f.line, f.name + " " + inQuotes(*text) + " is not a valid znode path: it " + *error);
      return std::nullopt;
    }
    return text;
  }

  fs::path resolve(const std::string& path) const { return (base_dir_ / path).lexically_normal(); }

  void loadSite(const Field& f, SiteConfig& site) {
    std::vector<std::pair<int, std::string>> native_only;  // keys the C client cannot honour
    walkMap(f, {
                   {"connect",
                    [this, &site](const Field& v) {
                      auto text = textOf(v);
                      if (!text) return;
                      if (auto error = connectStringError(*text)) {
                        add(v.line, v.name + " " + inQuotes(*text) + " is not host:port[,host:port...][/chroot]: it " + *error);
                        return;
                      }
                      site.connect = *text;
                    },
                    true},
                   {"session_timeout_ms", [this, &site](const Field& v) { positiveInt(v, site.session_timeout_ms); }},
                   {"connect_timeout_ms", [this, &site](const Field& v) { positiveInt(v, site.connect_timeout_ms); }},
                   {"max_in_flight",
                    [this, &site](const Field& v) {
                      if (auto n = integer(v, 1, 1 << 20)) site.max_in_flight = static_cast<size_t>(*n);
                    }},
                   {"auth", [this, &site](const Field& v) { walkList(v, [this, &site](const Field& item) { loadAuth(item, site); }); }},
                   {"client",
                    [this, &site](const Field& v) {
                      if (auto text = oneOf(v, {"native", "libzookeeper"})) {
                        site.client = *text == "native" ? zk::Backend::kNative : zk::Backend::kLibzookeeper;
                      }
                    }},
                   {"tls", [this, &site, &native_only](const Field& v) {
                      native_only.emplace_back(v.line, v.name);
                      loadTls(v, site);
                    }},
                   {"multi_read",
                    [this, &site, &native_only](const Field& v) {
                      native_only.emplace_back(v.line, v.name);
                      if (auto b = boolean(v)) site.multi_read = *b;
                    }},
                   {"persistent_watches",
                    [this, &site, &native_only](const Field& v) {
                      native_only.emplace_back(v.line, v.name);
                      if (auto b = boolean(v)) site.persistent_watches = *b;
                    }},
                   {"max_packet_bytes",
                    [this, &site, &native_only](const Field& v) {
                      native_only.emplace_back(v.line, v.name);
                      if (auto n = integer(v, 65536, INT32_MAX)) site.max_packet_bytes = static_cast<size_t>(*n);
                    }},
                   {"max_read_sessions",
                    [this, &site](const Field& v) {
                      if (auto n = integer(v, 1, 16)) site.max_read_sessions = static_cast<int>(*n);
                    }},
               });
    // The packaged C client has no TLS and knows neither multiRead nor
    // addWatch: these keys would be silently ignored with it.
    if (site.client == zk::Backend::kLibzookeeper) {
      for (const auto& [line, name] : native_only) {
        add(line, name + " needs client: native (the libzookeeper client has no " +
                      (name.ends_with(".tls") ? std::string("TLS; see deploy/stunnel for a tunnel)") : std::string("use for it)")));
      }
    }
  }

  void loadTls(const Field& f, SiteConfig& site) {
    TlsConfig tls;
    bool ok = true;
    auto file = [&](std::string& out) {
      return [&](const Field& v) {
        auto text = textOf(v);
        if (!text || text->empty()) {
          if (text) add(v.line, v.name + " is empty");
          ok = false;
          return;
        }
        out = resolve(*text).string();
      };
    };
    walkMap(f, {
                   {"ca_file", file(tls.ca_file), true},
                   {"cert_file", file(tls.cert_file)},
                   {"key_file", file(tls.key_file)},
                   {"verify_hostname",
                    [&](const Field& v) {
                      if (auto b = boolean(v)) {
                        tls.verify_hostname = *b;
                      } else {
                        ok = false;
                      }
                    }},
               });
    if (!f.node.IsMap()) {
      if (f.node.IsNull()) return;  // walkMap reported the missing ca_file
      return;                       // walkMap said why
    }
    if (f.node["cert_file"].IsDefined() != f.node["key_file"].IsDefined()) {
      add(f.line, f.name + " needs both cert_file and key_file, or neither");
      ok = false;
    }
    if (!f.node["ca_file"].IsDefined()) ok = false;
    if (ok) site.tls = std::move(tls);
  }

  void loadAuth(const Field& f, SiteConfig& site) {
    AuthConfig auth;
    bool ok = true;
    walkMap(f, {
                   {"scheme",
                    [&](const Field& v) {
                      auto text = textOf(v);
                      if (!text) {
                        ok = false;
                      } else if (*text != "digest") {
                        // The packaged C client has no SASL and no TLS; digest is all it speaks.
                        add(v.line, v.name + " " + inQuotes(*text) + " is not supported: only 'digest' is");
                        ok = false;
                      }
                    }},
                   {"credentials_file",
                    [&](const Field& v) {
                      auto text = textOf(v);
                      if (!text || text->empty()) {
                        if (text) add(v.line, v.name + " is empty");
                        ok = false;
                        return;
                      }
                      auth.credentials_file = resolve(*text).string();
                    }},
                   {"credentials_env",
                    [&](const Field& v) {
                      auto text = textOf(v);
                      if (!text || text->empty()) {
                        if (text) add(v.line, v.name + " is empty");
                        ok = false;
                        return;
                      }
                      auth.credentials_env = *text;
                    }},
               });
    if (!f.node.IsNull() && !f.node.IsMap()) return;  // walkMap said why
    bool has_file = f.node["credentials_file"].IsDefined();
    bool has_env = f.node["credentials_env"].IsDefined();
    if (has_file == has_env) {
      add(f.line, f.name + " needs exactly one of credentials_file or credentials_env");
      ok = false;
    }
    if (ok) site.auth.push_back(std::move(auth));
  }

  void loadSync(const Field& f) {
    SyncConfig& sync = config_.sync;
    walkMap(f, {
                   {"roots", [this](const Field& v) { loadRoots(v); }, true},
                   {"exclude",
                    [this, &sync](const Field& v) {
                      walkList(v, [this, &sync](const Field& item) {
                        auto text = textOf(item);
                        if (!text) return;
                        if (auto error = globError(*text)) {
                          add(item.line, item.name + " " + inQuotes(*text) + " is not a valid glob: it " + *error);
                          return;
                        }
                        sync.exclude.push_back(*text);
                      });
                    }},
                   {"ephemerals",
                    [this, &sync](const Field& v) {
                      if (auto text = oneOf(v, {"skip", "persist"})) {
                        sync.ephemerals = *text == "skip" ? EphemeralPolicy::kSkip : EphemeralPolicy::kPersist;
                      }
                    }},
                   {"acls",
                    [this, &sync](const Field& v) {
                      if (auto text = oneOf(v, {"copy", "open", "keep-backup"})) {
                        sync.acls = *text == "copy" ? AclPolicy::kCopy : *text == "open" ? AclPolicy::kOpen : AclPolicy::kKeepBackup;
                      }
                    }},
                   {"deletes",
                    [this, &sync](const Field& v) {
                      if (auto text = oneOf(v, {"propagate", "keep"})) {
                        sync.deletes = *text == "propagate" ? DeletePolicy::kPropagate : DeletePolicy::kKeep;
                      }
                    }},
                   {"max_delete_fraction", [this, &sync](const Field& v) { loadFraction(v, sync.max_delete_fraction); }},
                   {"audit_interval_s",
                    [this, &sync](const Field& v) {
                      if (auto n = integer(v, 0, INT_MAX)) sync.audit_interval_s = static_cast<int>(*n);
                    }},
                   {"max_request_bytes",
                    [this, &sync](const Field& v) {
                      // Below a few KiB not even one node with its path fits a batch.
                      auto n = integer(v, 4096, INT_MAX);
                      if (!n) return;
                      // A server with the default jute.maxbuffer drops the
                      // connection on a larger request: every full batch would
                      // fail and be retried forever.
                      if (*n > kMaxRequestBytesLimit) {
                        add(v.line, v.name + " must be at most " + std::to_string(kMaxRequestBytesLimit) +
                                        " (ZooKeeper's default jute.maxbuffer: a larger batch makes the server drop "
                                        "the connection), got " + std::to_string(*n));
                        return;
                      }
                      sync.max_request_bytes = static_cast<size_t>(*n);
                    }},
                   {"max_write_ops_per_s",
                    [this, &sync](const Field& v) {
                      if (auto n = integer(v, 0, INT_MAX)) sync.max_write_ops_per_s = static_cast<int>(*n);
                    }},
               });
  }

  void loadFraction(const Field& f, double& out) {
    if (!f.node.IsScalar()) {
      add(f.line, f.name + " must be a number, got " + kindOf(f.node));
      return;
    }
    const std::string& text = f.node.Scalar();
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
      add(f.line, f.name + " must be a number, got " + inQuotes(text));
      return;
    }
    if (!(value >= 0.0 && value <= 1.0)) {
      add(f.line, f.name + " must be between 0 and 1, got " + text);
      return;
    }
    out = value;
  }

  void loadRoots(const Field& f) {
    walkList(f, [this](const Field& item) {
      std::optional<std::string> source;
      std::optional<std::string> target;
      bool target_bad = false;
      int target_line = item.line;
      walkMap(item, {
                        {"source", [&](const Field& v) { source = znodePath(v); }, true},
                        {"target",
                         [&](const Field& v) {
                           target_line = v.line;
                           target = znodePath(v);
                           target_bad = !target;
                         }},
                    });
      if (!source || target_bad) return;
      config_.sync.roots.push_back(RootConfig{*source, target.value_or(*source)});
      root_lines_.push_back(target_line);
    });
    if (f.node.IsNull() || (f.node.IsSequence() && f.node.size() == 0)) {
      add(f.line, f.name + " must list at least one root");
    }
  }

  void loadMapping(const Field& f) {
    walkMap(f, {
                   {"files",
                    [this](const Field& v) {
                      walkList(v, [this](const Field& item) {
                        auto text = textOf(item);
                        if (!text) return;
                        if (text->empty()) {
                          add(item.line, item.name + " is empty");
                          return;
                        }
                        config_.mapping.files.push_back(resolve(*text));
                      });
                    }},
               });
  }

  void loadStatePath(const Field& f) {
    if (auto path = znodePath(f)) {
      config_.state_path = *path;
      state_path_line_ = f.line;
    }
  }

  void loadDiff(const Field& f) {
    walkMap(f, {
                   {"secret_paths",
                    [this](const Field& v) {
                      config_.diff.secret_paths.clear();  // given: replaces the default
                      walkList(v, [this](const Field& item) {
                        auto text = textOf(item);
                        if (!text) return;
                        if (auto error = globError(*text)) {
                          add(item.line, item.name + " " + inQuotes(*text) + " is not a valid glob: it " + *error);
                          return;
                        }
                        config_.diff.secret_paths.push_back(*text);
                      });
                    }},
               });
  }

  void loadHttp(const Field& f) {
    walkMap(f, {
                   {"listen",
                    [this](const Field& v) {
                      auto text = textOf(v);
                      if (!text) return;
                      if (!text->empty()) {
                        if (auto error = hostPortError(*text, true)) {
                          add(v.line, v.name + " " + inQuotes(*text) + " is not \"host:port\" (or \"\" for off): it " + *error);
                          return;
                        }
                      }
                      config_.http.listen = *text;
                    }},
               });
  }

  void loadLog(const Field& f) {
    walkMap(f, {
                   {"level",
                    [this](const Field& v) {
                      if (auto text = oneOf(v, {"trace", "debug", "info", "warn", "error", "critical", "off"})) {
                        config_.log.level = *text;
                      }
                    }},
                   {"format",
                    [this](const Field& v) {
                      if (auto text = oneOf(v, {"text", "json"})) config_.log.format = *text;
                    }},
               });
  }

  static bool inside(const std::string& inner, const std::string& outer) {
    if (outer == "/") return inner != "/";
    return inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/';
  }

  // Two targets that overlap would let one root's deletes remove the other's
  // nodes; state_path inside a target would be deleted as drift.
  void checkTargets() {
    const auto& roots = config_.sync.roots;
    for (size_t j = 0; j < roots.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        const std::string& a = roots[i].target;
        const std::string& b = roots[j].target;
        std::string first = " (line " + std::to_string(root_lines_[i]) + ")";
        if (a == b) {
          add(root_lines_[j], "target root " + inQuotes(b) + " is used twice" + first);
        } else if (inside(b, a)) {
          add(root_lines_[j], "target root " + inQuotes(b) + " lies inside target root " + inQuotes(a) + first);
        } else if (inside(a, b)) {
          add(root_lines_[j], "target root " + inQuotes(b) + " contains target root " + inQuotes(a) + first);
        }
      }
    }
    const std::string& state = config_.state_path;
    std::string state_name = "state_path " + inQuotes(state) + (state_path_line_ ? "" : " (the default)");
    for (size_t i = 0; i < roots.size(); ++i) {
      const std::string& target = roots[i].target;
      int line = state_path_line_ ? state_path_line_ : root_lines_[i];
      if (state == target || inside(state, target)) {
        add(line, state_name + " lies inside target root " + inQuotes(target) + "; it must be outside every target root");
      } else if (inside(target, state)) {
        add(line, "target root " + inQuotes(target) + " lies inside " + state_name);
      }
    }
  }

  std::string file_;
  fs::path base_dir_;
  Config config_;
  std::vector<Problem> problems_;
  std::vector<int> root_lines_;  // parallel to config_.sync.roots: where each target was given
  int state_path_line_ = 0;      // 0 while state_path is the default
};

}  // namespace

std::expected<Config, std::vector<Problem>> loadConfig(const fs::path& file) {
  const std::string name = file.string();
  auto one = [&](int line, std::string message) {
    return std::unexpected(std::vector<Problem>{Problem{name, line, std::move(message)}});
  };
  std::error_code ec;
  if (fs::is_directory(file, ec)) return one(0, "cannot read config file: it is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in) return one(0, std::string("cannot read config file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return one(0, std::string("cannot read config file: ") + std::strerror(errno));

  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text.str());
  } catch (const YAML::ParserException& e) {
    return one(e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML syntax error: " + e.msg);
  }

  fs::path base_dir = fs::absolute(file, ec).parent_path();
  Loader loader(name, base_dir);
  try {
    loader.load(documents.empty() ? YAML::Node() : documents.front());
    if (documents.size() > 1) {
      YAML::Mark mark = documents[1].Mark();
      loader.add(mark.line >= 0 ? mark.line + 1 : 0, "the file holds more than one YAML document; only one is allowed");
    }
  } catch (const YAML::Exception& e) {
    // The walk checks types before it converts, so this is a bug; still,
    // the operator gets a place rather than a crash.
    loader.add(e.mark.line >= 0 ? e.mark.line + 1 : 0, std::string("internal error reading the config: ") + e.what());
  }
  auto& problems = loader.problems();
  if (!problems.empty()) {
    std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) { return a.line < b.line; });
    return std::unexpected(std::move(problems));
  }
  Config config = std::move(loader.config());
  config.file = file;
  return config;
}

}  // namespace zks::config
