package io.sqsmega;

import com.sun.jna.ptr.PointerByReference;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A MEGA event payload: its {@link Event}, an optional {@link ObjectData} and {@code extra}. Build one with
 * {@link #builder()}.
 */
public record Payload(Event event, ObjectData object, Map<String, Object> extra) {
  /** What happened: name, timestamp, version, domain, subject, publisher, attributes. */
  public record Event(String name, Instant timestamp, Long version, String domain, String subject, String publisher,
                      Map<String, Object> attributes) {
    /** An event attribute. */
    public Object attribute(String key) { return attributes.get(key); }
  }

  /** The state of the entity the event is about. */
  public record ObjectData(String type, String id, Long version, Map<String, Object> current, Map<String, Object> previous) {}

  public static Builder builder() { return new Builder(); }

  /** The protocol's map form (what is published). */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("protocol", "mega");
    m.put("version", 1L);
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("name", event.name());
    e.put("timestamp", event.timestamp());
    putIf(e, "version", event.version());
    putIf(e, "domain", event.domain());
    putIf(e, "subject", event.subject());
    putIf(e, "publisher", event.publisher());
    if (event.attributes() != null && !event.attributes().isEmpty()) e.put("attributes", event.attributes());
    m.put("event", e);
    if (object != null) {
      Map<String, Object> o = new LinkedHashMap<>();
      putIf(o, "type", object.type());
      putIf(o, "id", object.id());
      putIf(o, "version", object.version());
      o.put("current", object.current());
      putIf(o, "previous", object.previous());
      m.put("object", o);
    }
    if (extra != null && !extra.isEmpty()) m.put("extra", extra);
    return m;
  }

  private static void putIf(Map<String, Object> m, String k, Object v) {
    if (v != null) m.put(k, v);
  }

  /** A payload from its map form, validated by the core (an InvalidArgumentException names the field). */
  public static Payload fromMap(Map<String, Object> map) {
    PointerByReference out = new PointerByReference();
    NativeLib.check(NativeLib.mega_event_validate(Json.dump(map), out));
    return wrap(Json.load(NativeLib.owned(out.getValue())));
  }

  @SuppressWarnings("unchecked")
  static Payload wrap(Object canonical) {
    Map<String, Object> m = (Map<String, Object>) canonical;
    Map<String, Object> e = (Map<String, Object>) m.get("event");
    Event event = new Event((String) e.get("name"), (Instant) e.get("timestamp"), (Long) e.get("version"),
        (String) e.get("domain"), (String) e.get("subject"), (String) e.get("publisher"),
        (Map<String, Object>) e.getOrDefault("attributes", Map.of()));
    Map<String, Object> o = (Map<String, Object>) m.get("object");
    ObjectData object = o == null ? null : new ObjectData((String) o.get("type"), (String) o.get("id"), (Long) o.get("version"),
        (Map<String, Object>) o.get("current"), (Map<String, Object>) o.get("previous"));
    return new Payload(event, object, (Map<String, Object>) m.getOrDefault("extra", Map.of()));
  }

  /** Builds a MEGA event: {@code event(...)} fields, attributes, {@code object...}, {@code extra}, then build(). */
  public static final class Builder {
    private final Map<String, Object> event = new LinkedHashMap<>();
    private final Map<String, Object> attributes = new LinkedHashMap<>();
    private Map<String, Object> object;
    private final Map<String, Object> extra = new LinkedHashMap<>();

    public Builder name(String v) { event.put("name", v); return this; }
    public Builder domain(String v) { event.put("domain", v); return this; }
    public Builder version(long v) { event.put("version", v); return this; }
    public Builder subject(String v) { event.put("subject", v); return this; }
    public Builder publisher(String v) { event.put("publisher", v); return this; }
    public Builder timestamp(Instant v) { event.put("timestamp", v); return this; }
    public Builder attribute(String k, Object v) { attributes.put(k, v); return this; }

    public Builder object(String type, String id, Long version, Map<String, Object> current, Map<String, Object> previous) {
      object = new LinkedHashMap<>();
      putIf(object, "type", type);
      putIf(object, "id", id);
      putIf(object, "version", version);
      object.put("current", current);
      putIf(object, "previous", previous);
      return this;
    }

    public Builder current(Map<String, Object> current) { return object(null, null, null, current, null); }
    public Builder extra(String k, Object v) { extra.put(k, v); return this; }

    public Payload build() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("protocol", "mega");
      m.put("version", 1L);
      Map<String, Object> e = new LinkedHashMap<>(event);
      e.putIfAbsent("timestamp", Instant.ofEpochMilli(System.currentTimeMillis()));
      if (!attributes.isEmpty()) e.put("attributes", attributes);
      m.put("event", e);
      if (object != null) m.put("object", object);
      if (!extra.isEmpty()) m.put("extra", extra);
      return fromMap(m);
    }
  }
}
