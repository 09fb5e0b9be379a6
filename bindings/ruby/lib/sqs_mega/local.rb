# frozen_string_literal: true

module SqsMega
  # The embedded SQS + SNS endpoint, in this process, on loopback: for tests and demos (no AWS account).
  class LocalEndpoint
    attr_reader :url

    def self.start(port: 0)
      ep = new(port)
      return ep unless block_given?

      begin
        yield ep
      ensure
        ep.close
      end
    end

    def initialize(port = 0)
      @native = Native.out_pointer { |out| Native.mega_local_start("127.0.0.1", port, out) }
      @url = Native.mega_local_url(@native).dup
      @settings = Settings.new(**connection)
    end

    # Keyword arguments that connect a publisher or listener to this endpoint.
    def connection
      { endpoint: @url, region: "us-east-1", access_key_id: "local", secret_access_key: "local" }
    end

    def create_queue(name, attributes = {})
      Native.owned_string { |out| Native.mega_queue_create(@settings, name, attributes.empty? ? nil : JSON.generate(attributes), out) }
    end

    def create_topic(name)
      Native.owned_string { |out| Native.mega_topic_create(@settings, name, out) }
    end

    def subscribe(topic_arn, queue_url, raw: false)
      Native.check(Native.mega_topic_subscribe_queue(@settings, topic_arn, queue_url, raw))
    end

    # [visible, in flight]
    def queue_counts(queue_url)
      a = JSON.parse(Native.owned_string { |out| Native.mega_queue_attributes(@settings, queue_url, out) })
      [a["ApproximateNumberOfMessages"].to_i, a["ApproximateNumberOfMessagesNotVisible"].to_i]
    end

    def close
      return if @native.nil?

      Native.mega_local_free(@native)
      @native = nil
    end
  end
end
