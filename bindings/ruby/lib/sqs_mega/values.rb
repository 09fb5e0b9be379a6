# frozen_string_literal: true

module SqsMega
  # Payload values cross the C ABI as tagged JSON (docs/payloads.md): `Time` ⇄ `{"$datetime"}`,
  # `BigDecimal` ⇄ `{"$decimal"}`, binary strings (ASCII-8BIT) ⇄ `{"$bytes"}`, non-finite floats ⇄
  # `{"$float"}`. Symbols (keys and values) are written as strings.
  module Values
    module_function

    def dump(value)
      JSON.generate(tag(value, "$"))
    end

    def tag(v, path)
      case v
      when Hash then v.each_with_object({}) { |(k, x), h| h[k.to_s] = tag(x, "#{path}.#{k}") }
      when Array then v.each_with_index.map { |x, i| tag(x, "#{path}[#{i}]") }
      when Time then { "$datetime" => v.utc.iso8601(3) }
      when DateTime then { "$datetime" => v.to_time.utc.iso8601(3) }
      when Date then { "$datetime" => Time.utc(v.year, v.month, v.day).iso8601(3) }
      when BigDecimal then { "$decimal" => v.to_s("F") }
      when Float then v.finite? ? v : { "$float" => v.nan? ? "NaN" : (v.positive? ? "Infinity" : "-Infinity") }
      when Integer, TrueClass, FalseClass, NilClass then v
      when Symbol then v.to_s
      when String
        if v.encoding == Encoding::BINARY
          { "$bytes" => Base64.strict_encode64(v) }
        else
          v.encode(Encoding::UTF_8)
        end
      else
        raise EncodeError.new("#{path}: a #{v.class} has no payload form (use Hash, Array, String, Integer, Float, " \
                              "BigDecimal, true/false, nil, Time)", code: "encode.json", category: "bad_input", detail: path)
      end
    end

    def load(text)
      untag(JSON.parse(text))
    end

    def untag(v)
      case v
      when Hash
        if v.size == 1
          k, x = v.first
          case k
          when "$datetime" then return Time.iso8601(x)
          when "$decimal" then return BigDecimal(x)
          when "$bytes" then return Base64.strict_decode64(x)
          when "$float" then return Float(x == "Infinity" ? "Infinity" : x) rescue return Float::NAN
          end
        end
        v.transform_values { |x| untag(x) }
      when Array then v.map { |x| untag(x) }
      else v
      end
    end
  end

  # Decodes any SQS body: `{kind:, encoding:, payload:, sns:}` (a MEGA event's payload is a Payload).
  def self.decode(body, encoding = nil)
    bytes = body.b
    ptr = FFI::MemoryPointer.from_string(bytes)
    decoded = Native.out_pointer { |out| Native.mega_decode_bytes(ptr, bytes.bytesize, encoding, out) }
    begin
      d = Values.load(Native.borrowed_str { |s| Native.mega_decoded_json(decoded, s) })
      { kind: d["kind"].to_sym, encoding: d["encoding"], payload: Payload.wrap(d["kind"], d["payload"]), sns: d["sns"] }
    ensure
      Native.mega_decoded_free(decoded)
    end
  end
end
