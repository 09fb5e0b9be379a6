# frozen_string_literal: true

module SqsMega
  # Where and as whom to connect: whatever is nil comes from the standard AWS chain (environment,
  # AWS_ENDPOINT_URL, shared files, instance roles).
  class Settings
    def initialize(region: nil, endpoint: nil, access_key_id: nil, secret_access_key: nil, session_token: nil, profile: nil)
      ptr = Native.out_pointer { |out| Native.mega_settings_new(out) }
      @native = FFI::AutoPointer.new(ptr, Native.method(:mega_settings_free))
      Native.check(Native.mega_settings_set_region(@native, region)) if region
      Native.check(Native.mega_settings_set_endpoint_url(@native, endpoint)) if endpoint
      Native.check(Native.mega_settings_set_profile(@native, profile)) if profile
      if access_key_id || secret_access_key
        raise InvalidArgumentError.new("access_key_id and secret_access_key go together", code: "invalid_argument") unless access_key_id && secret_access_key

        Native.check(Native.mega_settings_set_credentials(@native, access_key_id, secret_access_key, session_token))
      end
    end

    def to_ptr = @native

    def inspect = "#<SqsMega::Settings>" # never shows a secret

    AWS_KEYS = %i[region endpoint access_key_id secret_access_key session_token profile].freeze

    def self.from(options)
      new(**options.slice(*AWS_KEYS))
    end
  end

  # What a publish returns.
  Published = Struct.new(:message_id)

  # Publishes MEGA events (Payload), data objects (Hash), plaintext (UTF-8 String) and bytes (binary String).
  class Publisher
    def initialize(kind, address, **aws)
      @settings = Settings.from(aws)
      fn = kind == :queue ? :mega_sqs_publisher_new : :mega_sns_publisher_new
      ptr = Native.out_pointer { |out| Native.public_send(fn, @settings, address, out) }
      @native = FFI::AutoPointer.new(ptr, Native.method(:mega_publisher_free))
    end

    # Options: binary_encoding:, attributes: ({name => String | Numeric | binary String | [type, value]}),
    # delay_seconds:, group_id:, deduplication_id:, subject: (SNS).
    # traceparent: the trace context to send (a String or a TraceContext); by default a new span of the context
    # of the handler running on this thread, else a new trace.
    def publish(payload, binary_encoding: false, attributes: nil, delay_seconds: nil, group_id: nil, deduplication_id: nil, subject: nil, traceparent: nil)
      with_options(binary_encoding, attributes, delay_seconds, group_id, deduplication_id, subject, traceparent) do |opts|
        id = Native.owned_string do |out|
          case payload
          when Payload then Native.mega_publisher_publish_json(@native, Values.dump(payload.to_h), opts, out)
          when Hash then Native.mega_publisher_publish_json(@native, Values.dump(payload), opts, out)
          when String
            if payload.encoding == Encoding::BINARY
              buf = FFI::MemoryPointer.from_string(payload)
              Native.mega_publisher_publish_binary(@native, buf, payload.bytesize, opts, out)
            else
              Native.mega_publisher_publish_plaintext(@native, payload.encode(Encoding::UTF_8), opts, out)
            end
          else
            raise InvalidArgumentError.new("cannot publish a #{payload.class}: a payload is a SqsMega::Payload, a Hash, " \
                                           "a String (plaintext) or a binary String", code: "invalid_argument")
          end
        end
        Published.new(id)
      end
    end

    # Publishes many payloads (Hash, Payload or plaintext String) ten per request: one result per entry, in
    # order, a Published or the SqsMega::Error that entry met (not raised).
    def publish_batch(payloads, binary_encoding: false)
      batch = Native.out_pointer { |out| Native.mega_batch_new(out) }
      with_options(binary_encoding, nil, nil, nil, nil, nil) do |opts|
        payloads.each do |p|
          case p
          when Payload then Native.check(Native.mega_batch_add_json(batch, Values.dump(p.to_h), opts))
          when Hash then Native.check(Native.mega_batch_add_json(batch, Values.dump(p), opts))
          when String then Native.check(Native.mega_batch_add_plaintext(batch, p, opts))
          else raise InvalidArgumentError.new("cannot publish a #{p.class} in a batch", code: "invalid_argument")
          end
        end
      end
      result = Native.out_pointer { |out| Native.mega_publisher_publish_batch(@native, batch, out) }
      begin
        len = FFI::MemoryPointer.new(:size_t)
        Native.check(Native.mega_batch_result_len(result, len))
        Array.new(len.read(:size_t)) do |i|
          id = Native::Str.new
          Native.check(Native.mega_batch_result_entry(result, i, id.pointer))
          Published.new(id.to_s)
        rescue Error => e
          e
        end
      ensure
        Native.mega_batch_result_free(result)
      end
    ensure
      Native.mega_batch_free(batch) if batch
    end

    # Sends a body exactly as given, without the `mega.encoding` attribute (for consumers outside sqs-mega).
    def publish_raw(body, attributes: nil, delay_seconds: nil, group_id: nil, deduplication_id: nil, subject: nil)
      with_options(false, attributes, delay_seconds, group_id, deduplication_id, subject) do |opts|
        Published.new(Native.owned_string { |out| Native.mega_publisher_publish_raw(@native, body, opts, out) })
      end
    end

    private

    def with_options(binary_encoding, attributes, delay_seconds, group_id, deduplication_id, subject, traceparent = nil)
      opts = Native.out_pointer { |out| Native.mega_publish_options_new(out) }
      Native.check(Native.mega_publish_options_set_traceparent(opts, traceparent.to_s)) if traceparent
      Native.check(Native.mega_publish_options_set_binary_encoding(opts, binary_encoding))
      Native.check(Native.mega_publish_options_set_delay_seconds(opts, delay_seconds)) if delay_seconds
      Native.check(Native.mega_publish_options_set_group_id(opts, group_id)) if group_id
      Native.check(Native.mega_publish_options_set_deduplication_id(opts, deduplication_id)) if deduplication_id
      Native.check(Native.mega_publish_options_set_subject(opts, subject)) if subject
      (attributes || {}).each do |name, v|
        name = name.to_s
        case v
        when Array then Native.check(Native.mega_publish_options_add_attribute(opts, name, v[0].to_s, v[1].to_s))
        when String
          if v.encoding == Encoding::BINARY
            Native.check(Native.mega_publish_options_add_binary_attribute(opts, name, FFI::MemoryPointer.from_string(v), v.bytesize))
          else
            Native.check(Native.mega_publish_options_add_attribute(opts, name, "String", v))
          end
        when Integer, Float, BigDecimal then Native.check(Native.mega_publish_options_add_attribute(opts, name, "Number", v.is_a?(BigDecimal) ? v.to_s("F") : v.to_s))
        else raise InvalidArgumentError.new("message attribute #{name}: a #{v.class} is not a String, a number or [type, value]", code: "invalid_argument")
        end
      end
      yield opts
    ensure
      Native.mega_publish_options_free(opts) if opts
    end
  end

  # Publishes to an SQS queue: SqsPublisher.new(queue_url:, region:, endpoint:, access_key_id:, ...).
  class SqsPublisher < Publisher
    attr_reader :queue_url

    def initialize(queue_url:, **aws)
      @queue_url = queue_url
      super(:queue, queue_url, **aws)
    end
  end

  # Publishes to an SNS topic: SnsPublisher.new(topic_arn:, ...); `publish(payload, subject: ...)`.
  class SnsPublisher < Publisher
    attr_reader :topic_arn

    def initialize(topic_arn:, **aws)
      @topic_arn = topic_arn
      super(:topic, topic_arn, **aws)
    end
  end
end
