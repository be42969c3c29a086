// Registry::render: the Prometheus text exposition format, version 0.0.4.
// https://prometheus.io/docs/instrumenting/exposition_formats/

#include <charconv>
#include <cmath>
#include <limits>

#include "metrics/registry.h"

namespace zks::metrics {
namespace {

// HELP text escapes backslash and newline; label values also escape '"'.
void appendEscaped(std::string& out, const std::string& text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void appendNumber(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest exact form
    out.append(buffer, result.ptr);
  }
}

void appendNumber(std::string& out, uint64_t value) { out += std::to_string(value); }

// `{a="x",b="y"}`, with an optional extra label last (the histogram's le);
// nothing at all when there are no labels.
void appendLabels(std::string& out, const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& name, const std::string& value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    appendEscaped(out, value, true);
    out += '"';
  };
  for (const auto& [name, value] : labels) one(name, value);
  if (le != nullptr) one("le", *le);
  out += '}';
}

template <typename Number>
void appendSample(std::string& out, const std::string& name, const Labels& labels, Number value,
                  const std::string* le = nullptr) {
  out += name;
  appendLabels(out, labels, le);
  out += ' ';
  appendNumber(out, value);
  out += '\n';
}

}  // namespace

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " ";
    appendEscaped(out, family.help, false);
    out += "\n# TYPE " + name + " ";
    out += family.type == Type::kCounter ? "counter" : family.type == Type::kGauge ? "gauge" : "histogram";
    out += '\n';
    for (const auto& [labels, series] : family.series) {
      if (auto* counter = std::get_if<std::unique_ptr<Counter>>(&series)) {
        appendSample(out, name, labels, (*counter)->value());
      } else if (auto* gauge = std::get_if<std::unique_ptr<Gauge>>(&series)) {
        appendSample(out, name, labels, (*gauge)->value());
      } else {
        Histogram::Snapshot snap = std::get<std::unique_ptr<Histogram>>(series)->snapshot();
        std::string bucket_name = name + "_bucket";
        for (size_t i = 0; i < snap.cumulative.size(); ++i) {
          std::string le;
          appendNumber(le, i < snap.upper_bounds.size() ? snap.upper_bounds[i] : std::numeric_limits<double>::infinity());
          appendSample(out, bucket_name, labels, snap.cumulative[i], &le);
        }
        appendSample(out, name + "_sum", labels, snap.sum);
        appendSample(out, name + "_count", labels, snap.count);
      }
    }
  }
  return out;
}

}  // namespace zks::metrics
