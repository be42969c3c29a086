#pragma once

#include <string>

#include "common/error.h"

namespace zks {

// Sets up the process-wide spdlog logger on stderr.
// level: trace|debug|info|warn|error|off; format: text|json.
Status setupLogging(const std::string& level, const std::string& format);

}  // namespace zks
