package io.sqsmega;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The seed's pattern helpers, as static methods: {@code eq gt gte lt lte match oneOf not and or any empty},
 * plus {@code date(LocalDate)} (day precision) and {@code where(Predicate)} for Java predicates. Maps are
 * partial matches, lists lists. They build the core's JSON pattern format (docs/patterns.md).
 */
public final class Patterns {
  private Patterns() {}

  /** A pattern function and its arguments. */
  public record Function(String op, List<Object> args) {}

  /** A Java predicate in a pattern: called with the payload value when the matcher reaches it. */
  public record Where(Predicate<Object> predicate) {}

  /** A calendar date (day precision). */
  public record DateOnly(LocalDate date) {}

  public static Function eq(Object v) { return new Function("eq", List.of(v)); }
  public static Function gt(Object v) { return new Function("gt", List.of(v)); }
  public static Function gte(Object v) { return new Function("gte", List.of(v)); }
  public static Function lt(Object v) { return new Function("lt", List.of(v)); }
  public static Function lte(Object v) { return new Function("lte", List.of(v)); }
  public static Function match(String regex) { return new Function("match", List.of(regex)); }
  public static Function match(Pattern regex) { return match(regex.pattern()); }
  public static Function oneOf(Object... options) { return new Function("one_of", Arrays.asList(options)); }
  public static Function not(Object pattern) { return new Function("not", List.of(pattern)); }
  public static Function and(Object... patterns) { return new Function("and", Arrays.asList(patterns)); }
  public static Function or(Object... patterns) { return new Function("or", Arrays.asList(patterns)); }
  public static Function any() { return new Function("any", List.of()); }
  public static Function empty() { return new Function("empty", List.of()); }
  public static DateOnly date(LocalDate d) { return new DateOnly(d); }
  public static DateOnly date(String isoDate) { return new DateOnly(LocalDate.parse(isoDate)); }
  public static Where where(Predicate<Object> predicate) { return new Where(predicate); }

  /** A map pattern from key/value pairs: {@code fields("type", "order", "total", gt(100))}. */
  public static Map<String, Object> fields(Object... keyValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i + 1 < keyValues.length; i += 2) m.put(String.valueOf(keyValues[i]), keyValues[i + 1]);
    return m;
  }

  /** The JSON pattern format of a pattern; predicates are appended to {@code predicates} ({@code jvmN}). */
  static Object toJson(Object p, List<Predicate<Object>> predicates) {
    if (p instanceof Function f) {
      List<Object> subs = new ArrayList<>();
      switch (f.op()) {
        case "eq": return Map.of("$eq", literal(f.args().get(0)));
        case "gt": case "gte": case "lt": case "lte": return Map.of("$" + f.op(), literal(f.args().get(0)));
        case "match": return Map.of("$match", f.args().get(0));
        case "not": return Map.of("$not", toJson(f.args().get(0), predicates));
        case "any": return Map.of("$any", true);
        case "empty": return Map.of("$empty", true);
        default:
          for (Object a : f.args()) subs.add(toJson(a, predicates));
          return Map.of("$" + f.op(), subs);
      }
    }
    if (p instanceof Where w) {
      predicates.add(w.predicate());
      return Map.of("$fn", "jvm" + (predicates.size() - 1));
    }
    if (p instanceof DateOnly d) return Map.of("$date", d.date().toString());
    if (p instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : m.entrySet()) out.put(String.valueOf(e.getKey()), toJson(e.getValue(), predicates));
      return out.keySet().stream().anyMatch(k -> k.startsWith("$")) ? Map.of("$map", out) : out;
    }
    if (p instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (Object x : l) out.add(toJson(x, predicates));
      return out;
    }
    return literal(p);
  }

  static Object literal(Object v) {
    if (v instanceof DateOnly d) return Map.of("$date", d.date().toString());
    if (v instanceof LocalDate d) return Map.of("$date", d.toString());
    return Json.tag(v, "$");
  }
}
