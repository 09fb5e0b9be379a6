# frozen_string_literal: true

# Ruby listener benchmark, next to the C callback path, one run (medians of ROUNDS): bash bindings/bench/run.sh
require "sqs_mega"

MESSAGES = Integer(ENV.fetch("MEGA_BENCH_MESSAGES", "20000"))
ROUNDS = Integer(ENV.fetch("MEGA_BENCH_ROUNDS", "3"))
C_NOOP = ARGV.fetch(0)

def preload(ep, n)
  url = ep.create_queue("bench-#{rand(1 << 40)}")
  pub = SqsMega::SqsPublisher.new(queue_url: url, **ep.connection)
  (0...n).each_slice(1000) { |s| pub.publish_batch(s.map { |i| { type: "order", n: i } }) }
  url
end

def c_path(ep)
  url = preload(ep, MESSAGES)
  secs, rpm = `#{C_NOOP} #{url} #{ep.url} #{MESSAGES}`.split.map(&:to_f)
  [MESSAGES / secs, rpm]
end

def ruby_path(ep)
  url = preload(ep, MESSAGES)
  count = 0
  lock = Mutex.new
  l = SqsMega::Listener.new(queue_url: url, wait_time_seconds: 1, pollers: 2, max_in_flight: 100, **ep.connection)
  noop = Class.new(SqsMega::DataSubscriber) do
    define_method(:process) do |_payload|
      lock.synchronize { l.stop if (count += 1) == MESSAGES }
      :done
    end
  end
  l.register(noop)
  t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  stats = l.listen
  secs = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
  raise "done #{stats["done"]}" unless stats["done"] == MESSAGES

  [MESSAGES / secs, (stats["receive_calls"] + stats["delete_calls"] + stats["visibility_calls"]).to_f / stats["received"]]
end

median = ->(xs) { xs.sort[xs.size / 2] }
rows = { c: [], ruby: [] }
SqsMega::LocalEndpoint.start do |ep|
  puts "Ruby listener benchmark: #{MESSAGES} messages per drain, #{ROUNDS} rounds, pollers=2, max_in_flight=100, workers=10, Ruby #{RUBY_VERSION}\n\n"
  ROUNDS.times do |r|
    rows[:c] << c_path(ep)
    rows[:ruby] << ruby_path(ep)
    puts format("round %d: C callback %d msg/s, Ruby %d msg/s", r + 1, rows[:c].last[0], rows[:ruby].last[0])
  end
end
c = median.call(rows[:c].map(&:first))
rb = median.call(rows[:ruby].map(&:first))
puts format("\n%-32s %10s %8s\n%-32s %10d %8.3f\n%-32s %10d %8.3f", "", "msg/s", "req/msg",
            "C callback (mega_listener_subscribe)", c, median.call(rows[:c].map(&:last)),
            "Ruby subscriber (pull, 10 threads)", rb, median.call(rows[:ruby].map(&:last)))
puts format("\ngoal: Ruby >= 60%% of the C callback path: %d%%", (100 * rb / c).round)
