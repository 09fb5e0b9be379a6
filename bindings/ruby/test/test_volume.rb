# frozen_string_literal: true

require_relative "helper"

# 100,000 messages through Ruby workers: each handled once, RSS bounded (no leak in the binding or the library).
class TestVolume < Minitest::Test
  TOTAL = 100_000

  def rss_mib = File.read("/proc/self/status")[/VmRSS:\s+(\d+)/, 1].to_i / 1024.0

  TIMEOUT = 900 # this one test may take minutes on a slow machine

  def test_100k_messages_with_bounded_rss
    url = queue
    pub = SqsMega::SqsPublisher.new(queue_url: url, **ENDPOINT.connection)
    (0...TOTAL).each_slice(1000) do |slice|
      results = pub.publish_batch(slice.map { |n| { type: "order", n: n } })
      assert(results.all? { |r| r.is_a?(SqsMega::Published) })
    end
    seen = Array.new(TOTAL, 0)
    count = 0
    marks = {}
    lock = Mutex.new
    l = listener(url, pollers: 2)
    orders = Class.new(SqsMega::DataSubscriber) do
      pattern type: "order"
      define_method(:process) do |payload|
        lock.synchronize do
          seen[payload["n"]] += 1
          count += 1
          marks[:warm] = rss_mib if count == 20_000
          if count == TOTAL
            marks[:end] = rss_mib
            l.stop
          end
        end
        :done
      end
    end
    test = self
    orders.define_method(:rss_mib) { test.rss_mib }
    l.register(orders)
    stats = l.listen
    assert_equal TOTAL, stats["done"]
    assert_equal TOTAL, stats["deleted"]
    assert(seen.all? { |x| x == 1 }, "every message handled exactly once")
    growth = marks[:end] - marks[:warm]
    assert_operator growth, :<, 40, "RSS grew #{growth.round(1)} MiB over the last 80,000 messages"
  end
end
