# frozen_string_literal: true

require "minitest/autorun"
require "timeout"
require "securerandom"
require "sqs_mega"

ROOT = File.expand_path("../../..", __dir__)
VECTORS = File.join(ROOT, "tests", "vectors")

# One embedded endpoint for the test run.
ENDPOINT = SqsMega::LocalEndpoint.new
Minitest.after_run { ENDPOINT.close }

module Helpers
  def queue(attributes = {}) = ENDPOINT.create_queue("q-#{SecureRandom.hex(6)}", attributes)

  def publisher(url) = SqsMega::SqsPublisher.new(queue_url: url, **ENDPOINT.connection)

  def listener(url, **options)
    SqsMega::Listener.new(queue_url: url, wait_time_seconds: 1, shutdown_grace: 5, **ENDPOINT.connection, **options)
  end

  # Runs listen on a thread until the block holds, then stops: the run's stats.
  def run_until(listener, timeout: 20)
    stats = nil
    t = Thread.new { stats = listener.listen }
    deadline = Time.now + timeout
    sleep 0.02 until yield || Time.now > deadline
    listener.stop
    raise "listen did not return" unless t.join(15)
    assert yield, "the condition never held"
    stats
  end
end

# A per-test timeout: a hang is a deadlock, not a slow test.
module PerTestTimeout
  def run(*args)
    Timeout.timeout(self.class.const_defined?(:TIMEOUT) ? self.class::TIMEOUT : 120) { super(*args) }
  end
end

class Minitest::Test
  include Helpers
  prepend PerTestTimeout
end
