# frozen_string_literal: true

require "logger"

module SqsMega
  class << self
    attr_writer :logger

    # Where handler failures are reported (a Logger on $stderr at WARN unless set).
    def logger
      @logger ||= Logger.new($stderr, level: Logger::WARN, progname: "sqs_mega")
    end
  end

  # One span's place in a W3C trace: traceparent ("00-<trace_id>-<span_id>-<flags>"), trace_id (32 hex
  # digits), span_id (16), and parent: the sender's traceparent, or nil.
  TraceContext = Struct.new(:traceparent, :parent) do
    def trace_id = traceparent[3, 32]
    def span_id = traceparent[36, 16]
    def parent_span_id = parent && parent[36, 16]
    def to_s = traceparent
  end

  class << self
    # The trace context of the handler running on this thread (nil outside handlers). What the thread
    # publishes meanwhile continues it (the C library keeps it for the thread that took the message).
    def current_trace = Thread.current[:sqs_mega_trace]
  end

  # What SQS said about a message: message_id, receive_count, encoding, sns (Hash or nil), attributes
  # (message attributes: name => {"dataType", "value"}), trace (the TraceContext of its handling: a new span
  # of the sender's trace, or a new trace).
  class Message
    attr_reader :message_id, :receive_count, :encoding, :sns, :trace

    def initialize(native, message_id, receive_count, encoding, sns, trace)
      @native = native
      @message_id = message_id
      @receive_count = receive_count
      @encoding = encoding
      @sns = sns
      @trace = trace
      @attributes = nil
    end

    def attributes
      @attributes ||= Values.load(Native.borrowed_str { |s| Native.mega_message_attributes_json(@native, s) })
    end

    def inspect = "#<SqsMega::Message #{message_id} receive_count=#{receive_count}>"
  end

  # Listens to one queue: the core polls, decodes, matches, retries and deletes; Ruby threads (`workers`)
  # pull the matched messages and run the subscribers. `listen` blocks until `stop`, SIGTERM or Ctrl-C.
  #
  #   listener = SqsMega::Listener.new(queue_url: url)   # region, endpoint, credentials: the AWS chain
  #   listener.register(ItemAdded)
  #   listener.listen
  class Listener
    DEFAULTS = { max_in_flight: 100 }.freeze
    SECONDS = { shutdown_grace: :shutdown_grace_ms, retry_base: :retry_base_ms, retry_max: :retry_max_ms }.freeze

    attr_reader :queue_url

    # Settings: max_number_of_messages (10), wait_time_seconds (20), visibility_timeout (the queue's),
    # pollers (1), max_in_flight (100), workers (10 threads), shutdown_grace (30 s), heartbeat (true),
    # retry_base / retry_max (2 s / 900 s), keep_unmatched (false), completion_store (a store URL: "memory",
    # "redis://HOST:6379/0", "dynamodb://TABLE"; none by default), idempotency_key (the store's key: a dotted
    # path into the payload, "order_id"; default the message id), metrics_addr (serve Prometheus metrics at
    # /metrics while listening: 9464, "0.0.0.0:9464", 0 for a free port, see metrics_port); AWS: region,
    # endpoint, access_key_id, secret_access_key, session_token, profile.
    def initialize(queue_url:, workers: 10, **options)
      @queue_url = queue_url
      @workers = Integer(workers)
      raise InvalidArgumentError.new("workers must be at least 1, not #{workers}", code: "invalid_argument") if @workers < 1

      @settings = Settings.from(options)
      ptr = Native.out_pointer { |out| Native.mega_listener_new(@settings, queue_url, out) }
      @native = FFI::AutoPointer.new(ptr, Native.method(:mega_listener_free))
      Native.check(Native.mega_listener_set(@native, Native::LISTENER_OPTIONS[:handle_signals], 0)) # Ruby owns signals
      DEFAULTS.merge(options.reject { |k, _| Settings::AWS_KEYS.include?(k) }).each { |k, v| set(k, v) }
      @subscribers = {}
      @patterns = [] # kept alive: their predicates may be called while listening
      @done = false
    end

    def set(option, value)
      if (text = Native::LISTENER_TEXT_OPTIONS[option])
        Native.check(Native.mega_listener_set_text(@native, text, value&.to_s))
        return self
      end
      key = SECONDS.fetch(option, option)
      value = (value * 1000).round if SECONDS.key?(option)
      value = value ? 1 : 0 if value == true || value == false
      code = Native::LISTENER_OPTIONS.fetch(key) { raise InvalidArgumentError.new("unknown listener setting #{option}", code: "invalid_argument") }
      Native.check(Native.mega_listener_set(@native, code, Integer(value)))
      self
    end

    # Registers a subscriber class (made once, with no arguments). A class is registered once.
    def register(klass)
      unless klass.is_a?(Class) && klass <= MessageSubscriber
        raise InvalidArgumentError.new("register takes a subclass of SqsMega::MessageSubscriber, DataSubscriber or EventSubscriber, not #{klass.inspect}", code: "invalid_argument")
      end

      name = klass.name || "anonymous-#{klass.object_id}"
      pattern = klass.compiled_pattern
      Native.check(Native.mega_listener_subscribe_queued_pattern(@native, name, Native::SUBSCRIBER_KINDS.fetch(klass.kind), pattern || FFI::Pointer::NULL))
      @patterns << pattern if pattern
      instance = klass.new
      arity = instance.method(:process).arity
      @subscribers[name] = [instance, arity == 2 || arity < -2, klass.retry_on_classes]
      self
    end
    alias register_subscriber register

    # Stops: no new messages; work in flight finishes (up to the grace); the rest is released. Safe from any
    # thread, a handler or a signal trap (one atomic store).
    def stop
      Native.mega_listener_stop(@native)
    end

    def running?
      out = FFI::MemoryPointer.new(:bool)
      Native.check(Native.mega_listener_is_running(@native, out))
      out.read(:bool)
    end

    # The port the metrics endpoint listens on while running with metrics_addr (the one picked for port 0),
    # else nil.
    def metrics_port
      out = FFI::MemoryPointer.new(:uint16)
      Native.check(Native.mega_listener_metrics_port(@native, out))
      port = out.read(:uint16)
      port.zero? ? nil : port
    end

    # The counters of the current or last run.
    def stats
      JSON.parse(Native.owned_string { |out| Native.mega_listener_stats_json(@native, out) })
    end

    # Listens until stopped (SIGTERM and Ctrl-C stop it too when called on the main thread): the run's counters.
    def listen
      raise InvalidArgumentError.new("no subscriber is registered", code: "invalid_argument") if @subscribers.empty?

      traps = install_traps
      @done = false
      failure = nil
      runner = Thread.new do
        Native.check(Native.mega_listener_run(@native))
      rescue Exception => e # rubocop:disable Lint/RescueException
        failure = e
      ensure
        @done = true
      end
      pool = Array.new(@workers) { |i| Thread.new { Thread.current.name = "sqs_mega-worker-#{i}"; work } }
      # Joined with a timeout so that signal traps run on this (main) thread meanwhile.
      nil until runner.join(0.1)
      pool.each { |t| t.join(1) }
      raise failure if failure

      stats
    ensure
      restore_traps(traps)
    end

    private

    def install_traps
      return nil unless Thread.current == Thread.main

      %w[TERM INT].to_h { |sig| [sig, Signal.trap(sig) { stop }] }
    end

    def restore_traps(traps)
      traps&.each { |sig, old| Signal.trap(sig, old || "DEFAULT") }
    end

    def work
      out = FFI::MemoryPointer.new(:pointer)
      accepted = FFI::MemoryPointer.new(:bool)
      loop do
        Native.check(Native.mega_listener_next_delivery(@native, 250, out))
        delivery = out.read_pointer
        if delivery.null?
          break if @done

          next
        end
        status = Native::STATUSES[:retriable_error]
        begin
          status = handle(delivery)
        ensure
          Native.mega_delivery_complete(delivery, status, accepted)
          Native.mega_delivery_free(delivery)
        end
      end
    end

    def handle(delivery)
      name = Native.borrowed_str { |s| Native.mega_delivery_subscriber(delivery, s) }
      instance, wants_message, retry_on = @subscribers.fetch(name)
      msg = Native.out_pointer { |o| Native.mega_delivery_message(delivery, o) }
      report = Values.load(Native.borrowed_str { |s| Native.mega_message_json(msg, s) })
      payload = Payload.wrap(report["kind"], report["payload"])
      trace = trace_of(msg)
      Thread.current[:sqs_mega_trace] = trace
      result =
        if wants_message
          id = Native.borrowed_str { |s| Native.mega_message_id(msg, s) }
          count = FFI::MemoryPointer.new(:uint32)
          Native.check(Native.mega_message_receive_count(msg, count))
          instance.process(payload, Message.new(msg, id, count.read(:uint32), report["encoding"], report["sns"], trace))
        else
          instance.process(payload)
        end
      status_of(name, result)
    rescue RetriableError, *retry_on => e
      SqsMega.logger.warn("subscriber #{name}: #{e.class}: #{e.message} (retriable_error)")
      Native::STATUSES[:retriable_error]
    rescue StandardError => e
      SqsMega.logger.error("subscriber #{name} failed (fatal_error): #{e.class}: #{e.message}\n#{e.backtrace&.first(10)&.join("\n")}")
      Native::STATUSES[:fatal_error]
    rescue Exception => e # rubocop:disable Lint/RescueException -- an interrupt is no verdict on the message
      SqsMega.logger.warn("subscriber #{name} interrupted (#{e.class}): retriable_error")
      Native::STATUSES[:retriable_error]
    ensure
      Thread.current[:sqs_mega_trace] = nil
    end

    def trace_of(msg)
      traceparent = Native.borrowed_str { |s| Native.mega_message_traceparent(msg, s) }
      parent = Native::Str.new
      parent = Native.mega_message_parent_traceparent(msg, parent.pointer).zero? ? parent.to_s : nil
      TraceContext.new(traceparent, parent).freeze
    end

    def status_of(name, result)
      return Native::STATUSES[:done] if result.nil?
      return Native::STATUSES[result] if result.is_a?(Symbol) && Native::STATUSES.key?(result)

      SqsMega.logger.error("subscriber #{name} returned #{result.inspect}, not a status (:done, :retry_later, " \
                           ":fatal_error, :retriable_error): counted as retriable_error")
      Native::STATUSES[:retriable_error]
    end
  end
end
