package io.sqsmega;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** A compiled pattern (it owns the native pattern and keeps its predicates reachable). */
public final class CompiledPattern implements AutoCloseable {
  static final Cleaner CLEANER = Cleaner.create();

  private final Pointer pattern;
  private final List<NativeLib.Predicate> callbacks = new ArrayList<>();
  private final Cleaner.Cleanable cleanable;
  final String json;

  /** Compiles a pattern of {@link Patterns} helpers, maps, lists, values and predicates. */
  public static CompiledPattern of(Object pattern) {
    List<Predicate<Object>> predicates = new ArrayList<>();
    String json = Json.dump(Patterns.toJson(pattern, predicates));
    Map<String, Predicate<Object>> named = new LinkedHashMap<>();
    for (int i = 0; i < predicates.size(); i++) named.put("jvm" + i, predicates.get(i));
    return new CompiledPattern(json, 0, named);
  }

  /** Compiles a pattern of the JSON pattern format ({@code eventbridge}: EventBridge syntax). */
  public static CompiledPattern ofJson(String json, String syntax, Map<String, Predicate<Object>> callbacks) {
    int s = switch (syntax) {
      case "mega" -> 0;
      case "eventbridge" -> 1;
      default -> throw MegaException.invalid("unknown pattern syntax " + syntax);
    };
    return new CompiledPattern(json, s, callbacks == null ? Map.of() : callbacks);
  }

  CompiledPattern(String json, int syntax, Map<String, Predicate<Object>> named) {
    this.json = json;
    Pointer cbs = null;
    if (!named.isEmpty()) {
      PointerByReference out = new PointerByReference();
      NativeLib.check(NativeLib.mega_callbacks_new(out));
      cbs = out.getValue();
      for (Map.Entry<String, Predicate<Object>> e : named.entrySet()) {
        Predicate<Object> f = e.getValue();
        NativeLib.Predicate cb = (userdata, value) -> {
          try {
            PointerByReference text = new PointerByReference();
            if (NativeLib.mega_value_to_json(value, true, text) != 0) return false;
            return f.test(Json.load(NativeLib.owned(text.getValue())));
          } catch (Throwable t) {
            return false; // a predicate that throws is no match
          }
        };
        NativeLib.initialize(cb);
        callbacks.add(cb);
        NativeLib.check(NativeLib.mega_callbacks_add(cbs, e.getKey(), cb, null));
      }
    }
    try {
      PointerByReference out = new PointerByReference();
      NativeLib.check(NativeLib.mega_pattern_compile(json, syntax, cbs, out));
      this.pattern = out.getValue();
    } finally {
      if (cbs != null) NativeLib.mega_callbacks_free(cbs);
    }
    Pointer p = pattern;
    this.cleanable = CLEANER.register(this, () -> NativeLib.mega_pattern_free(p));
  }

  Pointer pointer() { return pattern; }

  /** Whether a value (Map, List, any payload value) matches. */
  public boolean matches(Object value) {
    PointerByReference v = new PointerByReference();
    NativeLib.check(NativeLib.mega_value_parse_json(Json.dump(value), true, v));
    try {
      IntByReference out = new IntByReference();
      NativeLib.check(NativeLib.mega_pattern_matches(pattern, v.getValue(), out));
      return (out.getValue() & 0xff) != 0;
    } finally {
      NativeLib.mega_value_free(v.getValue());
    }
  }

  /** The seed's evaluator: does {@code lhs} match the pattern {@code rhs}? */
  public static boolean evaluate(Object lhs, Object rhs) {
    try (CompiledPattern p = of(rhs)) {
      return p.matches(lhs);
    }
  }

  @Override
  public void close() { cleanable.clean(); }
}
