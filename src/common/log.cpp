#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace zks {

Status setupLogging(const std::string& level, const std::string& format) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return fail(ErrorCode::kInvalidArgument, "unknown log level '" + level + "'");
  }
  spdlog::drop("zkstandby");  // a second call (reload, final sync) replaces the logger
  auto logger = spdlog::stderr_logger_mt("zkstandby");
  if (format == "json") {
    // The message is escaped by spdlog's %v only partially, so callers keep
    // quotes out of structured messages; fields are fixed and machine-readable.
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%v"})");
  } else if (format == "text") {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  } else {
    return fail(ErrorCode::kInvalidArgument, "unknown log format '" + format + "'");
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace zks
