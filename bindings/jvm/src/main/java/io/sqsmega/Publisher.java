package io.sqsmega;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.lang.ref.Cleaner;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Publishes MEGA events ({@link Payload}), data objects ({@code Map}), plaintext ({@code String}) and bytes
 * ({@code byte[]}) to one SQS queue ({@link #sqs}) or SNS topic ({@link #sns}).
 */
public final class Publisher implements AutoCloseable {
  private final Pointer publisher;
  private final Cleaner.Cleanable cleanable;

  /** Options of one message. */
  public static final class Options {
    boolean binaryEncoding;
    String groupId, deduplicationId, subject;
    Integer delaySeconds;
    String traceparent;
    boolean noTrace;
    final Map<String, String[]> attributes = new LinkedHashMap<>();

    public Options binaryEncoding(boolean v) { binaryEncoding = v; return this; }
    public Options groupId(String v) { groupId = v; return this; }
    public Options deduplicationId(String v) { deduplicationId = v; return this; }
    public Options subject(String v) { subject = v; return this; }
    public Options delaySeconds(int v) { delaySeconds = v; return this; }
    /** The trace context to send (default: a new span of the handler running on this thread, else a new trace). */
    public Options traceparent(String v) { traceparent = v; return this; }
    public Options traceparent(TraceContext v) { traceparent = v == null ? null : v.traceparent(); return this; }
    /** Send no traceparent attribute. */
    public Options noTrace(boolean v) { noTrace = v; return this; }
    /** A String attribute (a Number for numbers). */
    public Options attribute(String name, Object value) {
      boolean number = value instanceof Number;
      attributes.put(name, new String[] {number ? "Number" : "String", value instanceof BigDecimal d ? d.toPlainString() : String.valueOf(value)});
      return this;
    }
    public Options attribute(String name, String dataType, String value) { attributes.put(name, new String[] {dataType, value}); return this; }

    Pointer toNative() {
      PointerByReference out = new PointerByReference();
      NativeLib.check(NativeLib.mega_publish_options_new(out));
      Pointer o = out.getValue();
      try {
        NativeLib.check(NativeLib.mega_publish_options_set_binary_encoding(o, binaryEncoding));
        if (groupId != null) NativeLib.check(NativeLib.mega_publish_options_set_group_id(o, groupId));
        if (deduplicationId != null) NativeLib.check(NativeLib.mega_publish_options_set_deduplication_id(o, deduplicationId));
        if (subject != null) NativeLib.check(NativeLib.mega_publish_options_set_subject(o, subject));
        if (delaySeconds != null) NativeLib.check(NativeLib.mega_publish_options_set_delay_seconds(o, delaySeconds));
        if (traceparent != null) NativeLib.check(NativeLib.mega_publish_options_set_traceparent(o, traceparent));
        if (noTrace) NativeLib.check(NativeLib.mega_publish_options_set_no_trace(o, true));
        for (Map.Entry<String, String[]> e : attributes.entrySet()) {
          NativeLib.check(NativeLib.mega_publish_options_add_attribute(o, e.getKey(), e.getValue()[0], e.getValue()[1]));
        }
        return o;
      } catch (RuntimeException e) {
        NativeLib.mega_publish_options_free(o);
        throw e;
      }
    }
  }

  public static Options options() { return new Options(); }

  public static Publisher sqs(String queueUrl, Aws aws) { return new Publisher(true, queueUrl, aws); }
  public static Publisher sns(String topicArn, Aws aws) { return new Publisher(false, topicArn, aws); }

  private Publisher(boolean queue, String address, Aws aws) {
    Pointer settings = aws.toNative();
    try {
      PointerByReference out = new PointerByReference();
      NativeLib.check(queue ? NativeLib.mega_sqs_publisher_new(settings, address, out) : NativeLib.mega_sns_publisher_new(settings, address, out));
      publisher = out.getValue();
    } finally {
      NativeLib.mega_settings_free(settings);
    }
    Pointer p = publisher;
    cleanable = CompiledPattern.CLEANER.register(this, () -> NativeLib.mega_publisher_free(p));
  }

  public String publish(Object payload) { return publish(payload, new Options()); }

  /** Publishes one payload: its message id. */
  public String publish(Object payload, Options options) {
    Pointer o = options.toNative();
    try {
      PointerByReference id = new PointerByReference();
      int rc;
      if (payload instanceof Payload p) rc = NativeLib.mega_publisher_publish_json(publisher, Json.dump(p.toMap()), o, id);
      else if (payload instanceof Map<?, ?> m) rc = NativeLib.mega_publisher_publish_json(publisher, Json.dump(m), o, id);
      else if (payload instanceof String s) rc = NativeLib.mega_publisher_publish_plaintext(publisher, s, o, id);
      else if (payload instanceof byte[] b) rc = NativeLib.mega_publisher_publish_binary(publisher, b, b.length, o, id);
      else throw MegaException.invalid("cannot publish a " + (payload == null ? "null" : payload.getClass().getName())
            + ": a payload is a Payload, a Map, a String or a byte[]");
      NativeLib.check(rc);
      return NativeLib.owned(id.getValue());
    } finally {
      NativeLib.mega_publish_options_free(o);
    }
  }

  /** Sends a body exactly as given, without the mega.encoding attribute (for consumers outside sqs-mega). */
  public String publishRaw(String body) {
    Pointer o = new Options().toNative();
    try {
      PointerByReference id = new PointerByReference();
      NativeLib.check(NativeLib.mega_publisher_publish_raw(publisher, body, o, id));
      return NativeLib.owned(id.getValue());
    } finally {
      NativeLib.mega_publish_options_free(o);
    }
  }

  /** Publishes many events or data objects, ten per request: a message id or the MegaException per entry. */
  public List<Object> publishBatch(List<?> payloads, Options options) {
    PointerByReference b = new PointerByReference();
    NativeLib.check(NativeLib.mega_batch_new(b));
    Pointer batch = b.getValue();
    Pointer o = options.toNative();
    try {
      for (Object p : payloads) {
        Object map = p instanceof Payload pl ? pl.toMap() : p;
        if (!(map instanceof Map<?, ?>)) throw MegaException.invalid("a batch holds Payloads and Maps");
        NativeLib.check(NativeLib.mega_batch_add_json(batch, Json.dump(map), o));
      }
      PointerByReference r = new PointerByReference();
      NativeLib.check(NativeLib.mega_publisher_publish_batch(publisher, batch, r));
      try {
        LongByReference len = new LongByReference();
        NativeLib.check(NativeLib.mega_batch_result_len(r.getValue(), len));
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < len.getValue(); i++) {
          NativeLib.Str id = new NativeLib.Str();
          try {
            NativeLib.check(NativeLib.mega_batch_result_entry(r.getValue(), i, id));
            id.read();
            out.add(id.text());
          } catch (MegaException e) {
            out.add(e);
          }
        }
        return out;
      } finally {
        NativeLib.mega_batch_result_free(r.getValue());
      }
    } finally {
      NativeLib.mega_publish_options_free(o);
      NativeLib.mega_batch_free(batch);
    }
  }

  @Override
  public void close() { cleanable.clean(); }
}
