# frozen_string_literal: true

require_relative "helper"
require "open3"

class TestListener < Minitest::Test
  def counts(url) = ENDPOINT.queue_counts(url)

  def subscriber(base = SqsMega::DataSubscriber, &body)
    Class.new(base) do
      define_method(:process, &body)
    end
  end

  {
    nil => ["done", true], done: ["done", true], fatal_error: ["fatal_error", true],
    retry_later: ["retry_later", false], retriable_error: ["retriable_error", false]
  }.each do |outcome, (stat, deleted)|
    define_method("test_status_#{outcome.inspect}") do
      url = queue
      publisher(url).publish({ n: 1 })
      seen = []
      sub = subscriber { |payload| seen << payload; outcome }
      l = listener(url, retry_base: 60)
      l.register(sub)
      stats = run_until(l) { l.stats[stat].to_i >= 1 }
      assert_equal 1, stats[stat]
      assert_equal [{ "n" => 1 }], seen
      assert_equal(deleted ? [0, 0] : [0, 1], counts(url))
    end
  end

  class Transient < StandardError; end

  {
    "raise" => [-> { raise ArgumentError, "boom" }, "fatal_error", true],
    "RetriableError" => [-> { raise SqsMega::RetriableError, "later" }, "retriable_error", false],
    "retry_on" => [-> { raise Transient, "declared" }, "retriable_error", false],
    "wrong return" => [-> { "done" }, "retriable_error", false],
    "Interrupt" => [-> { raise Interrupt }, "retriable_error", false]
  }.each do |name, (body, stat, deleted)|
    define_method("test_outcome_#{name.tr(" ", "_")}") do
      url = queue
      publisher(url).publish({ n: 1 })
      sub = Class.new(SqsMega::DataSubscriber) do
        retry_on Transient
        define_method(:process) { |_payload| body.call }
      end
      SqsMega.logger = Logger.new(log = StringIO.new)
      l = listener(url, retry_base: 60)
      l.register(sub)
      stats = run_until(l) { l.stats[stat].to_i >= 1 }
      assert_equal 0, stats["done"], "never counted as done"
      assert_equal(deleted ? [0, 0] : [0, 1], counts(url))
      refute_empty log.string
    ensure
      SqsMega.logger = nil
    end
  end

  def test_seed_event_subscriber_sns_bson_and_message
    url = queue
    topic = ENDPOINT.create_topic("t-#{SecureRandom.hex(4)}")
    ENDPOINT.subscribe(topic, url)
    sns = SqsMega::SnsPublisher.new(topic_arn: topic, **ENDPOINT.connection)
    event = SqsMega::PayloadBuilder.new
                                   .with_event(domain: "shopping_cart", name: "item.added", version: 1, subject: "987650",
                                               item_id: "61fcc874", quantity: 5, price: BigDecimal("19.99"))
                                   .with_object(type: "shopping_cart", id: "18a3f92e", current: { "value" => "377.37" })
                                   .build
    sent = sns.publish(event, binary_encoding: true, subject: "cart")
    got = []
    added = Class.new(SqsMega::EventSubscriber) do
      domain "shopping_cart"
      name "item.added"
      version one_of(1, 2)
      attributes item_id: not_(empty), quantity: gt(0)
      define_method(:process) { |payload, message| got << [payload, message]; :done }
    end
    l = listener(url)
    l.register(added)
    run_until(l) { got.size >= 1 }
    payload, message = got.first
    assert_equal "61fcc874", payload.event.item_id
    assert_equal BigDecimal("19.99"), payload.event.attributes["price"]
    assert_kind_of Time, payload.event.timestamp
    assert_equal "bson", message.encoding
    assert_equal topic, message.sns["topicArn"] || message.sns["topic_arn"]
    assert_equal 1, message.receive_count
    refute_nil sent.message_id
  end

  def test_poison_goes_to_the_dead_letter_queue
    dlq = queue
    url = queue("VisibilityTimeout" => "1",
                "RedrivePolicy" => JSON.generate(deadLetterTargetArn: "arn:aws:sqs:us-east-1:000000000000:#{dlq.split("/").last}", maxReceiveCount: "2"))
    ENDPOINT_RAW.call(url, '{"protocol": "mega", "version": 1, "event": {}}')
    handled = 0
    sub = subscriber { |_| handled += 1 }
    l = listener(url)
    l.register(sub)
    stats = run_until(l, timeout: 30) { counts(dlq)[0] == 1 }
    assert_operator stats["invalid"], :>=, 2
    assert_equal 0, handled
  end

  # Sends a raw body, as a foreign producer would.
  ENDPOINT_RAW = lambda do |url, body|
    SqsMega::SqsPublisher.new(queue_url: url, **ENDPOINT.connection).publish_raw(body)
  end

  def test_handlers_run_concurrently_and_registration_rules
    url = queue
    pub = publisher(url)
    4.times { |i| pub.publish({ i: i }) }
    barrier = Queue.new
    passed = Queue.new
    sub = subscriber do |_|
      barrier << 1
      sleep 0.01 until barrier.size >= 4 # only returns when four handlers run at once
      passed << 1
      nil
    end
    l = listener(url, workers: 4)
    l.register(sub)
    e = assert_raises(SqsMega::ListenerError) { l.register(sub) }
    assert_equal "listener.duplicate_subscriber", e.code
    assert_raises(SqsMega::InvalidArgumentError) { l.register(Object) }
    stats = run_until(l) { passed.size >= 4 }
    assert_equal 4, stats["done"]
    e = assert_raises(SqsMega::InvalidArgumentError) { listener(url, max_number_of_messages: 11) }
    assert_match(/max_number_of_messages|11/, e.message)
  end

  def test_sigterm_drains_and_exits_zero
    url = queue
    worker = File.join(ROOT, "examples", "ruby", "worker.rb")
    env = { "AWS_ENDPOINT_URL" => ENDPOINT.url, "AWS_REGION" => "us-east-1", "AWS_ACCESS_KEY_ID" => "x",
            "AWS_SECRET_ACCESS_KEY" => "x" }
    Open3.popen2(env, RbConfig.ruby, worker, url) do |_stdin, out, wait|
      assert_match(/\Alistening on /, out.gets)
      pub = publisher(url)
      event_id = pub.publish(SqsMega::PayloadBuilder.new.with_event(name: "user.created", subject: "1").build).message_id
      data_id = pub.publish({ b: 2, a: 1 }, binary_encoding: true).message_id
      lines = [out.gets.chomp, out.gets.chomp].sort
      assert_equal ["#{data_id} data {\"a\":1,\"b\":2}", "#{event_id} event user.created attempt 1"].sort, lines
      Process.kill("TERM", wait.pid)
      assert_equal "stopped: 2 message(s) done", out.gets.chomp
      assert_equal 0, wait.value.exitstatus
    end
  end
end
