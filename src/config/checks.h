#pragma once

// Checks on single config values, kept apart from the YAML walk so they are
// plain functions of a string. Each returns why the value is not acceptable,
// or nothing when it is. znodePathError and globError are declared in
// config.h because other loaders use them too.

#include <optional>
#include <string>
#include <string_view>

namespace zks::config {

// "host:port" or "[v6addr]:port". Port 0 is accepted only when allow_port_zero
// (a listen address where 0 asks the kernel for a free port).
std::optional<std::string> hostPortError(std::string_view text, bool allow_port_zero);

// A ZooKeeper connect string: "host:port[,host:port...][/chroot]".
std::optional<std::string> connectStringError(std::string_view text);

// Levenshtein distance, for "did you mean" hints on misspelled keys.
size_t editDistance(std::string_view a, std::string_view b);

}  // namespace zks::config
