# frozen_string_literal: true

require "json"
require "time"
require "bigdecimal"
require "base64"

# sqs-mega for Ruby: async task processing, event streaming and pattern matching over Amazon SQS and SNS
# (MEGA events), over the C library of the Rust core. Polling, decoding, matching, retries and deletes are
# the core's; Ruby code runs on Ruby's own threads, which pull deliveries from the core.
module SqsMega
  # Every error of the library: `code` is the core's stable code (`decode.base64`), `category` its category,
  # `detail` the reason, path or service code.
  class Error < StandardError
    attr_reader :code, :category, :detail

    def initialize(message = nil, code: "mega", category: "internal", detail: nil)
      super(message)
      @code = code
      @category = category
      @detail = detail
    end
  end

  class JsonError < Error; end
  class DecodeError < Error; end
  class EncodeError < Error; end
  class PatternError < Error; end
  class InvalidArgumentError < Error; end
  class PublishError < Error; end
  class ServiceError < Error; end
  class ListenerError < Error; end
  class BusyError < Error; end
  class HandlerError < Error; end
  # Raise it (or a subclass) from `process`: the message comes back later (RETRIABLE_ERROR).
  class RetriableError < Error
    def initialize(message = nil, **kw)
      super(message, code: "handler.retriable", category: "transient", **kw)
    end
  end

  # The exception for an error of the core's table (docs/errors.md): its class is the code's family.
  def self.error_from(code, message, detail, class_name, category)
    klass = class_name && !class_name.empty? && const_defined?(class_name, false) ? const_get(class_name, false) : Error
    klass = Error unless klass <= Error
    klass.new(message, code: code.to_s.empty? ? "internal" : code, category: category.to_s.empty? ? "internal" : category,
                       detail: detail.nil? || detail.empty? ? nil : detail)
  end
end

require_relative "sqs_mega/native"
require_relative "sqs_mega/values"
require_relative "sqs_mega/patterns"
require_relative "sqs_mega/event"
require_relative "sqs_mega/publisher"
require_relative "sqs_mega/subscriber"
require_relative "sqs_mega/listener"
require_relative "sqs_mega/local"
