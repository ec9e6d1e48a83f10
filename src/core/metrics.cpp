#include "webhook/core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace webhook::core {
namespace {

// Prometheus floats: integers without a fraction, others with enough digits; +Inf as such.
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

void add_atomic(std::atomic<double>& target, double v) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  add_atomic(sum_, v);
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> size_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}; }

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FamilyBase::label_text(const std::vector<std::string>& values,
                                   std::string_view extra_name,
                                   std::string_view extra_value) const {
  std::string out;
  for (std::size_t i = 0; i < labels_.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += labels_[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

void FamilyBase::header(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n";
  out += "# TYPE " + name_ + " " + std::string(type_name(type_)) + "\n";
}

template <>
void Family<Counter>::render(std::string& out) const {
  header(out);
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    out += name_ + label_text(values) + " " + std::to_string(series->value()) + "\n";
  }
}

template <>
void Family<Gauge>::render(std::string& out) const {
  header(out);
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    out += name_ + label_text(values) + " " + number(series->value()) + "\n";
  }
}

template <>
void Family<Histogram>::render(std::string& out) const {
  header(out);
  std::lock_guard lock(mutex_);
  for (const auto& [values, h] : series_) {
    const auto counts = h->cumulative();
    for (std::size_t i = 0; i < h->bounds().size(); ++i) {
      out += name_ + "_bucket" + label_text(values, "le", number(h->bounds()[i])) + " " +
             std::to_string(counts[i]) + "\n";
    }
    out += name_ + "_bucket" + label_text(values, "le", "+Inf") + " " +
           std::to_string(counts.back()) + "\n";
    out += name_ + "_sum" + label_text(values) + " " + number(h->sum()) + "\n";
    out += name_ + "_count" + label_text(values) + " " + std::to_string(counts.back()) + "\n";
  }
}

struct Registry::Entry {
  std::unique_ptr<FamilyBase> family;
};

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> labels) {
  auto f = std::make_unique<Family<Counter>>(std::move(name), std::move(help), MetricType::counter,
                                             std::move(labels));
  auto& ref = *f;
  std::lock_guard lock(mutex_);
  families_.push_back(std::make_shared<Entry>(Entry{std::move(f)}));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> labels) {
  auto f = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), MetricType::gauge,
                                           std::move(labels));
  auto& ref = *f;
  std::lock_guard lock(mutex_);
  families_.push_back(std::make_shared<Entry>(Entry{std::move(f)}));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  auto f =
      std::make_unique<Family<Histogram>>(std::move(name), std::move(help), MetricType::histogram,
                                          std::move(labels), std::move(bounds));
  auto& ref = *f;
  std::lock_guard lock(mutex_);
  families_.push_back(std::make_shared<Entry>(Entry{std::move(f)}));
  return ref;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& e : families_) e->family->render(out);
  return out;
}

}  // namespace webhook::core
