# frozen_string_literal: true

# Completion stores by URL (memory, and Redis when redis-server is installed), the metrics endpoint, trace
# context (message.trace, SqsMega.current_trace, publishes from handlers that continue it), and the worker
# example refusing a bad MEGA_COMPLETION_STORE.
require_relative "helper"
require "json"
require "net/http"
require "open3"
require "socket"

class TestTraceStore < Minitest::Test
  KNOWN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
  KNOWN_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
  KNOWN_SPAN = "00f067aa0ba902b7"

  def test_store_urls_and_metrics_addresses_are_checked_where_given
    url = queue
    ["memory", "memory://?capacity=10&lease=2s", "redis://127.0.0.1:6379/0", "dynamodb://completions"].each do |good|
      listener(url, completion_store: good)
    end
    e = assert_raises(SqsMega::InvalidArgumentError) { listener(url, completion_store: "redis://user:hunter2@cache:6379/0?lease=soon") }
    assert_match(%r{MEGA_LISTENER_COMPLETION_STORE.*redis://user:\*\*\*@cache.*lease}, e.message)
    refute_match(/hunter2/, e.message)
    assert_raises(SqsMega::InvalidArgumentError) { listener(url, completion_store: "mongo://x") }
    l = listener(url, metrics_addr: 0)
    assert_nil l.metrics_port
    e = assert_raises(SqsMega::InvalidArgumentError) { listener(url, metrics_addr: "everywhere") }
    assert_match(/everywhere/, e.message)
    listener(url, completion_store: "memory", idempotency_key: "data.order_id")
    e = assert_raises(SqsMega::InvalidArgumentError) { listener(url, idempotency_key: "data..order_id") }
    assert_match(/data\.\.order_id/, e.message)
    e = assert_raises(SqsMega::InvalidArgumentError) { publisher(url).publish({ n: 1 }, traceparent: "00-xyz-01") }
    assert_match(/traceparent/, e.message)
  end

  def run_once_with_store(store)
    url = queue
    publisher(url).publish({ n: 1 })
    once = Queue.new
    flaky = Queue.new
    once_class = Class.new(SqsMega::DataSubscriber) { define_method(:process) { |_p| once << 1; :done } }
    flaky_class = Class.new(SqsMega::DataSubscriber) do
      define_method(:process) { |_p| flaky << 1; flaky.size == 1 ? :retriable_error : :done }
    end
    l = listener(url, retry_base: 0.2, retry_max: 1, completion_store: store)
    l.register(once_class)
    l.register(flaky_class)
    stats = run_until(l) { flaky.size >= 2 && l.stats["deleted"] >= 1 }
    assert_equal 1, once.size
    assert_equal 2, flaky.size
    assert_equal 2, stats["received"]
    assert_equal 1, stats["skipped_completed"]
    assert_operator stats["store_calls"], :>=, 3
    assert_equal 0, stats["store_errors"]
  end

  def test_a_business_key_runs_a_subscriber_once_per_order
    url = queue
    publisher(url).publish({ order_id: "A-1", n: 1 })
    publisher(url).publish({ order_id: "A-1", n: 2 })
    calls = Queue.new
    orders = Class.new(SqsMega::DataSubscriber) { define_method(:process) { |p| calls << p["n"]; :done } }
    l = listener(url, retry_base: 0.2, retry_max: 1, completion_store: "memory", idempotency_key: "order_id")
    l.register(orders)
    stats = run_until(l) { l.stats["deleted"] >= 2 }
    assert_equal 1, calls.size
    assert_equal 1, stats["skipped_completed"]
  end

  def test_memory_store_by_url
    run_once_with_store("memory")
  end

  def test_redis_store
    server = ENV.fetch("PATH", "").split(":").map { |d| File.join(d, "redis-server") }.find { |f| File.executable?(f) }
    skip "redis-server is not installed" unless server
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    pid = Process.spawn(server, "--port", port.to_s, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", %i[out err] => File::NULL)
    begin
      deadline = Time.now + 10
      begin
        TCPSocket.new("127.0.0.1", port).close
      rescue SystemCallError
        raise if Time.now > deadline

        sleep 0.05
        retry
      end
      run_once_with_store("redis://127.0.0.1:#{port}/0?lease=5s")
    ensure
      Process.kill("TERM", pid)
      Process.wait(pid)
    end
  end

  def scrape(port, metric)
    text = Net::HTTP.get(URI("http://127.0.0.1:#{port}/metrics"))
    line = text.lines.find { |x| x.start_with?("#{metric}{") }
    assert line, text[0, 500]
    Integer(line.split.last)
  end

  def test_metrics_endpoint_serves_counters_that_grow
    url = queue
    seen = Queue.new
    sub = Class.new(SqsMega::DataSubscriber) { define_method(:process) { |p| seen << p["n"]; :done } }
    l = listener(url, metrics_addr: "127.0.0.1:0")
    l.register(sub)
    values = []
    pub = publisher(url)
    run_until(l) do
      next true if values.size == 3

      port = l.metrics_port
      if port.nil?
        false
      elsif values.empty?
        pub.publish({ n: 1 })
        values << -1
        false
      elsif values.size == 1 && seen.size == 1
        values << scrape(port, "mega_listener_received_total")
        pub.publish({ n: 2 })
        false
      elsif values.size == 2 && seen.size == 2
        values << scrape(port, "mega_listener_received_total")
        true
      else
        false
      end
    end
    assert_operator values[1], :>=, 1
    assert_operator values[2], :>, values[1]
    assert_nil l.metrics_port
  end

  def test_handlers_see_the_senders_trace_and_continue_it
    url = queue
    out = queue
    out_pub = publisher(out)
    seen = {}
    handler = Class.new(SqsMega::DataSubscriber) do
      define_method(:process) do |payload, message|
        seen[:trace] = message.trace
        seen[:current] = SqsMega.current_trace
        out_pub.publish({ from: "ruby" })
        :done
      end
    end
    publisher(url).publish({ via: "ruby" }, traceparent: KNOWN)
    l = listener(url)
    l.register(handler)
    run_until(l) { seen.key?(:trace) && l.stats["done"] >= 1 }
    t = seen[:trace]
    assert_equal KNOWN_TRACE, t.trace_id
    refute_equal KNOWN_SPAN, t.span_id
    assert_equal KNOWN, t.parent
    assert_equal "00-#{t.trace_id}-#{t.span_id}-01", t.traceparent
    assert_same t, seen[:current]
    assert_nil SqsMega.current_trace

    # What the handler published, read by a second listener: the same trace, a new span of the handler's.
    back = Queue.new
    reader = Class.new(SqsMega::DataSubscriber) { define_method(:process) { |p, m| back << [p["from"], m.trace]; :done } }
    l2 = listener(out)
    l2.register(reader)
    run_until(l2) { back.size >= 1 }
    from, trace = back.pop
    assert_equal "ruby", from
    assert_equal KNOWN_TRACE, trace.trace_id
    assert_equal KNOWN_TRACE, trace.parent[3, 32]
    refute_equal t.span_id, trace.parent_span_id
  end

  def test_worker_exits_1_on_a_bad_store
    worker = File.join(ROOT, "examples", "ruby", "worker.rb")
    env = { "AWS_ENDPOINT_URL" => ENDPOINT.url, "AWS_REGION" => "us-east-1", "AWS_ACCESS_KEY_ID" => "x",
            "AWS_SECRET_ACCESS_KEY" => "x", "MEGA_COMPLETION_STORE" => "redis://user:hunter2@cache:6379/0?lease=soon" }
    out, err, status = Open3.capture3(env, RbConfig.ruby, worker, queue)
    assert_equal 1, status.exitstatus, out + err
    assert_match(%r{completion store redis://user:\*\*\*@cache.*lease}, err)
    refute_match(/hunter2/, out + err)
  end

  def test_worker_with_a_memory_store_and_metrics
    url = queue
    worker = File.join(ROOT, "examples", "ruby", "worker.rb")
    env = { "AWS_ENDPOINT_URL" => ENDPOINT.url, "AWS_REGION" => "us-east-1", "AWS_ACCESS_KEY_ID" => "x",
            "AWS_SECRET_ACCESS_KEY" => "x", "MEGA_COMPLETION_STORE" => "memory", "MEGA_METRICS_ADDR" => "127.0.0.1:0" }
    Open3.popen2(env, RbConfig.ruby, worker, url) do |_stdin, out, wait|
      assert_match(/\Alistening on /, out.gets)
      id = publisher(url).publish({ a: 1 }).message_id
      assert_equal "#{id} data {\"a\":1}", out.gets.chomp
      Process.kill("TERM", wait.pid)
      assert_equal "stopped: 1 message(s) done", out.gets.chomp
      assert_equal 0, wait.value.exitstatus
    end
  end
end
