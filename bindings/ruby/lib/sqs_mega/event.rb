# frozen_string_literal: true

module SqsMega
  # A MEGA event payload: `event` (name, timestamp, version, domain, subject, publisher, attributes),
  # `object` (type, id, version, current, previous) and `extra`. `payload.event.item_id` reads an attribute.
  class Payload
    Event = Struct.new(:name, :timestamp, :version, :domain, :subject, :publisher, :attributes, keyword_init: true) do
      def method_missing(name, *args)
        key = name.to_s
        return attributes[key] if args.empty? && attributes&.key?(key)

        super
      end

      def respond_to_missing?(name, include_private = false)
        attributes&.key?(name.to_s) || super
      end
    end
    ObjectData = Struct.new(:type, :id, :version, :current, :previous, keyword_init: true)

    attr_reader :event, :object, :extra

    def initialize(event, object = nil, extra = {})
      @event = event
      @object = object
      @extra = extra
    end

    # The protocol's map form (what is published).
    def to_h
      h = { "protocol" => "mega", "version" => 1, "event" => compact(event.to_h) }
      h["object"] = compact(object.to_h) if object
      h["extra"] = extra unless extra.nil? || extra.empty?
      h
    end

    def ==(other) = other.is_a?(Payload) && other.to_h == to_h

    # A payload from its map form, validated by the core (InvalidArgumentError naming the field).
    def self.from_h(map)
      wrap("mega", Values.load(Native.owned_string { |out| Native.mega_event_validate(Values.dump(map), out) }))
    end

    def self.wrap(kind, value)
      return value unless kind == "mega"

      e = value["event"]
      event = Event.new(name: e["name"], timestamp: e["timestamp"], version: e["version"], domain: e["domain"],
                        subject: e["subject"], publisher: e["publisher"], attributes: e["attributes"] || {})
      o = value["object"]
      object = o && ObjectData.new(type: o["type"], id: o["id"], version: o["version"], current: o["current"], previous: o["previous"])
      new(event, object, value["extra"] || {})
    end

    private

    def compact(h)
      h.each_with_object({}) do |(k, v), out|
        next if v.nil? || (k == :attributes && v.empty?)

        out[k.to_s] = v
      end
    end
  end

  # Builds a MEGA event as the seed shows: `with_event(name:, subject:, item_id: ...)` (names that are not
  # event fields become attributes), `with_object(current:, ...)`, `with_extra(...)`, `build`.
  class PayloadBuilder
    EVENT_FIELDS = %i[name timestamp version domain subject publisher].freeze
    OBJECT_FIELDS = %i[type id version current previous].freeze

    def initialize
      @event = nil
      @object = nil
      @extra = {}
    end

    def with_event(**fields)
      attributes = (fields.delete(:attributes) || {}).transform_keys(&:to_s)
      event = {}
      fields.each { |k, v| EVENT_FIELDS.include?(k) ? event[k.to_s] = v : attributes[k.to_s] = v }
      event["attributes"] = attributes unless attributes.empty?
      @event = event
      self
    end

    def with_object(**fields)
      unknown = fields.keys - OBJECT_FIELDS
      raise InvalidArgumentError.new("object has no field #{unknown.first} (fields: #{OBJECT_FIELDS.join(", ")})", code: "event.invalid") unless unknown.empty?

      @object = fields.transform_keys(&:to_s)
      self
    end

    def with_extra(**values)
      @extra.merge!(values.transform_keys(&:to_s))
      self
    end

    def build
      h = { "protocol" => "mega", "version" => 1 }
      h["event"] = { "timestamp" => Time.at(Time.now.to_r.floor(3)).utc }.merge(@event) if @event
      h["object"] = @object if @object
      h["extra"] = @extra unless @extra.empty?
      Payload.from_h(h)
    end
  end
end
