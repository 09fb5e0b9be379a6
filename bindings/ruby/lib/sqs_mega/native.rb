# frozen_string_literal: true

require "ffi"

module SqsMega
  # The C library (libsqs_mega), bound with the ffi gem. Every call that can wait in Rust is attached with
  # `blocking: true`, so the GVL is released while it waits (without it the whole VM would stop).
  module Native
    extend FFI::Library

    LIBRARY_NAMES = %w[libsqs_mega.so libsqs_mega.dylib sqs_mega.dll].freeze

    def self.candidates
      here = File.expand_path("native", __dir__)
      list = []
      list << ENV["SQS_MEGA_LIB"] if ENV["SQS_MEGA_LIB"] && !ENV["SQS_MEGA_LIB"].empty?
      LIBRARY_NAMES.each { |n| list << File.join(here, n) }
      list << "sqs_mega" # the system's library path (LD_LIBRARY_PATH, ldconfig)
      list
    end

    def self.load!
      tried = []
      candidates.each do |path|
        next if path.include?("/") && !File.exist?(path) && (tried << "#{path} (not there)")

        begin
          ffi_lib path
          return path
        rescue LoadError => e
          tried << "#{path} (#{e.message.lines.first&.strip})"
        end
      end
      raise LoadError, "sqs_mega: cannot find libsqs_mega. Tried:\n  #{tried.join("\n  ")}\n" \
                       "Build it (cargo build -p sqs-mega-ffi) and set SQS_MEGA_LIB to its path, or put it next to the gem."
    end

    LOADED_FROM = load!

    class Str < FFI::Struct
      layout :data, :pointer, :len, :size_t

      def to_s
        self[:len].zero? ? +"" : self[:data].read_bytes(self[:len]).force_encoding(Encoding::UTF_8)
      end
    end

    callback :predicate, %i[pointer pointer], :bool

    attach_function :mega_version, [], :string
    attach_function :mega_string_free, [:pointer], :void
    attach_function :mega_last_error_message, [], :string
    attach_function :mega_last_error_code_name, [], :string
    attach_function :mega_last_error_detail, [], :string
    attach_function :mega_last_error_class, [:pointer], :string
    attach_function :mega_settings_new, [:pointer], :uint32
    attach_function :mega_settings_free, [:pointer], :void
    attach_function :mega_settings_set_region, %i[pointer string], :uint32
    attach_function :mega_settings_set_endpoint_url, %i[pointer string], :uint32
    attach_function :mega_settings_set_profile, %i[pointer string], :uint32
    attach_function :mega_settings_set_credentials, %i[pointer string string string], :uint32
    attach_function :mega_queue_create, %i[pointer string string pointer], :uint32, blocking: true
    attach_function :mega_queue_attributes, %i[pointer string pointer], :uint32, blocking: true
    attach_function :mega_topic_create, %i[pointer string pointer], :uint32, blocking: true
    attach_function :mega_topic_subscribe_queue, %i[pointer string string bool], :uint32, blocking: true
    attach_function :mega_decode_bytes, %i[pointer size_t string pointer], :uint32
    attach_function :mega_decoded_free, [:pointer], :void
    attach_function :mega_decoded_json, %i[pointer pointer], :uint32
    attach_function :mega_value_parse_json, %i[string bool pointer], :uint32
    attach_function :mega_value_free, [:pointer], :void
    attach_function :mega_event_validate, %i[string pointer], :uint32
    attach_function :mega_callbacks_new, [:pointer], :uint32
    attach_function :mega_callbacks_add, %i[pointer string predicate pointer], :uint32
    attach_function :mega_callbacks_free, [:pointer], :void
    attach_function :mega_value_to_json, %i[pointer bool pointer], :uint32
    attach_function :mega_pattern_compile, %i[string uint32 pointer pointer], :uint32
    attach_function :mega_pattern_free, [:pointer], :void
    attach_function :mega_pattern_matches, %i[pointer pointer pointer], :uint32, blocking: true
    attach_function :mega_pattern_explain, %i[pointer pointer pointer pointer], :uint32, blocking: true
    attach_function :mega_publish_options_new, [:pointer], :uint32
    attach_function :mega_publish_options_free, [:pointer], :void
    attach_function :mega_publish_options_set_binary_encoding, %i[pointer bool], :uint32
    attach_function :mega_publish_options_set_group_id, %i[pointer string], :uint32
    attach_function :mega_publish_options_set_deduplication_id, %i[pointer string], :uint32
    attach_function :mega_publish_options_set_subject, %i[pointer string], :uint32
    attach_function :mega_publish_options_set_traceparent, %i[pointer string], :uint32
    attach_function :mega_publish_options_set_no_trace, %i[pointer bool], :uint32
    attach_function :mega_publish_options_set_delay_seconds, %i[pointer int32], :uint32
    attach_function :mega_publish_options_add_attribute, %i[pointer string string string], :uint32
    attach_function :mega_publish_options_add_binary_attribute, %i[pointer string pointer size_t], :uint32
    attach_function :mega_sqs_publisher_new, %i[pointer string pointer], :uint32
    attach_function :mega_sns_publisher_new, %i[pointer string pointer], :uint32
    attach_function :mega_publisher_free, [:pointer], :void
    attach_function :mega_publisher_publish_json, %i[pointer string pointer pointer], :uint32, blocking: true
    attach_function :mega_publisher_publish_plaintext, %i[pointer string pointer pointer], :uint32, blocking: true
    attach_function :mega_publisher_publish_raw, %i[pointer string pointer pointer], :uint32, blocking: true
    attach_function :mega_publisher_publish_binary, %i[pointer pointer size_t pointer pointer], :uint32, blocking: true
    attach_function :mega_batch_new, [:pointer], :uint32
    attach_function :mega_batch_free, [:pointer], :void
    attach_function :mega_batch_add_json, %i[pointer string pointer], :uint32
    attach_function :mega_batch_add_plaintext, %i[pointer string pointer], :uint32
    attach_function :mega_publisher_publish_batch, %i[pointer pointer pointer], :uint32, blocking: true
    attach_function :mega_batch_result_len, %i[pointer pointer], :uint32
    attach_function :mega_batch_result_entry, %i[pointer size_t pointer], :uint32
    attach_function :mega_batch_result_free, [:pointer], :void
    attach_function :mega_listener_new, %i[pointer string pointer], :uint32
    attach_function :mega_listener_free, [:pointer], :void, blocking: true
    attach_function :mega_listener_set, %i[pointer uint32 int64], :uint32
    attach_function :mega_listener_set_text, %i[pointer uint32 string], :uint32
    attach_function :mega_listener_metrics_port, %i[pointer pointer], :uint32
    attach_function :mega_listener_subscribe_queued_pattern, %i[pointer string uint32 pointer], :uint32
    attach_function :mega_listener_run, [:pointer], :uint32, blocking: true
    attach_function :mega_listener_stop, [:pointer], :void
    attach_function :mega_listener_is_running, %i[pointer pointer], :uint32
    attach_function :mega_listener_stats_json, %i[pointer pointer], :uint32
    attach_function :mega_listener_next_delivery, %i[pointer int64 pointer], :uint32, blocking: true
    attach_function :mega_delivery_message, %i[pointer pointer], :uint32
    attach_function :mega_delivery_subscriber, %i[pointer pointer], :uint32
    attach_function :mega_delivery_complete, %i[pointer uint32 pointer], :uint32
    attach_function :mega_delivery_free, [:pointer], :void
    attach_function :mega_message_json, %i[pointer pointer], :uint32
    attach_function :mega_message_id, %i[pointer pointer], :uint32
    attach_function :mega_message_receive_count, %i[pointer pointer], :uint32
    attach_function :mega_message_attributes_json, %i[pointer pointer], :uint32
    attach_function :mega_message_traceparent, %i[pointer pointer], :uint32
    attach_function :mega_message_parent_traceparent, %i[pointer pointer], :uint32
    attach_function :mega_local_start, %i[string uint16 pointer], :uint32, blocking: true
    attach_function :mega_local_url, [:pointer], :string
    attach_function :mega_local_free, [:pointer], :void, blocking: true

    LISTENER_OPTIONS = {
      max_number_of_messages: 0, wait_time_seconds: 1, visibility_timeout: 2, pollers: 3, max_in_flight: 4,
      heartbeat: 5, shutdown_grace_ms: 6, delete_linger_ms: 7, retry_base_ms: 8, retry_max_ms: 9,
      handle_signals: 10, keep_unmatched: 11
    }.freeze
    # Settings given as text (mega_listener_set_text).
    LISTENER_TEXT_OPTIONS = { completion_store: 12, metrics_addr: 13, idempotency_key: 14 }.freeze
    SUBSCRIBER_KINDS = { event: 0, data: 1, message: 2 }.freeze
    STATUSES = { done: 1, retry_later: 2, fatal_error: 3, retriable_error: 4 }.freeze

    module_function

    # Raises the library's last error as the exception class of its code's family when `rc` is not OK.
    def check(rc)
      return if rc.zero?

      category = FFI::MemoryPointer.new(:pointer)
      klass = mega_last_error_class(category)
      raise SqsMega.error_from(mega_last_error_code_name, mega_last_error_message, mega_last_error_detail,
                               klass, category.read_pointer.read_string)
    end

    # Calls a function whose last argument is an out-pointer, checks the result, returns the pointer written.
    def out_pointer
      out = FFI::MemoryPointer.new(:pointer)
      check(yield(out))
      out.read_pointer
    end

    # A string the library allocated (char **), copied and freed.
    def owned_string
      ptr = out_pointer { |out| yield(out) }
      return nil if ptr.null?

      begin
        ptr.read_string.force_encoding(Encoding::UTF_8)
      ensure
        mega_string_free(ptr)
      end
    end

    def borrowed_str
      s = Str.new
      check(yield(s.pointer))
      s.to_s
    end
  end
end
