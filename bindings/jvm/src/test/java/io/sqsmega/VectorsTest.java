package io.sqsmega;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.util.*;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** The shared vectors: payload decoding and every pattern vector (JSON format), as the C tests read them. */
class VectorsTest {
  static final File ROOT = new File(System.getProperty("sqsmega.root"));
  static final ObjectMapper MAPPER = new ObjectMapper();
  static final Map<String, Predicate<Object>> CALLBACKS = Map.of(
      "is_even", v -> v instanceof Long l && l % 2 == 0,
      "fails", v -> { throw new IllegalStateException("always fails"); });

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> vectors(String file) throws Exception {
    return (List<Map<String, Object>>) MAPPER.readValue(new File(ROOT, "tests/vectors/" + file), Map.class).get("vectors");
  }

  @SuppressWarnings("unchecked")
  @Test void payloads() throws Exception {
    for (Map<String, Object> v : vectors("payloads.json")) {
      String name = (String) v.get("name");
      if (!v.containsKey("body")) continue; // bytes that are not UTF-8: a Java String cannot carry them
      String body = (String) v.get("body");
      String encoding = (String) v.get("encoding");
      if (v.containsKey("error")) {
        Map<String, Object> err = (Map<String, Object>) v.get("error");
        MegaException e = assertThrows(MegaException.DecodeException.class, () -> Mega.decode(body, encoding), name);
        assertEquals("decode." + err.get("code"), e.code(), name);
        assertEquals(err.get("code"), e.detail(), name);
        assertTrue(e.getMessage().contains((String) err.get("message_contains")), name);
        continue;
      }
      Mega.Decoded d = Mega.decode(body, encoding);
      Map<String, Object> exp = (Map<String, Object>) v.get("expect");
      assertEquals(exp.get("kind"), d.kind(), name);
      assertEquals(exp.get("encoding"), d.encoding(), name);
      Object payload = d.payload() instanceof Payload p ? Json.load(Json.dump(p.toMap())) : d.payload();
      Object want = Json.untag(Json.load(MAPPER.writeValueAsString(exp.get("payload"))));
      assertEquals(Json.dump(want), Json.dump(payload), name);
      assertEquals(exp.get("sns") == null, d.sns() == null, name);
    }
  }

  @SuppressWarnings("unchecked")
  @Test void patterns() throws Exception {
    int n = 0;
    for (Map<String, Object> v : vectors("patterns.json")) {
      String name = (String) v.get("name");
      String text = MAPPER.writeValueAsString(v.get("pattern"));
      String syntax = (String) v.get("syntax");
      if (v.containsKey("error_path")) {
        MegaException e = assertThrows(MegaException.PatternException.class, () -> CompiledPattern.ofJson(text, syntax, CALLBACKS), name);
        assertEquals(v.get("error_path"), e.detail(), name);
        continue;
      }
      try (CompiledPattern p = CompiledPattern.ofJson(text, syntax, CALLBACKS)) {
        Object payload = Json.load(MAPPER.writeValueAsString(v.get("payload")));
        assertEquals(v.get("match"), p.matches(payload), name);
        n++;
      }
    }
    assertTrue(n > 200, "" + n);
  }

  @Test void helpers() {
    assertTrue(CompiledPattern.evaluate(Map.of("a", 7L), Map.of("a", Patterns.and(Patterns.gt(5), Patterns.not(Patterns.gt(10))))));
    assertFalse(CompiledPattern.evaluate(Map.of("a", 13L), Map.of("a", Patterns.and(Patterns.gt(5), Patterns.not(Patterns.gt(10))))));
    assertTrue(CompiledPattern.evaluate(Map.of("c", "2020-03-28T15:23:01"), Map.of("c", Patterns.gte(Patterns.date("2020-01-01")))));
    assertTrue(CompiledPattern.evaluate(Map.of("n", 4L), Map.of("n", Patterns.where(x -> ((Long) x) % 2 == 0))));
    assertFalse(CompiledPattern.evaluate(Map.of("n", 4L), Map.of("n", Patterns.where(x -> { throw new RuntimeException(); }))));
    MegaException e = assertThrows(MegaException.PatternException.class, () -> CompiledPattern.of(Map.of("a", Patterns.gt(Map.of("x", 1)))));
    assertEquals("pattern.invalid", e.code());
    assertThrows(MegaException.InvalidArgumentException.class, () -> Payload.builder().subject("x").build());
  }
}
