# frozen_string_literal: true

module SqsMega
  # A subscriber to every payload (MEGA events, data objects, plaintext, bytes), in the seed's style:
  #
  #   class Everything < SqsMega::MessageSubscriber
  #     retry_on Timeout::Error
  #     def process(payload, message) = :done
  #   end
  #
  # `process(payload)` or `process(payload, message)` returns nil or :done, :retry_later, :fatal_error,
  # :retriable_error. Raising SqsMega::RetriableError or a class given to `retry_on` is :retriable_error;
  # raising anything else is :fatal_error.
  class MessageSubscriber
    extend Patterns

    class << self
      def kind = :message

      # A partial-match pattern (a Hash of helpers, values, lambdas); none takes every payload of the kind.
      def pattern(value = nil)
        @pattern = value unless value.nil?
        defined?(@pattern) ? @pattern : (superclass.respond_to?(:pattern) ? superclass.pattern : nil)
      end

      def retry_on(*classes)
        @retry_on = retry_on_classes + classes unless classes.empty?
        retry_on_classes
      end

      def retry_on_classes
        own = defined?(@retry_on) ? @retry_on : []
        inherited = superclass.respond_to?(:retry_on_classes) ? superclass.retry_on_classes : []
        (inherited + own).uniq
      end

      # The core pattern (nil: everything of the kind).
      def compiled_pattern
        pattern.nil? ? nil : Pattern.new(pattern)
      end
    end

    def process(_payload)
      raise NotImplementedError, "#{self.class} must define process(payload)"
    end
  end

  # A subscriber to data objects (JSON objects that are not MEGA events): `pattern type: match(...)`.
  class DataSubscriber < MessageSubscriber
    def self.kind = :data
  end

  # A subscriber to MEGA events, matched by the seed's class attributes:
  #
  #   class ItemAdded < SqsMega::EventSubscriber
  #     domain "shopping_cart"
  #     name "item.added"
  #     version one_of(1, 2)
  #     attributes item_id: not_(empty), quantity: gt(0)
  #     def process(payload) = :done
  #   end
  #
  # Rules: event_name/name, event_domain/domain, event_version/version, event_timestamp/timestamp,
  # event_subject/subject, event_publisher/publisher, event_attributes/attributes, object_type,
  # object_version, object_id, object_current/current_object, object_previous/previous_object. When a rule
  # and its alias are both given, the alias is ignored. (`name` with no argument is still the class's name.)
  class EventSubscriber < MessageSubscriber
    RULES = {
      event_name: :name, event_domain: :domain, event_version: :version, event_timestamp: :timestamp,
      event_subject: :subject, event_publisher: :publisher, event_attributes: :attributes,
      object_type: nil, object_version: nil, object_id: nil, object_current: :current_object,
      object_previous: :previous_object
    }.freeze

    class << self
      def kind = :event

      def rules
        own = defined?(@rules) ? @rules : {}
        (superclass.respond_to?(:rules) ? superclass.rules : {}).merge(own)
      end

      RULES.each do |rule, alias_name|
        define_method(rule) do |*args|
          return rules[rule] if args.empty?

          (@rules ||= {})[rule] = args.first
        end
        next if alias_name.nil? || alias_name == :name

        define_method(alias_name) do |*args|
          return rules[alias_name] if args.empty?

          (@rules ||= {})[alias_name] = args.first
        end
      end

      # `name "item.added"` sets the rule; `name` alone is the class's name, as for every Ruby class.
      def name(*args)
        return super() if args.empty?

        (@rules ||= {})[:name] = args.first
      end

      def compiled_pattern
        r = rules
        out = {}
        RULES.each do |rule, alias_name|
          value = r.key?(rule) ? r[rule] : (alias_name && r[alias_name])
          out[rule.to_s] = value unless value.nil?
        end
        return nil if out.empty?

        predicates = []
        json = { "$event" => out.transform_values { |v| Patterns.to_json_pattern(v, predicates) } }
        Pattern.new(nil, json: JSON.generate(json), callbacks: predicates.each_with_index.to_h { |f, i| ["rb#{i}", f] })
      end
    end
  end
end
