package io.sqsmega;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Payload values cross the C ABI as tagged JSON (docs/payloads.md): {@code Instant} for date-times,
 * {@code byte[]} for bytes, {@code BigDecimal} for exact decimals; maps are {@code Map<String, Object>}, lists
 * {@code List<Object>}, integers {@code Long} (or {@code BigInteger}), floats {@code Double}.
 */
final class Json {
  private Json() {}

  private static final ObjectMapper MAPPER =
      new ObjectMapper().enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS);

  static String dump(Object value) {
    try {
      return MAPPER.writeValueAsString(tag(value, "$"));
    } catch (JsonProcessingException e) {
      throw new MegaException.EncodeException(e.getMessage(), "encode.json", "bad_input", null);
    }
  }

  static Object tag(Object v, String path) {
    if (v == null || v instanceof Boolean || v instanceof String || v instanceof Integer || v instanceof Long
        || v instanceof Short || v instanceof Byte || v instanceof BigInteger) return v;
    if (v instanceof Double d) return d.isNaN() || d.isInfinite() ? Map.of("$float", d.toString()) : d;
    if (v instanceof Float f) return tag(f.doubleValue(), path);
    if (v instanceof BigDecimal d) return Map.of("$decimal", d.toPlainString());
    if (v instanceof Instant i) return Map.of("$datetime", i.toString());
    if (v instanceof OffsetDateTime o) return Map.of("$datetime", o.toInstant().toString());
    if (v instanceof ZonedDateTime z) return Map.of("$datetime", z.toInstant().toString());
    if (v instanceof byte[] b) return Map.of("$bytes", Base64.getEncoder().encodeToString(b));
    if (v instanceof Enum<?> e) return e.name();
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : m.entrySet()) {
        String k = String.valueOf(e.getKey());
        out.put(k, tag(e.getValue(), path + "." + k));
      }
      return out;
    }
    if (v instanceof Collection<?> c) {
      List<Object> out = new ArrayList<>();
      int i = 0;
      for (Object x : c) out.add(tag(x, path + "[" + i++ + "]"));
      return out;
    }
    if (v instanceof LocalDate) {
      throw MegaException.invalid(path + ": a LocalDate is a pattern literal (Patterns.date), not a payload value");
    }
    throw new MegaException.EncodeException(
        path + ": a " + v.getClass().getName() + " has no payload form (use Map, List, String, numbers, Boolean, null, Instant, byte[])",
        "encode.json", "bad_input", path);
  }

  static Object load(String text) {
    try {
      return untag(MAPPER.readValue(text, Object.class));
    } catch (JsonProcessingException e) {
      throw new MegaException.JsonException(e.getOriginalMessage(), "json.syntax", "bad_input", null);
    }
  }

  @SuppressWarnings("unchecked")
  static Object untag(Object v) {
    if (v instanceof Map<?, ?> m) {
      if (m.size() == 1) {
        Map.Entry<?, ?> e = m.entrySet().iterator().next();
        Object x = e.getValue();
        switch ((String) e.getKey()) {
          case "$datetime": return Instant.parse((String) x);
          case "$decimal": return new BigDecimal((String) x);
          case "$bytes": return Base64.getDecoder().decode((String) x);
          case "$float": return Double.valueOf(x.toString());
          default: break;
        }
      }
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) out.put(e.getKey(), untag(e.getValue()));
      return out;
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>(l.size());
      for (Object x : l) out.add(untag(x));
      return out;
    }
    if (v instanceof BigInteger b && b.bitLength() < 64) return b.longValue();
    return v;
  }
}
