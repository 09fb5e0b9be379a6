package io.sqsmega;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A subscriber: a name, the payloads it takes and its handler. {@code Subscriber.event()} matches MEGA events
 * by the seed's rules, {@code Subscriber.data()} data objects by a partial pattern, {@code Subscriber.message()}
 * every payload. A handler returns a {@link ProcessStatus} (null is DONE); throwing {@link RetriableException}
 * or a declared {@code retryOn} type is RETRIABLE_ERROR, any other Throwable FATAL_ERROR.
 */
public final class Subscriber {
  /** A handler: the payload (a {@link Payload}, a {@code Map}, a {@code String} or a {@code byte[]}) and its message. */
  @FunctionalInterface
  public interface Handler<P> {
    ProcessStatus handle(P payload, Message message) throws Exception;
  }

  final String name;
  final int kind;
  final Object pattern; // helpers / map, or for events a map of rules
  final Handler<Object> handler;
  final List<Class<? extends Throwable>> retryOn;

  private Subscriber(String name, int kind, Object pattern, Handler<Object> handler, List<Class<? extends Throwable>> retryOn) {
    this.name = name;
    this.kind = kind;
    this.pattern = pattern;
    this.handler = handler;
    this.retryOn = retryOn;
  }

  public static EventBuilder event() { return new EventBuilder(); }
  public static DataBuilder data() { return new DataBuilder(0); }
  public static DataBuilder message() { return new DataBuilder(2); }

  abstract static class Base<B extends Base<B>> {
    String name;
    final List<Class<? extends Throwable>> retryOn = new ArrayList<>();

    @SuppressWarnings("unchecked")
    public B name(String n) { this.name = n; return (B) this; }

    /** Exception types that mean "try again later" (RETRIABLE_ERROR) for this subscriber. */
    @SuppressWarnings("unchecked")
    public B retryOn(List<Class<? extends Throwable>> types) { retryOn.addAll(types); return (B) this; }

    @SuppressWarnings("unchecked")
    public B retryOn(Class<? extends Throwable> type) { retryOn.add(type); return (B) this; }
  }

  /** Rules of the seed's EventSubscriber: eventName, domain, version, attributes, objectType, objectCurrent... */
  public static final class EventBuilder extends Base<EventBuilder> {
    private final Map<String, Object> rules = new LinkedHashMap<>();

    private EventBuilder rule(String k, Object v) { rules.put(k, v); return this; }
    /** The event's name rule (the subscriber's own name is {@link #name(String)}). */
    public EventBuilder eventName(Object p) { return rule("event_name", p); }
    public EventBuilder domain(Object p) { return rule("event_domain", p); }
    public EventBuilder version(Object p) { return rule("event_version", p); }
    public EventBuilder timestamp(Object p) { return rule("event_timestamp", p); }
    public EventBuilder subject(Object p) { return rule("event_subject", p); }
    public EventBuilder publisher(Object p) { return rule("event_publisher", p); }
    public EventBuilder attributes(Map<String, Object> p) { return rule("event_attributes", p); }
    public EventBuilder objectType(Object p) { return rule("object_type", p); }
    public EventBuilder objectVersion(Object p) { return rule("object_version", p); }
    public EventBuilder objectId(Object p) { return rule("object_id", p); }
    public EventBuilder objectCurrent(Map<String, Object> p) { return rule("object_current", p); }
    public EventBuilder objectPrevious(Map<String, Object> p) { return rule("object_previous", p); }

    @SuppressWarnings("unchecked")
    public Subscriber handler(Handler<Payload> h) {
      Handler<Object> any = (p, m) -> h.handle((Payload) p, m);
      return new Subscriber(name == null ? "event-" + System.identityHashCode(h) : name, 0, rules.isEmpty() ? null : rules, any, retryOn);
    }
  }

  /** A data (or, from {@code message()}, any-payload) subscriber with an optional partial pattern. */
  public static final class DataBuilder extends Base<DataBuilder> {
    private final int which; // 0 data, 2 message
    private Object pattern;

    DataBuilder(int which) { this.which = which; }

    public DataBuilder pattern(Object p) { this.pattern = p; return this; }

    @SuppressWarnings("unchecked")
    public <P> Subscriber handler(Handler<P> h) {
      Handler<Object> any = (p, m) -> h.handle((P) p, m);
      int kind = which == 0 ? 1 : 2;
      return new Subscriber(name == null ? "sub-" + System.identityHashCode(h) : name, kind, pattern, any, retryOn);
    }
  }
}
