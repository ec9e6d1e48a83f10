#pragma once
// Metrics: counters, gauges and histograms with labels, rendered in the Prometheus text format
// (version 0.0.4). Pure and lock-light: updating a series is an atomic add; a series is created
// once under its family's mutex and lives as long as the family (references stay valid).
//  1. A Family has a name, help text, type and label names; with(values...) finds or makes a
//     series. Label sets must stay bounded: callers map unbounded values (event types) first.
//  2. Registry::render() writes every family, series sorted by labels, with HELP and TYPE.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace webhook::core {

class Counter {
 public:
  void inc(std::uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: upper bounds in increasing order (the +Inf bucket is implicit).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf (= count).
  std::vector<std::uint64_t> cumulative() const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, non-cumulative; +Inf last
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Latency buckets in seconds (0.5 ms .. 10 s) and batch-size buckets.
std::vector<double> latency_buckets();
std::vector<double> size_buckets();

enum class MetricType { counter, gauge, histogram };

template <typename Series>
class Family;

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels);
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels);
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds);
  std::string render() const;

 private:
  struct Entry;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Entry>> families_;  // GUARDED_BY(mutex_), in creation order
};

// Escapes a label value for the text format (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);

// ---- implementation detail of Family --------------------------------------------------------

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> labels)
      : name_(std::move(name)), help_(std::move(help)), type_(type), labels_(std::move(labels)) {}
  virtual ~FamilyBase() = default;
  virtual void render(std::string& out) const = 0;

 protected:
  std::string label_text(const std::vector<std::string>& values, std::string_view extra_name = {},
                         std::string_view extra_value = {}) const;
  void header(std::string& out) const;
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> labels_;
};

template <typename Series>
class Family final : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         std::vector<double> bounds)
      : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The series for these label values (one per label name, in order). Thread-safe.
  Series& with(const std::vector<std::string>& values = {}) {
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it == series_.end()) {
      if constexpr (std::is_same_v<Series, Histogram>) {
        it = series_.emplace(values, std::make_unique<Series>(bounds_)).first;
      } else {
        it = series_.emplace(values, std::make_unique<Series>()).first;
      }
    }
    return *it->second;
  }

  void render(std::string& out) const override;

 private:
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;  // GUARDED_BY(mutex_)
  std::vector<double> bounds_;
};

}  // namespace webhook::core
