# frozen_string_literal: true

module SqsMega
  # The pattern helpers of the seed: `eq gt gte lt lte match one_of not_ and_ or_ any_ empty`, plus hashes
  # (partial matches), arrays, `Time`, `Date` (day precision), and lambdas or procs as predicates. They build
  # the core's JSON pattern format (docs/patterns.md); the core compiles and matches it.
  module Patterns
    # A pattern function and its arguments.
    Function = Struct.new(:op, :args)

    module_function

    def eq(value) = Function.new("eq", [value])
    def gt(value) = Function.new("gt", [value])
    def gte(value) = Function.new("gte", [value])
    def lt(value) = Function.new("lt", [value])
    def lte(value) = Function.new("lte", [value])
    def match(regex) = Function.new("match", [regex.is_a?(Regexp) ? regex.source : regex])
    def one_of(*options) = Function.new("one_of", options)
    def not_(pattern) = Function.new("not", [pattern])
    def and_(*patterns) = Function.new("and", patterns)
    def or_(*patterns) = Function.new("or", patterns)
    def any_ = Function.new("any", [])
    def empty = Function.new("empty", [])

    # The JSON pattern format of a pattern; predicates are appended to `predicates` and named `rbN`.
    def to_json_pattern(p, predicates)
      case p
      when Function
        sub = ->(x) { to_json_pattern(x, predicates) }
        case p.op
        when "eq" then { "$eq" => literal(p.args[0]) }
        when "gt", "gte", "lt", "lte" then { "$#{p.op}" => literal(p.args[0]) }
        when "match" then { "$match" => p.args[0] }
        when "one_of" then { "$one_of" => p.args.map(&sub) }
        when "not" then { "$not" => sub.call(p.args[0]) }
        when "and" then { "$and" => p.args.map(&sub) }
        when "or" then { "$or" => p.args.map(&sub) }
        when "any" then { "$any" => true }
        when "empty" then { "$empty" => true }
        end
      when Proc, Method
        predicates << p
        { "$fn" => "rb#{predicates.size - 1}" }
      when Hash
        out = p.each_with_object({}) { |(k, v), h| h[k.to_s] = to_json_pattern(v, predicates) }
        out.keys.any? { |k| k.start_with?("$") } ? { "$map" => out } : out
      when Array then p.map { |x| to_json_pattern(x, predicates) }
      else literal(p)
      end
    end

    def literal(v)
      case v
      when Date then v.is_a?(DateTime) ? Values.tag(v, "$") : { "$date" => v.iso8601 }
      when Hash then v.each_with_object({}) { |(k, x), h| h[k.to_s] = literal(x) }
      when Array then v.map { |x| literal(x) }
      else Values.tag(v, "$")
      end
    end
  end

  # A compiled pattern (owns the native pattern and the predicates it calls).
  class Pattern
    attr_reader :json

    # `pattern`: helpers, hashes, lambdas...; `json:` a pattern text of the JSON format instead;
    # `syntax:` `:mega` or `:eventbridge`; `callbacks:` named predicates for `{"$fn": name}`.
    def initialize(pattern = nil, json: nil, syntax: :mega, callbacks: {})
      @predicates = []
      @json = json || JSON.generate(Patterns.to_json_pattern(pattern, @predicates))
      named = callbacks.map { |k, f| [k.to_s, f] } + @predicates.each_with_index.map { |f, i| ["rb#{i}", f] }
      @functions = named.map do |name, f|
        [name, FFI::Function.new(:bool, %i[pointer pointer], blocking: true) do |_data, value|
          begin
            text = Native.owned_string { |out| Native.mega_value_to_json(value, true, out) }
            f.call(Values.load(text)) ? true : false
          rescue StandardError
            false # a predicate that raises is no match
          end
        end]
      end
      callbacks_ptr = FFI::Pointer::NULL
      unless @functions.empty?
        callbacks_ptr = Native.out_pointer { |out| Native.mega_callbacks_new(out) }
        @functions.each { |name, fn| Native.check(Native.mega_callbacks_add(callbacks_ptr, name, fn, nil)) }
      end
      begin
        syntax_code = { mega: 0, eventbridge: 1 }.fetch(syntax.to_sym) { raise InvalidArgumentError.new("unknown syntax #{syntax}", code: "invalid_argument") }
        ptr = Native.out_pointer { |out| Native.mega_pattern_compile(@json, syntax_code, callbacks_ptr, out) }
      ensure
        Native.mega_callbacks_free(callbacks_ptr) unless callbacks_ptr.null?
      end
      @native = FFI::AutoPointer.new(ptr, Native.method(:mega_pattern_free))
    end

    def to_ptr = @native

    # Does the value (a Hash, Array, any payload value) match?
    def match?(value)
      with_value(value) do |v|
        out = FFI::MemoryPointer.new(:bool)
        Native.check(Native.mega_pattern_matches(@native, v, out))
        out.read(:bool)
      end
    end
    alias matches? match?

    # Why the value does not match (nil when it does).
    def explain(value)
      with_value(value) do |v|
        why = FFI::MemoryPointer.new(:pointer)
        path = FFI::MemoryPointer.new(:pointer)
        Native.check(Native.mega_pattern_explain(@native, v, why, path))
        w = why.read_pointer
        next nil if w.null?

        begin
          w.read_string.force_encoding(Encoding::UTF_8)
        ensure
          Native.mega_string_free(w)
          Native.mega_string_free(path.read_pointer) unless path.read_pointer.null?
        end
      end
    end

    private

    def with_value(value)
      v = Native.out_pointer { |out| Native.mega_value_parse_json(Values.dump(value), true, out) }
      begin
        yield v
      ensure
        Native.mega_value_free(v)
      end
    end
  end

  # The seed's evaluator: does `lhs` (a payload value) match the pattern `rhs`?
  def self.evaluate(lhs, rhs) = Pattern.new(rhs).match?(lhs)
end
