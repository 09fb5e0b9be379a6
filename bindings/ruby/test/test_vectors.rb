# frozen_string_literal: true

require_relative "helper"

# The shared vectors: payload decoding and every pattern (JSON format; the helper-expressible ones with the helpers).
class TestVectors < Minitest::Test
  PAYLOADS = JSON.parse(File.read(File.join(VECTORS, "payloads.json")))["vectors"]
  PATTERNS = JSON.parse(File.read(File.join(VECTORS, "patterns.json")))["vectors"]
  CALLBACKS = {
    "is_even" => ->(v) { v.is_a?(Integer) && v.even? },
    "fails" => ->(_) { raise "always fails" }
  }.freeze

  def untag(v) = SqsMega::Values.untag(v)

  def test_payload_vectors
    PAYLOADS.each do |v|
      body = v["body"] || Base64.strict_decode64(v["body_base64"])
      if v["error"]
        e = assert_raises(SqsMega::DecodeError, v["name"]) { SqsMega.decode(body, v["encoding"]) }
        assert_equal "decode.#{v["error"]["code"]}", e.code, v["name"]
        assert_equal v["error"]["code"], e.detail
        assert_includes e.message, v["error"]["message_contains"]
        next
      end
      d = SqsMega.decode(body, v["encoding"])
      exp = v["expect"]
      assert_equal exp["kind"], d[:kind].to_s, v["name"]
      exp["encoding"].nil? ? assert_nil(d[:encoding], v["name"]) : assert_equal(exp["encoding"], d[:encoding], v["name"])
      payload = d[:payload].is_a?(SqsMega::Payload) ? SqsMega::Values.load(SqsMega::Values.dump(d[:payload].to_h)) : d[:payload]
      want = untag(exp["payload"])
      if want.is_a?(Float) && want.nan?
        assert payload.nan?
      else
        assert_equal want.to_json, payload.to_json, v["name"] unless kinds_match(want, payload)
      end
      assert_equal exp["sns"].nil?, d[:sns].nil?, v["name"]
    end
  end

  def kinds_match(a, b)
    case a
    when Hash then b.is_a?(Hash) && a.keys == b.keys && a.all? { |k, x| kinds_match(x, b[k]) }
    when Array then b.is_a?(Array) && a.size == b.size && a.zip(b).all? { |x, y| kinds_match(x, y) }
    when Float then b.is_a?(Float) && (a.nan? ? b.nan? : a == b)
    else a.class == b.class && a == b
    end
  end

  def test_pattern_vectors_in_json_format
    PATTERNS.each do |v|
      text = JSON.generate(v["pattern"])
      if v.key?("error_path")
        e = assert_raises(SqsMega::PatternError, v["name"]) { SqsMega::Pattern.new(json: text, syntax: v["syntax"], callbacks: CALLBACKS) }
        assert_equal v["error_path"], e.detail, v["name"]
        next
      end
      p = SqsMega::Pattern.new(json: text, syntax: v["syntax"], callbacks: CALLBACKS)
      payload = untag(v["payload"])
      assert_equal v["match"], p.match?(payload), v["name"]
      refute_nil p.explain(payload), v["name"] if v["match"] == false && v.key?("explain_path")
    end
  end

  class Untranslatable < StandardError; end
  H = SqsMega::Patterns
  FUNCS = { "$gt" => :gt, "$gte" => :gte, "$lt" => :lt, "$lte" => :lte, "$match" => :match, "$eq" => :eq }.freeze

  def helpers(p)
    return p.map { |x| helpers(x) } if p.is_a?(Array)
    return p unless p.is_a?(Hash)

    if p.size == 1
      k, v = p.first
      return H.public_send(FUNCS[k], helpers(v)) if FUNCS.key?(k)

      case k
      when "$date" then return Date.iso8601(v) rescue raise Untranslatable
      when "$datetime" then return Time.iso8601(v) rescue raise Untranslatable
      when "$decimal" then return BigDecimal(v)
      when "$one_of", "$in" then return H.one_of(*v.map { |x| helpers(x) })
      when "$not" then return H.not_(helpers(v))
      when "$neq" then return H.not_(H.eq(helpers(v)))
      when "$and" then return H.and_(*v.map { |x| helpers(x) })
      when "$or" then return H.or_(*v.map { |x| helpers(x) })
      when "$any" then return H.any_ if v == true
      when "$empty" then return H.empty if v == true
      when "$fn" then return CALLBACKS.fetch(v) { raise Untranslatable }
      end
    end
    raise Untranslatable if p.keys.any? { |key| key.start_with?("$") }

    p.transform_values { |x| helpers(x) }
  end

  def test_pattern_vectors_with_helpers
    said = 0
    PATTERNS.each do |v|
      next if v["syntax"] != "mega" || v.key?("error_path")

      begin
        pattern = helpers(v["pattern"])
      rescue Untranslatable
        next
      end
      said += 1
      assert_equal v["match"], SqsMega::Pattern.new(pattern).match?(untag(v["payload"])), v["name"]
    end
    assert_operator said, :>=, 130
  end

  def test_typed_errors
    e = assert_raises(SqsMega::PatternError) { SqsMega::Pattern.new({ a: H.gt({ x: 1 }) }) }
    assert_equal "pattern.invalid", e.code
    assert_raises(SqsMega::EncodeError) { SqsMega::Values.dump({ a: Object.new }) }
    e = assert_raises(SqsMega::InvalidArgumentError) { SqsMega::PayloadBuilder.new.with_event(subject: "x").build }
    assert_match(/event\.name/, e.message)
  end
end
